//! Linux kernel keyutils through the keyring project's store: the key is linked into the
//! session keyring and the user's persistent keyring, so it outlives the login session (a
//! deploy server's ssh logins) but not a reboot, and the kernel drops the persistent keyring
//! after a few days without use (`/proc/sys/kernel/keys/persistent_keyring_expiry`).
//!
//! Writes and deletes go through the keyring crate's store as they are. Reads are our own:
//! the crate re-links the key into the session and persistent keyrings before reading (to
//! restart the persistent keyring's expiry) and fails when that link is refused, so a token the
//! user can read was reported unavailable in a session keyring without write permission, and
//! git prompted for nothing. Here the re-link is best effort and the read is what counts.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use keyring_core::api::{Credential, CredentialApi, CredentialStoreApi};
use keyring_core::{CredentialStore, Entry, Error, Result};
use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};

use super::{Backend, StoreError};

pub fn open() -> std::result::Result<Arc<CredentialStore>, StoreError> {
    let inner =
        linux_keyutils_keyring_store::Store::new().map_err(|e| StoreError::Unavailable {
            backend: Backend::Keyutils,
            reason: e.to_string(),
        })?;
    Ok(Arc::new(KeyutilsStore { inner }))
}

struct KeyutilsStore {
    inner: Arc<linux_keyutils_keyring_store::Store>,
}

impl std::fmt::Debug for KeyutilsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyutilsStore")
    }
}

impl CredentialStoreApi for KeyutilsStore {
    fn vendor(&self) -> String {
        self.inner.vendor()
    }

    fn id(&self) -> String {
        self.inner.id()
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        mods: Option<&HashMap<&str, &str>>,
    ) -> Result<Entry> {
        Ok(Entry::new_with_credential(Arc::new(Key {
            entry: self.inner.build(service, user, mods)?,
            // The crate's default description (prefix `keyring:`, divider `@`, no suffix).
            description: format!("keyring:{user}@{service}"),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct Key {
    entry: Entry,
    description: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// The crate's own mapping of kernel errors, so both paths report alike, in plain words.
fn translate(error: KeyError) -> Error {
    match error {
        KeyError::KeyDoesNotExist | KeyError::KeyRevoked | KeyError::KeyExpired => Error::NoEntry,
        KeyError::AccessDenied => Error::NoStorageAccess(plain_words(&error).into()),
        other => Error::PlatformFailure(plain_words(&other).into()),
    }
}

/// The kernel's key errors print as their variant names; say what they mean instead.
fn plain_words(error: &KeyError) -> String {
    match error {
        KeyError::AccessDenied => "permission denied on the session keyring (see `keyctl show @s`)",
        KeyError::KeyRevoked => {
            "the session keyring was revoked; log in again or start a new session"
        }
        KeyError::KeyExpired => {
            "the session keyring has expired; log in again or start a new session"
        }
        KeyError::QuotaExceeded => {
            "the kernel's key quota for this user is full (see /proc/key-users)"
        }
        other => return other.to_string(),
    }
    .to_owned()
}

/// Errors from the crate's own writes and deletes, re-worded the same way.
fn reword(error: Error) -> Error {
    let said =
        |e: &keyring_core::error::PlatformError| e.downcast_ref::<KeyError>().map(plain_words);
    match error {
        Error::NoStorageAccess(e) => match said(&e) {
            Some(words) => Error::NoStorageAccess(words.into()),
            None => Error::NoStorageAccess(e),
        },
        Error::PlatformFailure(e) => match said(&e) {
            Some(words) => Error::PlatformFailure(words.into()),
            None => Error::PlatformFailure(e),
        },
        other => other,
    }
}

impl CredentialApi for Key {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        self.entry.set_secret(secret).map_err(reword)
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        let session =
            KeyRing::from_special_id(KeyRingIdentifier::Session, false).map_err(translate)?;
        let key = session.search(&self.description).map_err(translate)?;
        let secret = key.read_to_vec().map_err(translate)?;
        // Keep it reachable from the session and restart the persistent keyring's idle expiry,
        // as the crate does; a refusal changes nothing about what was read.
        let _ = session.link_key(key);
        if let Ok(persistent) = KeyRing::get_persistent(KeyRingIdentifier::Session) {
            let _ = persistent.link_key(key);
        }
        Ok(secret)
    }

    fn delete_credential(&self) -> Result<()> {
        self.entry.delete_credential().map_err(reword)
    }

    fn get_credential(&self) -> Result<Option<Arc<Credential>>> {
        self.get_secret().map(|_| None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        self.entry.get_specifiers()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_key_errors_are_said_in_plain_words() {
        let said = plain_words(&KeyError::AccessDenied);
        assert!(said.contains("permission denied") && said.contains("keyctl show @s"));
        assert!(plain_words(&KeyError::KeyRevoked).contains("log in again"));
        let reworded = reword(Error::NoStorageAccess(Box::new(KeyError::AccessDenied)));
        assert!(matches!(&reworded, Error::NoStorageAccess(e) if e.to_string() == said));
        let other = reword(Error::PlatformFailure("something else".into()));
        assert!(matches!(&other, Error::PlatformFailure(e) if e.to_string() == "something else"));
    }
}
