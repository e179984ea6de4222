//! macOS Keychain through the keyring project's apple-native store. Not built on Linux CI:
//! kept to the one call that opens it.

use std::sync::Arc;

use keyring_core::CredentialStore;

use super::{Backend, StoreError};

pub fn open() -> Result<Arc<CredentialStore>, StoreError> {
    apple_native_keyring_store::keychain::Store::new()
        .map(|store| store as Arc<CredentialStore>)
        .map_err(|e| StoreError::Unavailable {
            backend: Backend::Keychain,
            reason: e.to_string(),
        })
}
