//! One face for a stored token: the keychain that holds it and the facts about it (when it
//! was saved, when it expires, where it worked, where it was refused), read together and
//! written together; and the prompts git is showing for its entries (`prompts.rs`).
//!
//! Reads need no lock. Every write goes through a [`Writer`], which holds the user's writer
//! lock for as long as it lives, so a change to the keychain and its facts never interleaves
//! with another process's: no caller takes the lock, opens the keychain and updates the facts
//! file by hand, and no delete happens without the lock.

use std::cell::OnceCell;

use super::facts::FactsFile;
use super::keychain::Keychain;
use super::prompts::Prompts;
use super::{
    Backend, DataDir, EntryFacts, EntryKey, Fallback, Opened, Opening, StoreChoice, StoreError,
    Target, Unlock,
};
use crate::dates::SECONDS_PER_DAY;
use crate::policy::HostKey;
use crate::token::Token;

mod writer;

pub use writer::{OnRemove, Writer};

/// A token as stored, with the record kept for its entry.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: EntryKey,
    /// `None` when the entry is not text (only listings show such entries).
    pub token: Option<Token>,
    /// The entry's record, whatever token it describes: it may mark a refusal of this token.
    pub record: Option<EntryFacts>,
    /// The keychain it was found in: for `auto`, the fallback store when the token was saved
    /// there while the Secret Service was locked.
    pub found_in: Backend,
    /// It was found in the fallback store and has now been moved into the store in use.
    pub moved: bool,
}

impl Stored {
    /// The facts recorded for exactly this token (`None`: none known, or a record left by an
    /// earlier token of the same entry).
    pub fn facts(&self) -> Option<&EntryFacts> {
        let token = self.token.as_ref()?;
        self.record.as_ref().filter(|facts| facts.describes(token))
    }
}

/// The keychain in use and the facts about its tokens.
pub struct TokenStore {
    keychain: Box<dyn Keychain>,
    facts: Option<FactsFile>,
    prompts: Option<Prompts>,
    data_dir: Option<DataDir>,
    /// Kept in this process's memory (unit tests, the fuzz target): no other process can
    /// write it, so a writer needs no lock even to delete.
    in_memory: bool,
    fallback: Option<Fallback>,
    /// `auto` on the Secret Service: the store it falls back to while the Secret Service is
    /// locked, opened on first need (a token saved there meanwhile is found, and moved).
    stray: Option<Stray>,
}

struct Stray {
    backend: Backend,
    opened: OnceCell<Option<Box<dyn Keychain>>>,
}

impl TokenStore {
    /// Opens the store the user chose, with the facts file in the data directory.
    pub fn open(choice: StoreChoice, opening: &Opening) -> Result<TokenStore, StoreError> {
        let Opened {
            keychain,
            fallback,
            stray,
        } = super::open(choice, opening)?;
        let data_dir = opening.data_dir.cloned();
        Ok(TokenStore {
            keychain,
            facts: data_dir.as_ref().map(|dir| FactsFile::in_dir(&dir.0)),
            prompts: data_dir.as_ref().map(|dir| Prompts::in_dir(&dir.0)),
            data_dir,
            in_memory: false,
            fallback,
            stray: stray.map(|backend| Stray {
                backend,
                opened: OnceCell::new(),
            }),
        })
    }

    /// `keychain` with `facts` and `prompts` and no data directory (no lock to take):
    /// [`super::memory`].
    pub(super) fn over(
        keychain: Box<dyn Keychain>,
        facts: FactsFile,
        prompts: Prompts,
    ) -> TokenStore {
        TokenStore {
            keychain,
            facts: Some(facts),
            prompts: Some(prompts),
            data_dir: None,
            in_memory: true,
            fallback: None,
            stray: None,
        }
    }

    pub fn backend(&self) -> Backend {
        self.keychain.backend()
    }

    /// Why `auto` did not pick the Secret Service, when it fell back to keyutils.
    pub fn fallback(&self) -> Option<&Fallback> {
        self.fallback.as_ref()
    }

    /// The fallback store of `auto`, opened now if it was not yet (`None` when there is none,
    /// or it cannot be opened).
    fn stray(&self) -> Option<&dyn Keychain> {
        let stray = self.stray.as_ref()?;
        let opened = stray.opened.get_or_init(|| {
            let opening = Opening {
                data_dir: self.data_dir.as_ref(),
                unlock: Unlock {
                    patience: std::time::Duration::ZERO,
                    announce: None,
                },
            };
            super::open_backend(stray.backend, &opening).ok()
        });
        opened.as_deref()
    }

    /// What the keychain found wrong on the way (damaged lines of the tokens file), by place.
    pub fn damage(&self) -> Vec<String> {
        self.keychain.damage()
    }

    /// The token stored under `key`, without its facts.
    pub fn token(&self, key: &EntryKey) -> Result<Option<Token>, StoreError> {
        self.keychain.get(key)
    }

    /// The token stored under `key` and the record of its entry. With `auto` on the Secret
    /// Service, an entry it lacks is looked for in the fallback store too, where it was saved
    /// while the Secret Service was locked; found there, it is moved (when no writer holds the
    /// lock right now) so that it lives in one store again.
    pub fn read(&self, key: &EntryKey) -> Result<Option<Stored>, StoreError> {
        if let Some(token) = self.keychain.get(key)? {
            return Ok(Some(Stored {
                key: key.clone(),
                token: Some(token),
                record: self.facts(key),
                found_in: self.backend(),
                moved: false,
            }));
        }
        // Only where a token was saved there: saving records its facts under that store, so
        // one lookup in the facts file spares opening the kernel keyring for every entry the
        // Secret Service lacks (a workspace entry, on nearly every `get`).
        let backend = self.stray.as_ref().map(|stray| stray.backend);
        let Some(record) = backend.and_then(|backend| self.facts_of(backend, key)) else {
            return Ok(None);
        };
        let Some(stray) = self.stray() else {
            return Ok(None);
        };
        let Ok(Some(token)) = stray.get(key) else {
            return Ok(None); // a fallback store that fails changes nothing here
        };
        let moved = self.adopt(stray, key, &token, &record);
        Ok(Some(Stored {
            key: key.clone(),
            token: Some(token),
            record: Some(record),
            found_in: stray.backend(),
            moved,
        }))
    }

    /// Moves a token found in the fallback store into the store in use, with its record:
    /// written and read back here before it is removed there. Only if the writer lock is free
    /// now (a `get` never waits); true when it moved.
    fn adopt(
        &self,
        stray: &dyn Keychain,
        key: &EntryKey,
        token: &Token,
        record: &EntryFacts,
    ) -> bool {
        // It deletes from the stray store: never without the lock.
        let Some(_lock) = self.data_dir.as_ref().and_then(DataDir::lock_if_free) else {
            return false;
        };
        let kept = self.keychain.set(key, token).is_ok()
            && self
                .keychain
                .get(key)
                .ok()
                .flatten()
                .is_some_and(|back| back.constant_time_eq(token));
        if !kept {
            return false;
        }
        if let Some(facts) = &self.facts {
            let _ = facts.modify(self.backend(), key, &mut |_| Some(record.clone()));
            let _ = facts.remove_many(stray.backend(), std::slice::from_ref(key));
        }
        let _ = stray.delete(key);
        true
    }

    /// The record kept for `key`, whatever token it describes: a workspace whose token was
    /// erased keeps one, and a refusal is noted on the entry a request would use first.
    pub fn facts(&self, key: &EntryKey) -> Option<EntryFacts> {
        self.facts_of(self.backend(), key)
    }

    fn facts_of(&self, backend: Backend, key: &EntryKey) -> Option<EntryFacts> {
        self.facts.as_ref()?.get(backend, key)
    }

    /// Every entry of ours with its token and facts, sorted: the keychain's own listing, or for
    /// a keychain that cannot be listed, a read of each entry the facts index or `hosts` names.
    pub fn entries(&self, hosts: &[HostKey]) -> Result<Vec<Stored>, StoreError> {
        self.entries_in(self.keychain.as_ref(), hosts)
    }

    /// The entries `auto` left in its fallback store while the Secret Service was locked
    /// (`None`: no such store, or it cannot be opened): shown beside the others, so that a
    /// token is never in two stores unannounced.
    pub fn stray_entries(&self, hosts: &[HostKey]) -> Option<Result<Vec<Stored>, StoreError>> {
        let stray = self.stray()?;
        Some(self.entries_in(stray, hosts))
    }

    fn entries_in(
        &self,
        keychain: &dyn Keychain,
        hosts: &[HostKey],
    ) -> Result<Vec<Stored>, StoreError> {
        let records = self.records_of(keychain.backend());
        let listed = match keychain.list() {
            Some(listed) => listed?,
            None => {
                let mut listed = Vec::new();
                for key in self.indexed_keys(hosts, &records) {
                    if let Some(token) = keychain.get(&key)? {
                        listed.push((key, Some(token)));
                    }
                }
                listed
            }
        };
        let mut entries: Vec<Stored> = listed
            .into_iter()
            .map(|(key, token)| {
                let record = records
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, facts)| facts.clone());
                Stored {
                    key,
                    token,
                    record,
                    found_in: keychain.backend(),
                    moved: false,
                }
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }

    /// Every key this store may hold a token under: what the keychain lists (or, where it
    /// cannot list, what the facts index names), plus the host entries of `hosts`.
    pub fn keys(&self, hosts: &[HostKey]) -> Result<Vec<EntryKey>, StoreError> {
        let records = self.records_of(self.backend());
        let mut keys = match self.keychain.list() {
            Some(listed) => listed?.into_iter().map(|(key, _)| key).collect(),
            None => Vec::new(),
        };
        keys.extend(self.indexed_keys(hosts, &records));
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The records of `backend`, read once.
    fn records_of(&self, backend: Backend) -> Vec<(EntryKey, EntryFacts)> {
        let Some(facts) = &self.facts else {
            return Vec::new();
        };
        let backend = backend.name();
        facts
            .all()
            .unwrap_or_default()
            .into_iter()
            .filter(|record| record.backend == backend)
            .filter_map(|record| Some((EntryKey::from_account(&record.account)?, record.facts)))
            .collect()
    }

    fn indexed_keys(&self, hosts: &[HostKey], records: &[(EntryKey, EntryFacts)]) -> Vec<EntryKey> {
        let mut keys: Vec<EntryKey> = hosts.iter().cloned().map(EntryKey::host).collect();
        keys.extend(records.iter().map(|(key, _)| key.clone()));
        keys.sort();
        keys.dedup();
        keys
    }

    /// Notes that today's expiry warning for `key` was given, if no writer holds the lock
    /// right now (`get` never waits: the warning then shows again later).
    pub fn mark_warned(&self, key: &EntryKey, now: u64) {
        let lock = self.data_dir.as_ref().map(DataDir::lock_if_free);
        if matches!(lock, Some(None)) {
            return;
        }
        if let Some(facts) = &self.facts {
            let _ = facts.modify(self.backend(), key, &mut |facts| {
                let mut facts = facts?;
                facts.warned_day = Some(now / SECONDS_PER_DAY);
                Some(facts)
            });
        }
    }

    /// Notes that git is prompting for the token of `target`'s request (this helper's `get`
    /// answered without a password), so that a `store` of what the person types may save it.
    /// Takes no lock. An error means the typed token cannot be saved by `store`.
    pub fn note_prompt(&self, target: &Target, now: u64) -> Result<(), String> {
        match &self.prompts {
            Some(prompts) => prompts
                .note(self.backend(), target, now)
                .map_err(|e| format!("cannot note git's prompt in the data directory: {e}")),
            None => Err("there is no data directory to note git's prompt in".to_owned()),
        }
    }

    /// Forgets a prompt noted for `target`: a token was handed out, or the one typed was
    /// refused.
    pub fn clear_prompt(&self, target: &Target) {
        if let Some(prompts) = &self.prompts {
            prompts.clear(self.backend(), target);
        }
    }
}
