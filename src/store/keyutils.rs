//! Linux kernel keyutils through the keyring project's store: the key is linked into the
//! session keyring and the user's persistent keyring, so it outlives the login session (a
//! deploy server's ssh logins) but not a reboot, and the kernel drops the persistent keyring
//! after a few days without use (`/proc/sys/kernel/keys/persistent_keyring_expiry`).

use std::sync::Arc;

use keyring_core::CredentialStore;

use super::{Backend, StoreError};

pub fn open() -> Result<Arc<CredentialStore>, StoreError> {
    linux_keyutils_keyring_store::Store::new()
        .map(|store| store as Arc<CredentialStore>)
        .map_err(|e| StoreError::Unavailable {
            backend: Backend::Keyutils,
            reason: e.to_string(),
        })
}
