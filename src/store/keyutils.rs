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
//!
//! A session keyring can be inherited from another user (`su` or `sudo` without pam_keyinit):
//! its keys are then "possessed" by this process although another uid owns them. A key owned
//! by another uid is never read, overwritten or removed here.

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

pub struct KeyutilsStore {
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

impl Key {
    /// Our key with this description, if the session reaches one; refuses another uid's.
    fn find(&self) -> Result<Option<(KeyRing, linux_keyutils::Key)>> {
        let session =
            KeyRing::from_special_id(KeyRingIdentifier::Session, false).map_err(translate)?;
        let key = match session.search(&self.description) {
            Ok(key) => key,
            Err(e) => match translate(e) {
                Error::NoEntry => return Ok(None),
                other => return Err(other),
            },
        };
        let owner = key.metadata().map_err(translate)?.get_uid();
        let me = rustix::process::geteuid().as_raw();
        if owner != me {
            return Err(Error::NoStorageAccess(
                format!(
                    "the key {:?} in this session keyring belongs to uid {owner}, not to you \
                     (uid {me}): the session was inherited from another user (su or sudo). Start \
                     your own with `keyctl new_session`, or log in as yourself",
                    self.description
                )
                .into(),
            ));
        }
        Ok(Some((session, key)))
    }
}

impl CredentialApi for Key {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        self.find()?; // never update another uid's key in place
        self.entry.set_secret(secret).map_err(reword)
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        let (session, key) = self.find()?.ok_or(Error::NoEntry)?;
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
        let (_, key) = self.find()?.ok_or(Error::NoEntry)?;
        key.invalidate().map_err(translate)
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

/// The description prefix and suffix of every key this helper files (`keyring:{user}@{service}`).
fn user_of(description: &str, service: &str) -> Option<String> {
    let user = description
        .strip_prefix("keyring:")?
        .strip_suffix(service)?;
    user.strip_suffix('@').map(str::to_owned)
}

impl KeyutilsStore {
    /// Every key of ours reachable from the session keyring (and the persistent keyring
    /// linked under it), owned by this uid: its user part and secret.
    pub fn list(&self, service: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let me = rustix::process::geteuid().as_raw();
        let session =
            KeyRing::from_special_id(KeyRingIdentifier::Session, false).map_err(translate)?;
        let mut rings = vec![session];
        if let Ok(persistent) = KeyRing::get_persistent(KeyRingIdentifier::Session) {
            rings.push(persistent);
        }
        let mut seen: Vec<KeyRing> = Vec::new();
        let mut found = std::collections::BTreeMap::new();
        while let Some(ring) = rings.pop() {
            let Ok(links) = ring.get_links(1 << 16) else {
                continue;
            };
            for node in links.iter() {
                if let Some(inner) = node.as_ring() {
                    if !seen.contains(&inner) && seen.len() < 64 {
                        seen.push(inner);
                        rings.push(inner);
                    }
                    continue;
                }
                let Some(key) = node.as_key() else { continue };
                let Ok(meta) = key.metadata() else { continue };
                let Some(user) = user_of(meta.get_description(), service) else {
                    continue;
                };
                if meta.get_uid() != me || found.contains_key(&user) {
                    continue;
                }
                if let Ok(secret) = key.read_to_vec() {
                    found.insert(user, secret);
                }
            }
        }
        Ok(found.into_iter().collect())
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
