//! macOS Keychain through the keyring project's apple-native store (the file-based login
//! keychain, as git's own osxkeychain uses). Each item's service is its label
//! ([`super::naming::item_label`]), which Keychain Access shows as its Name and Where; the
//! account is the host (or host/workspace).

use keyring_core::{CredentialStore, Entry};

use super::keyring_crate::CrateKeychain;
use super::naming::item_label;
use super::{Backend, EntryKey, Keychain, Opening, StoreError};

pub fn open(_: &Opening) -> Result<Box<dyn Keychain>, StoreError> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(|e| {
        StoreError::Unavailable {
            backend: Backend::Keychain,
            reason: e.to_string(),
        }
    })?;
    Ok(Box::new(CrateKeychain::new(Backend::Keychain, store, entry)))
}

fn entry(store: &CredentialStore, key: &EntryKey) -> keyring_core::Result<Entry> {
    store.build(&item_label(key), &key.account(), None)
}
