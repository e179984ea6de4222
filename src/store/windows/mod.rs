//! Windows Credential Manager through the keyring project's windows-native store. Each
//! credential's target name is its label ([`super::naming::item_label`]), the line Credential
//! Manager lists.

use std::collections::HashMap;

use keyring_core::{CredentialStore, Entry};

use super::keyring_crate::CrateKeychain;
use super::naming::item_label;
use super::{Backend, EntryKey, Keychain, Opening, SERVICE, StoreError};

pub fn open(_: &Opening) -> Result<Box<dyn Keychain>, StoreError> {
    let store = windows_native_keyring_store::Store::new().map_err(|e| {
        StoreError::Unavailable {
            backend: Backend::Wincred,
            reason: e.to_string(),
        }
    })?;
    Ok(Box::new(CrateKeychain::new(Backend::Wincred, store, entry)))
}

fn entry(store: &CredentialStore, key: &EntryKey) -> keyring_core::Result<Entry> {
    let label = item_label(key);
    let target = HashMap::from([("target", label.as_str())]);
    store.build(SERVICE, &key.account(), Some(&target))
}
