//! Linux kernel keyutils through the keyring project's store: the key is linked into the
//! session keyring and the user's persistent keyring, so it outlives the login session (a
//! deploy server's ssh logins) but not a reboot, and the kernel drops the persistent keyring
//! after a few days without use (`/proc/sys/kernel/keys/persistent_keyring_expiry`).
//!
//! Writes go through the keyring crate's store as they are. Reads, deletes and listing are our
//! own:
//! the crate re-links the key into the session and persistent keyrings before reading (to
//! restart the persistent keyring's expiry) and fails when that link is refused, so a token the
//! user can read was reported unavailable in a session keyring without write permission, and
//! git prompted for nothing. Here the re-link is best effort and the read is what counts.
//!
//! A session keyring can be inherited from another user (`su` or `sudo` without pam_keyinit):
//! its keys are then "possessed" by this process although another uid owns them. A key owned
//! by another uid is never read, overwritten or removed here.

use keyring_core::Entry;
use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};

use super::keyring_crate::translate;
use super::{Backend, EntryKey, Keychain, Listed, Opening, SERVICE, StoreError, stored_token};
use crate::token::Token;

/// How long a token lasts in keyutils, the start of both notes below.
macro_rules! lasts {
    () => {
        "the token is in the kernel keyring (keyutils): it lasts until the machine reboots or \
         goes unused for a few days."
    };
}

/// What to tell a person once, when a token was stored in keyutils.
pub const KEYUTILS_NOTE: &str = lasts!();

/// The same, on a headless server, where a file is the way to survive reboots.
pub const KEYUTILS_NOTE_ON_A_SERVER: &str = concat!(
    lasts!(),
    " To keep it across reboots on a headless server, use `--store file` (a 0600 file) instead."
);

pub fn open(_: &Opening) -> Result<Box<dyn Keychain>, StoreError> {
    let inner = linux_keyutils_keyring_store::Store::new()
        .map_err(|e| unavailable(e.to_string()))?;
    // Links the user's persistent keyring into this session's keyring (and restarts its idle
    // expiry), as the crate does for every entry it builds: a new login session finds the
    // tokens a former one saved there.
    let persistent = KeyRing::get_persistent(KeyRingIdentifier::Session).ok();
    Ok(Box::new(KeyutilsStore { inner, persistent }))
}

pub struct KeyutilsStore {
    inner: std::sync::Arc<linux_keyutils_keyring_store::Store>,
    /// The user's persistent keyring, as linked when the store was opened (asked once).
    persistent: Option<KeyRing>,
}

fn unavailable(reason: String) -> StoreError {
    StoreError::Unavailable {
        backend: Backend::Keyutils,
        reason,
    }
}

fn failed(reason: String) -> StoreError {
    StoreError::Failed {
        backend: Backend::Keyutils,
        reason,
    }
}

/// A key (or the session keyring) revoked, expired or gone meanwhile: no token there.
fn is_gone(error: &KeyError) -> bool {
    matches!(
        error,
        KeyError::KeyDoesNotExist | KeyError::KeyRevoked | KeyError::KeyExpired
    )
}

/// Any other kernel error, in plain words: a refusal makes the store unavailable.
fn kernel(error: KeyError) -> StoreError {
    match error {
        KeyError::AccessDenied => unavailable(plain_words(&error)),
        other => failed(plain_words(&other)),
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

/// Errors from the crate's own writes, re-worded the same way.
fn reword(error: keyring_core::Error) -> StoreError {
    use keyring_core::Error;
    let said =
        |e: &keyring_core::error::PlatformError| e.downcast_ref::<KeyError>().map(plain_words);
    match error {
        Error::NoStorageAccess(e) => unavailable(said(&e).unwrap_or_else(|| e.to_string())),
        Error::PlatformFailure(e) => failed(said(&e).unwrap_or_else(|| e.to_string())),
        other => translate(Backend::Keyutils, other),
    }
}

/// The crate's default description (prefix `keyring:`, divider `@`, no suffix).
fn description(key: &EntryKey) -> String {
    format!("keyring:{}@{SERVICE}", key.account())
}

/// Our key with this description, if the session reaches one; refuses another uid's.
fn find(key: &EntryKey) -> Result<Option<(KeyRing, linux_keyutils::Key)>, StoreError> {
    let description = description(key);
    let session = match KeyRing::from_special_id(KeyRingIdentifier::Session, false) {
        Ok(session) => session,
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(kernel(e)),
    };
    let found = match session.search(&description) {
        Ok(found) => found,
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(kernel(e)),
    };
    let owner = match found.metadata() {
        Ok(meta) => meta.get_uid(),
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(kernel(e)),
    };
    let me = rustix::process::geteuid().as_raw();
    if owner != me {
        return Err(unavailable(format!(
            "the key {description:?} in this session keyring belongs to uid {owner}, not to you \
             (uid {me}): the session was inherited from another user (su or sudo). Start your \
             own with `keyctl new_session`, or log in as yourself"
        )));
    }
    Ok(Some((session, found)))
}

impl KeyutilsStore {
    fn entry(&self, key: &EntryKey) -> Result<Entry, StoreError> {
        use keyring_core::api::CredentialStoreApi;
        self.inner
            .build(SERVICE, &key.account(), None)
            .map_err(|e| translate(Backend::Keyutils, e))
    }
}

impl Keychain for KeyutilsStore {
    fn backend(&self) -> Backend {
        Backend::Keyutils
    }

    fn get(&self, key: &EntryKey) -> Result<Option<Token>, StoreError> {
        let Some((session, found)) = find(key)? else {
            return Ok(None);
        };
        let token = match found.read_to_vec() {
            Ok(secret) => stored_token(Backend::Keyutils, key, secret)?,
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) => return Err(kernel(e)),
        };
        // Keep it reachable from the session and restart the persistent keyring's idle expiry,
        // as the crate does; a refusal changes nothing about what was read.
        let _ = session.link_key(found);
        if let Some(persistent) = self.persistent {
            let _ = persistent.link_key(found);
        }
        Ok(Some(token))
    }

    /// The crate adds the key to the session keyring, then links it into the persistent
    /// keyring; when that link is refused it fails with the key already added (or, for an
    /// entry that existed, already changed). A failed write leaves what was there before: the
    /// previous token is put back, or the new key removed, so no token stays behind where
    /// `status` and `logout` would not look for it.
    fn set(&self, key: &EntryKey, token: &Token) -> Result<(), StoreError> {
        // never update another uid's key in place; remember what to restore
        let before = match find(key)? {
            Some((_, found)) => found.read_to_vec().ok().and_then(Token::from_bytes),
            None => None,
        };
        let entry = self.entry(key)?;
        let Err(failure) = entry.set_secret(token.expose().as_bytes()) else {
            return Ok(());
        };
        match &before {
            // The key gets its old payload back (its links are as they were), even when the
            // link is refused again.
            Some(before) => {
                let _ = entry.set_secret(before.expose().as_bytes());
            }
            None => {
                if let Ok(Some((_, found))) = find(key) {
                    let _ = found.invalidate();
                }
            }
        }
        Err(reword(failure))
    }

    fn delete(&self, key: &EntryKey) -> Result<bool, StoreError> {
        let Some((_, found)) = find(key)? else {
            return Ok(false);
        };
        match found.invalidate() {
            Ok(()) => Ok(true),
            Err(e) if is_gone(&e) => Ok(false),
            Err(e) => Err(kernel(e)),
        }
    }

    /// Every key of ours reachable from the session keyring (and the persistent keyring
    /// linked under it), owned by this uid.
    fn list(&self) -> Option<Result<Vec<Listed>, StoreError>> {
        Some(list(self.persistent).map(|found| {
            found
                .into_iter()
                .filter_map(|(user, token)| Some((EntryKey::from_account(&user)?, token)))
                .collect()
        }))
    }

    fn storage_note(&self) -> Option<&'static str> {
        match crate::environment::desktop_session() {
            true => Some(KEYUTILS_NOTE),
            false => Some(KEYUTILS_NOTE_ON_A_SERVER),
        }
    }
}

/// The user part of a description this helper files (`keyring:{user}@{service}`).
fn user_of(description: &str) -> Option<String> {
    let user = description
        .strip_prefix("keyring:")?
        .strip_suffix(SERVICE)?;
    user.strip_suffix('@').map(str::to_owned)
}

/// Our keys' user parts and tokens (`None`: not text), walking the session keyring and the
/// persistent keyring. Each secret is a [`Token`] from the moment it is read.
fn list(persistent: Option<KeyRing>) -> Result<Vec<(String, Option<Token>)>, StoreError> {
    let me = rustix::process::geteuid().as_raw();
    let session = match KeyRing::from_special_id(KeyRingIdentifier::Session, false) {
        Ok(session) => session,
        Err(e) if is_gone(&e) => return Ok(Vec::new()),
        Err(e) => return Err(kernel(e)),
    };
    let mut rings = vec![session];
    rings.extend(persistent);
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
            let Some(user) = user_of(meta.get_description()) else {
                continue;
            };
            if meta.get_uid() != me || found.contains_key(&user) {
                continue;
            }
            if let Ok(secret) = key.read_to_vec() {
                found.insert(user, Token::from_bytes(secret));
            }
        }
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_key_errors_are_said_in_plain_words() {
        let said = plain_words(&KeyError::AccessDenied);
        assert!(said.contains("permission denied") && said.contains("keyctl show @s"));
        assert!(plain_words(&KeyError::KeyRevoked).contains("log in again"));
        let reworded = reword(keyring_core::Error::NoStorageAccess(Box::new(
            KeyError::AccessDenied,
        )));
        assert!(
            matches!(&reworded, StoreError::Unavailable { reason, .. } if *reason == said),
            "{reworded}"
        );
        let other = reword(keyring_core::Error::PlatformFailure("something else".into()));
        assert!(
            matches!(&other, StoreError::Failed { reason, .. } if reason == "something else"),
            "{other}"
        );
        assert_eq!(user_of("keyring:bitbucket.org/acme@git-credential-bitbucket").as_deref(), Some("bitbucket.org/acme"));
        assert_eq!(user_of("keyring:x@another-service"), None);
    }
}
