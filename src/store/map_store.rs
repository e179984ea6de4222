//! A keyring-core store over a map of `(service, user) → secret`, generic in where the map
//! lives. The in-memory store (tests, fuzzing) and the file store share every line of the
//! keyring-core plumbing and differ only in [`Backing`].
//!
//! A delete removes an entry only if it still holds what this store last read from it (or
//! wrote to it). `erase` reads the entry, compares it with the rejected token, then deletes;
//! without this check, another process storing a rotated token between the read and the
//! delete would lose it (found by tests/integration/concurrency.rs). The check runs inside the
//! backing's atomic update, under the file store's lock.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use keyring_core::api::{Credential, CredentialApi, CredentialPersistence, CredentialStoreApi};
use keyring_core::{Entry, Error, Result};
use zeroize::Zeroizing;

/// The map: `(service, user)` to secret bytes, zeroed when dropped.
pub type SecretMap = BTreeMap<(String, String), Zeroizing<Vec<u8>>>;

/// Where a map-backed store keeps its map.
pub trait Backing: Send + Sync + 'static {
    /// A copy of the current map.
    fn load(&self) -> Result<SecretMap>;
    /// The value of one entry. The file store reads only as far as it is; this default reads
    /// everything.
    fn find(&self, key: &(String, String)) -> Result<Option<Zeroizing<Vec<u8>>>> {
        Ok(self.load()?.remove(key))
    }
    /// Reads, changes and writes the map as one step, safe against concurrent writers. The
    /// file store writes nothing when the change leaves the map as it was.
    fn update(&self, change: &mut dyn FnMut(&mut SecretMap) -> Result<()>) -> Result<()>;
    fn persistence(&self) -> CredentialPersistence;
    fn vendor(&self) -> &'static str;
}

/// What this store last saw in each entry it read or wrote (`None`: no entry).
type Seen = Mutex<HashMap<(String, String), Option<Zeroizing<Vec<u8>>>>>;

/// A keyring-core store over a [`Backing`].
pub struct MapStore<B: Backing> {
    backing: Arc<B>,
    seen: Arc<Seen>,
}

impl<B: Backing> MapStore<B> {
    pub fn new(backing: B) -> Arc<Self> {
        Arc::new(Self {
            backing: Arc::new(backing),
            seen: Arc::default(),
        })
    }

    pub fn backing(&self) -> &B {
        &self.backing
    }
}

impl<B: Backing> std::fmt::Debug for MapStore<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.backing.vendor())
    }
}

impl<B: Backing> CredentialStoreApi for MapStore<B> {
    fn vendor(&self) -> String {
        self.backing.vendor().to_owned()
    }

    fn id(&self) -> String {
        self.backing.vendor().to_owned()
    }

    fn build(&self, service: &str, user: &str, _: Option<&HashMap<&str, &str>>) -> Result<Entry> {
        Ok(Entry::new_with_credential(Arc::new(MapCredential {
            backing: self.backing.clone(),
            seen: self.seen.clone(),
            key: (service.to_owned(), user.to_owned()),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn persistence(&self) -> CredentialPersistence {
        self.backing.persistence()
    }
}

struct MapCredential<B: Backing> {
    backing: Arc<B>,
    seen: Arc<Seen>,
    key: (String, String),
}

impl<B: Backing> MapCredential<B> {
    fn remember(&self, value: Option<&[u8]>) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(self.key.clone(), value.map(|v| Zeroizing::new(v.to_vec())));
    }

    /// What this store last saw in the entry: `None` if it never looked.
    fn last_seen(&self) -> Option<Option<Zeroizing<Vec<u8>>>> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(&self.key).cloned()
    }
}

impl<B: Backing> std::fmt::Debug for MapCredential<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.key.1, self.key.0)
    }
}

impl<B: Backing> CredentialApi for MapCredential<B> {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        self.backing.update(&mut |map| {
            map.insert(self.key.clone(), Zeroizing::new(secret.to_vec()));
            Ok(())
        })?;
        self.remember(Some(secret));
        Ok(())
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        let value = self.backing.find(&self.key)?.map(|s| s.to_vec());
        self.remember(value.as_deref());
        value.ok_or(Error::NoEntry)
    }

    /// Removes the entry, unless it changed since this store last saw it: then another
    /// process wrote it meanwhile, and its value is not the one the caller meant to remove
    /// (reported as [`Error::NoEntry`]: the entry the caller saw is gone).
    fn delete_credential(&self) -> Result<()> {
        let expected = self.last_seen();
        self.backing.update(&mut |map| {
            let unchanged = match (&expected, map.get(&self.key)) {
                (None, _) => true,
                (Some(seen), current) => {
                    seen.as_deref().map(Vec::as_slice) == current.map(|c| c.as_slice())
                }
            };
            match unchanged.then(|| map.remove(&self.key)).flatten() {
                Some(_) => Ok(()),
                None => Err(Error::NoEntry),
            }
        })?;
        self.remember(None);
        Ok(())
    }

    fn get_credential(&self) -> Result<Option<Arc<Credential>>> {
        self.get_secret().map(|_| None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        Some(self.key.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
