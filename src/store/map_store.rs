//! A keyring-core store over a map of `(service, user) → secret`, generic in where the map
//! lives. The in-memory store (tests, fuzzing) and the file store share every line of the
//! keyring-core plumbing and differ only in [`Backing`].

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use keyring_core::api::{Credential, CredentialApi, CredentialPersistence, CredentialStoreApi};
use keyring_core::{Entry, Error, Result};
use zeroize::Zeroizing;

/// The map: `(service, user)` to secret bytes, zeroed when dropped.
pub type SecretMap = BTreeMap<(String, String), Zeroizing<Vec<u8>>>;

/// Where a map-backed store keeps its map.
pub trait Backing: Send + Sync + 'static {
    /// A copy of the current map.
    fn load(&self) -> Result<SecretMap>;
    /// Reads, changes and writes the map as one step, safe against concurrent writers.
    fn update(&self, change: &mut dyn FnMut(&mut SecretMap) -> Result<()>) -> Result<()>;
    fn persistence(&self) -> CredentialPersistence;
    fn vendor(&self) -> &'static str;
}

/// A keyring-core store over a [`Backing`].
pub struct MapStore<B: Backing> {
    backing: Arc<B>,
}

impl<B: Backing> MapStore<B> {
    pub fn new(backing: B) -> Arc<Self> {
        Arc::new(Self {
            backing: Arc::new(backing),
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
    key: (String, String),
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
        })
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        let map = self.backing.load()?;
        map.get(&self.key).map(|s| s.to_vec()).ok_or(Error::NoEntry)
    }

    fn delete_credential(&self) -> Result<()> {
        self.backing.update(&mut |map| match map.remove(&self.key) {
            Some(_) => Ok(()),
            None => Err(Error::NoEntry),
        })
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
