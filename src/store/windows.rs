//! Windows Credential Manager through the keyring project's windows-native store. Not built on
//! Linux CI: kept to the one call that opens it.

use std::sync::Arc;

use keyring_core::CredentialStore;

use super::{Backend, StoreError};

pub fn open() -> Result<Arc<CredentialStore>, StoreError> {
    windows_native_keyring_store::Store::new()
        .map(|store| store as Arc<CredentialStore>)
        .map_err(|e| StoreError::Unavailable {
            backend: Backend::Wincred,
            reason: e.to_string(),
        })
}
