//! One face for a stored token: the keychain that holds it and the facts about it (when it
//! was saved, when it expires, where it worked, where it was refused), read together and
//! written together; and the prompts git is showing for its entries (`prompts.rs`).
//!
//! Reads need no lock. Every write goes through a [`Writer`], which holds the user's writer
//! lock for as long as it lives, so a change to the keychain and its facts never interleaves
//! with another process's: no caller takes the lock, opens the keychain and updates the facts
//! file by hand, and no delete happens without the lock.

use super::facts::FactsFile;
use super::keychain::Keychain;
use super::lock::{LockError, WriterLock};
use super::prompts::Prompts;
use super::{Backend, DataDir, EntryFacts, EntryKey, Opened, Opening, StoreChoice, StoreError};
use crate::dates::SECONDS_PER_DAY;
use crate::policy::HostKey;
use crate::token::Token;

/// A token as stored, with the record kept for its entry.
#[derive(Debug, Clone)]
pub struct Stored {
    pub key: EntryKey,
    /// `None` when the entry is not text (only listings show such entries).
    pub token: Option<Token>,
    /// The entry's record, whatever token it describes: it may mark a refusal of this token.
    pub record: Option<EntryFacts>,
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
    fallback_reason: Option<String>,
}

impl TokenStore {
    /// Opens the store the user chose, with the facts file in the data directory.
    pub fn open(choice: StoreChoice, opening: &Opening) -> Result<TokenStore, StoreError> {
        let Opened {
            keychain,
            fallback_reason,
        } = super::open(choice, opening)?;
        let data_dir = opening.data_dir.cloned();
        Ok(TokenStore {
            keychain,
            facts: data_dir.as_ref().map(|dir| FactsFile::in_dir(&dir.0)),
            prompts: data_dir.as_ref().map(|dir| Prompts::in_dir(&dir.0)),
            data_dir,
            fallback_reason,
        })
    }

    /// `keychain` with `facts` and `prompts` and no data directory (no lock to take):
    /// [`memory`].
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
            fallback_reason: None,
        }
    }

    pub fn backend(&self) -> Backend {
        self.keychain.backend()
    }

    /// Why `auto` did not pick the Secret Service, when it fell back to keyutils.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// What the keychain found wrong on the way (damaged lines of the tokens file), by place.
    pub fn damage(&self) -> Vec<String> {
        self.keychain.damage()
    }

    /// The token stored under `key`, without its facts.
    pub fn token(&self, key: &EntryKey) -> Result<Option<Token>, StoreError> {
        self.keychain.get(key)
    }

    /// The token stored under `key` and the record of its entry.
    pub fn read(&self, key: &EntryKey) -> Result<Option<Stored>, StoreError> {
        let Some(token) = self.keychain.get(key)? else {
            return Ok(None);
        };
        Ok(Some(Stored {
            key: key.clone(),
            token: Some(token),
            record: self.facts(key),
        }))
    }

    /// The record kept for `key`, whatever token it describes: a workspace whose token was
    /// erased keeps one, and a refusal is noted on the entry a request would use first.
    pub fn facts(&self, key: &EntryKey) -> Option<EntryFacts> {
        self.facts.as_ref()?.get(self.backend(), key)
    }

    /// Every entry of ours with its token and facts, sorted: the keychain's own listing, or for
    /// a keychain that cannot be listed, a read of each entry the facts index or `hosts` names.
    pub fn entries(&self, hosts: &[HostKey]) -> Result<Vec<Stored>, StoreError> {
        let records = self.records();
        let listed = match self.keychain.list() {
            Some(listed) => listed?,
            None => {
                let mut listed = Vec::new();
                for key in self.indexed_keys(hosts, &records) {
                    if let Some(token) = self.keychain.get(&key)? {
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
                Stored { key, token, record }
            })
            .collect();
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(entries)
    }

    /// Every key this store may hold a token under: what the keychain lists (or, where it
    /// cannot list, what the facts index names), plus the host entries of `hosts`.
    pub fn keys(&self, hosts: &[HostKey]) -> Result<Vec<EntryKey>, StoreError> {
        let records = self.records();
        let mut keys = match self.keychain.list() {
            Some(listed) => listed?.into_iter().map(|(key, _)| key).collect(),
            None => Vec::new(),
        };
        keys.extend(self.indexed_keys(hosts, &records));
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The records of this backend, read once.
    fn records(&self) -> Vec<(EntryKey, EntryFacts)> {
        let Some(facts) = &self.facts else {
            return Vec::new();
        };
        let backend = self.backend().name();
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

    /// Notes that git is prompting for the token of `key` (this helper's `get` answered
    /// without a password), so that a `store` of what the person types may save it. Takes no
    /// lock. An error means the typed token cannot be saved by `store`.
    pub fn note_prompt(&self, key: &EntryKey, now: u64) -> Result<(), String> {
        match &self.prompts {
            Some(prompts) => prompts
                .note(self.backend(), key, now)
                .map_err(|e| format!("cannot note git's prompt in the data directory: {e}")),
            None => Err("there is no data directory to note git's prompt in".to_owned()),
        }
    }

    /// Forgets a prompt noted for `key`: a token was handed out, or the one typed was refused.
    pub fn clear_prompt(&self, key: &EntryKey) {
        if let Some(prompts) = &self.prompts {
            prompts.clear(self.backend(), key);
        }
    }

    /// The writer lock and what it allows. `deleting`: a writer that removes tokens fails when
    /// the lock cannot be made at all, rather than delete unlocked; one that only adds goes on
    /// without it when the data directory cannot hold it. Another writer holding it past the
    /// wait is always an error.
    pub fn writer(&self, deleting: bool) -> Result<Writer<'_>, LockError> {
        let lock = match &self.data_dir {
            Some(dir) => dir.writer_lock(deleting)?,
            None => None,
        };
        Ok(Writer {
            store: self,
            _lock: lock,
        })
    }
}

/// Whether removing a token also forgets its facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRemove {
    /// Forget them (logout, a store move).
    ForgetFacts,
    /// Keep them: a workspace whose token was erased keeps its record, which marks where the
    /// next token git prompts for belongs.
    KeepFacts,
}

/// Changes to a [`TokenStore`], made under the writer lock it holds while it lives.
pub struct Writer<'a> {
    store: &'a TokenStore,
    _lock: Option<WriterLock>,
}

impl Writer<'_> {
    fn keychain(&self) -> &dyn Keychain {
        self.store.keychain.as_ref()
    }

    fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Stores `token` under `key` with `facts`, and returns what to tell a person: where the
    /// token now lives (keyutils, a plaintext file), and a facts file that could not be
    /// written.
    pub fn save(
        &self,
        key: &EntryKey,
        token: &Token,
        facts: &EntryFacts,
    ) -> Result<Vec<String>, StoreError> {
        self.keychain().set(key, token)?;
        let mut notes: Vec<String> = self
            .keychain()
            .storage_note()
            .map(str::to_owned)
            .into_iter()
            .collect();
        if let Err(e) = self.record(key, facts) {
            notes.push(format!(
                "the token was saved, but not the facts about it: {e}"
            ));
        }
        Ok(notes)
    }

    /// [`Writer::save`], then reads the token back: for a person's command, which must not
    /// say "saved" unless the keychain kept it.
    pub fn save_checked(
        &self,
        key: &EntryKey,
        token: &Token,
        facts: &EntryFacts,
    ) -> Result<Vec<String>, StoreError> {
        let notes = self.save(key, token, facts)?;
        let kept = self.keychain().get(key)?;
        if !kept.is_some_and(|kept| kept.constant_time_eq(token)) {
            return Err(StoreError::Failed {
                backend: self.backend(),
                reason: format!("it did not keep the token for {key}"),
            });
        }
        Ok(notes)
    }

    /// Removes the token under `key`; `Ok(false)` if there was none.
    pub fn remove(&self, key: &EntryKey, on_remove: OnRemove) -> Result<bool, StoreError> {
        let removed = self.keychain().delete(key)?;
        if removed && on_remove == OnRemove::ForgetFacts {
            let _ = self.forget_facts(std::slice::from_ref(key));
        }
        Ok(removed)
    }

    /// Removes these entries and their facts; returns the keys that held a token.
    pub fn remove_all(&self, keys: &[EntryKey]) -> Result<Vec<EntryKey>, StoreError> {
        let removed = self.keychain().delete_all(keys)?;
        let _ = self.forget_facts(keys);
        Ok(removed)
    }

    fn forget_facts(&self, keys: &[EntryKey]) -> Result<(), String> {
        match &self.store.facts {
            Some(facts) => facts
                .remove_many(self.backend(), keys)
                .map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    /// Replaces the record of `key`.
    pub fn record(&self, key: &EntryKey, facts: &EntryFacts) -> Result<(), String> {
        self.modify(key, &mut |_| Some(facts.clone()))
    }

    /// Changes the record of `key` as it is now (not as it was read earlier); `None` removes
    /// it. Nothing is written when it is unchanged.
    fn modify(
        &self,
        key: &EntryKey,
        change: &mut dyn FnMut(Option<EntryFacts>) -> Option<EntryFacts>,
    ) -> Result<(), String> {
        match &self.store.facts {
            Some(facts) => facts
                .modify(self.backend(), key, change)
                .map_err(|e| e.to_string()),
            None => Err("there is no data directory to keep it in".to_owned()),
        }
    }

    /// Takes the note that git prompted for `key` within the prompt window of `now`
    /// (`prompts.rs`): true once per prompt, so one prompt saves at most one new token.
    pub fn take_prompt(&self, key: &EntryKey, now: u64) -> bool {
        self.store
            .prompts
            .as_ref()
            .is_some_and(|prompts| prompts.take(self.backend(), key, now))
    }

    /// Notes that `token`, stored under `key`, worked at `place` (a repository, or
    /// [`super::NO_PATH`]), over plain http when `plain_http`; a refusal there is forgotten.
    /// Reads first and writes only when that is news, so git's `store` after every success
    /// costs one read.
    pub fn note_worked(&self, key: &EntryKey, token: &Token, place: &str, plain_http: bool) {
        let known = self
            .store
            .facts(key)
            .filter(|f| f.describes(token))
            .is_some_and(|mut f| !f.note_worked(place, plain_http));
        if known {
            return;
        }
        let _ = self.modify(key, &mut |facts| {
            let mut facts = facts
                .filter(|f| f.describes(token))
                .unwrap_or_else(|| EntryFacts::new(token, None));
            facts.note_worked(place, plain_http);
            Some(facts)
        });
    }

    /// Marks `token`, stored under `key`, as refused at `place`.
    pub fn note_refused(&self, key: &EntryKey, token: &Token, place: &str) -> Result<(), String> {
        self.modify(key, &mut |facts| {
            let mut facts = facts
                .filter(|f| f.describes(token))
                .unwrap_or_else(|| EntryFacts::new(token, None));
            facts.note_refused(place);
            Some(facts)
        })
    }

    /// Records when the token stored under `key` expires (and forgets the last warning).
    pub fn set_expiry(
        &self,
        key: &EntryKey,
        token: &Token,
        expires_at: u64,
    ) -> Result<EntryFacts, String> {
        let mut updated = None;
        self.modify(key, &mut |facts| {
            let mut facts = facts
                .filter(|f| f.describes(token))
                .unwrap_or_else(|| EntryFacts::new(token, None));
            facts.expires_at = Some(expires_at);
            facts.warned_day = None;
            updated = Some(facts.clone());
            Some(facts)
        })?;
        updated.ok_or_else(|| "the record was not written".to_owned())
    }

    /// Saves, reads back and removes a throwaway entry (doctor's check of the keychain); the
    /// facts file is left alone. True when the keychain gave back what was saved. The entry is
    /// removed whatever failed on the way: a save that failed half-way (a key added, its link
    /// refused) leaves nothing behind.
    pub fn round_trip(&self, key: &EntryKey, probe: &Token) -> Result<bool, StoreError> {
        let saved = self.keychain().set(key, probe);
        let back = saved.as_ref().ok().map(|()| self.keychain().get(key));
        let removed = self.keychain().delete(key);
        saved?;
        let back = back.transpose()?.flatten();
        removed?;
        Ok(back.is_some_and(|b| b.constant_time_eq(probe)))
    }
}
