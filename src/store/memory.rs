//! An in-memory store for unit tests and the fuzz target: the same keyring-core plumbing as
//! the file store, with the map in a mutex instead of a file.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keyring_core::Result;
use keyring_core::api::CredentialPersistence;

use super::map_store::{Backing, MapStore, SecretMap};

#[derive(Default)]
pub struct MemoryBacking {
    map: Mutex<SecretMap>,
    writes: AtomicUsize,
}

impl MemoryBacking {
    /// How many changes were made: tests use it to prove an operation wrote nothing.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }
}

pub type MemoryStore = MapStore<MemoryBacking>;

impl Backing for MemoryBacking {
    fn load(&self) -> Result<SecretMap> {
        Ok(self.map.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn update(&self, change: &mut dyn FnMut(&mut SecretMap) -> Result<()>) -> Result<()> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        self.writes.fetch_add(1, Ordering::SeqCst);
        change(&mut map)
    }

    fn persistence(&self) -> CredentialPersistence {
        CredentialPersistence::ProcessOnly
    }

    fn vendor(&self) -> &'static str {
        "git-credential-bitbucket in-memory store"
    }
}

/// A fresh, empty in-memory store.
pub fn new_store() -> Arc<MemoryStore> {
    MapStore::new(MemoryBacking::default())
}
