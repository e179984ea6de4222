//! The keyring project's stores (keyring-core and its platform crates) behind our seam: the
//! macOS Keychain and the Windows Credential Manager are used as the crates give them, and
//! keyutils writes through its crate. Entries are built by a naming function of the backend's,
//! and keyring-core's errors are translated here, where their payload (which can be the secret
//! itself, as in `BadEncoding`) is dropped unread.

#[cfg(any(target_os = "macos", windows))]
pub use crate_keychain::CrateKeychain;

use super::{Backend, StoreError};

/// keyring-core errors, rewritten so that no variant's payload (which may be the secret, as in
/// `BadEncoding`) reaches a message.
pub fn translate(backend: Backend, error: keyring_core::Error) -> StoreError {
    use keyring_core::Error as E;
    let failed = |reason: String| StoreError::Failed { backend, reason };
    match error {
        E::NoStorageAccess(e) => StoreError::Unavailable {
            backend,
            reason: e.to_string(),
        },
        E::PlatformFailure(e) => failed(e.to_string()),
        E::NoEntry => failed("no such entry".into()),
        E::BadEncoding(_) | E::BadDataFormat(..) => failed("a stored entry is not text".into()),
        E::BadStoreFormat(why) => failed(format!("the store is damaged: {why}")),
        E::TooLong(what, max) => failed(format!("{what} is longer than {max}")),
        E::Invalid(what, why) => failed(format!("{what} {why}")),
        E::Ambiguous(entries) => failed(format!("{} entries match", entries.len())),
        E::NoDefaultStore => failed("no store".into()),
        E::NotSupportedByStore(why) => failed(why),
        _ => failed("unexpected keychain error".into()),
    }
}

#[cfg(any(target_os = "macos", windows))]
mod crate_keychain {
    use std::sync::Arc;

    use keyring_core::{CredentialStore, Entry};

    use super::translate;
    use crate::store::{Backend, EntryKey, Keychain, StoreError, stored_token};
    use crate::token::Token;

    /// How a backend names the entry of a key in its crate's store.
    pub type Naming = fn(&CredentialStore, &EntryKey) -> keyring_core::Result<Entry>;

    /// A keyring-crate store as a [`Keychain`].
    pub struct CrateKeychain {
        backend: Backend,
        store: Arc<CredentialStore>,
        naming: Naming,
    }

    impl CrateKeychain {
        pub fn new(backend: Backend, store: Arc<CredentialStore>, naming: Naming) -> Self {
            Self {
                backend,
                store,
                naming,
            }
        }

        fn entry(&self, key: &EntryKey) -> Result<Entry, StoreError> {
            (self.naming)(self.store.as_ref(), key).map_err(|e| translate(self.backend, e))
        }
    }

    impl Keychain for CrateKeychain {
        fn backend(&self) -> Backend {
            self.backend
        }

        fn get(&self, key: &EntryKey) -> Result<Option<Token>, StoreError> {
            match self.entry(key)?.get_secret() {
                Ok(bytes) => stored_token(self.backend, key, bytes).map(Some),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(translate(self.backend, e)),
            }
        }

        fn set(&self, key: &EntryKey, token: &Token) -> Result<(), StoreError> {
            self.entry(key)?
                .set_secret(token.expose().as_bytes())
                .map_err(|e| translate(self.backend, e))
        }

        fn delete(&self, key: &EntryKey) -> Result<bool, StoreError> {
            match self.entry(key)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring_core::Error::NoEntry) => Ok(false),
                Err(e) => Err(translate(self.backend, e)),
            }
        }
    }
}
