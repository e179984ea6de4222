//! An in-memory store for unit tests and the fuzz target: a keychain with the same seam as
//! the real ones (the map in a mutex, and a count of writes, so a test can prove an operation
//! wrote nothing), facts and prompt notes kept in memory, all shared by every [`TokenStore`]
//! opened on them, as every process shares the user's real keychain and data directory.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::facts::FactsFile;
use super::line_file::LineMap;
use super::prompts::Prompts;
use super::{Backend, EntryKey, Keychain, Listed, StoreError, TokenStore};
use crate::token::Token;

/// A keychain and facts in memory; clones share them.
#[derive(Clone, Default)]
pub struct MemoryStore {
    keychain: MemoryKeychain,
    facts: Arc<Mutex<LineMap>>,
    prompts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl MemoryStore {
    /// The keychain, to seed or inspect behind the store's back.
    pub fn keychain(&self) -> &MemoryKeychain {
        &self.keychain
    }

    /// A token store over this memory, as a process would open the real one.
    pub fn open(&self) -> TokenStore {
        TokenStore::over(
            Box::new(self.keychain.clone()),
            FactsFile::shared(self.facts.clone()),
            Prompts::shared(self.prompts.clone()),
        )
    }
}

#[derive(Default)]
struct Inner {
    map: Mutex<BTreeMap<EntryKey, Token>>,
    writes: AtomicUsize,
}

/// Clones share one map: a test keeps a handle while the store under test holds another.
#[derive(Clone, Default)]
pub struct MemoryKeychain {
    inner: Arc<Inner>,
}

impl MemoryKeychain {
    /// How many changes were made.
    pub fn writes(&self) -> usize {
        self.inner.writes.load(Ordering::SeqCst)
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<EntryKey, Token>> {
        self.inner.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Keychain for MemoryKeychain {
    fn backend(&self) -> Backend {
        Backend::Memory
    }

    fn get(&self, key: &EntryKey) -> Result<Option<Token>, StoreError> {
        Ok(self.map().get(key).cloned())
    }

    fn set(&self, key: &EntryKey, token: &Token) -> Result<(), StoreError> {
        self.inner.writes.fetch_add(1, Ordering::SeqCst);
        self.map().insert(key.clone(), token.clone());
        Ok(())
    }

    fn delete(&self, key: &EntryKey) -> Result<bool, StoreError> {
        self.inner.writes.fetch_add(1, Ordering::SeqCst);
        Ok(self.map().remove(key).is_some())
    }

    fn list(&self) -> Option<Result<Vec<Listed>, StoreError>> {
        let map = self.map();
        Some(Ok(map
            .iter()
            .map(|(key, token)| (key.clone(), Some(token.clone())))
            .collect()))
    }
}
