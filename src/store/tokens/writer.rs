//! [`Writer`]: every change to a [`TokenStore`] (its keychain, its facts, its prompt notes),
//! made under the user's writer lock, which the writer holds for as long as it lives. A child
//! of `tokens.rs`, so it reaches the store's parts without the rest of the program doing so.

use super::TokenStore;
use crate::store::keychain::Keychain;
use crate::store::lock::{LockError, WriterLock};
use crate::store::{Backend, EntryFacts, EntryKey, StoreError, Target};
use crate::token::Token;

impl TokenStore {
    /// The writer lock and what it allows. `deleting`: a writer that removes tokens fails when
    /// the lock cannot be made at all, rather than delete unlocked; one that only adds goes on
    /// without it when the data directory cannot hold it. Another writer holding it past the
    /// wait is always an error.
    pub fn writer(&self, deleting: bool) -> Result<Writer<'_>, LockError> {
        let lock = match &self.data_dir {
            Some(dir) => dir.writer_lock(deleting)?,
            // No home directory, so no place for the lock: nothing is deleted unlocked.
            None if deleting && !self.in_memory => {
                return Err(LockError::Unavailable {
                    path: "(no data directory)".into(),
                    reason: "there is no home directory to hold the writer lock".into(),
                });
            }
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

    /// Takes the note that git prompted for `target`'s request within the prompt window of
    /// `now` (`prompts.rs`): true once per prompt, so one prompt saves at most one new token.
    pub fn take_prompt(&self, target: &Target, now: u64) -> bool {
        self.store
            .prompts
            .as_ref()
            .is_some_and(|prompts| prompts.take(self.backend(), target, now))
    }

    /// Notes that `token`, stored under `key`, worked at `place` (a repository, or
    /// [`crate::store::NO_PATH`]), over plain http when `plain_http`; a refusal there is forgotten.
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

#[cfg(test)]
mod tests {
    use crate::store::lock::LockError;
    use crate::store::memory::MemoryStore;

    #[test]
    fn without_a_place_for_the_lock_a_writer_may_add_but_never_delete() {
        let mut store = MemoryStore::default().open();
        // Positive control: in this process's memory nobody else writes.
        assert!(store.writer(true).is_ok());
        store.in_memory = false; // as a keychain opened with no home directory
        assert!(store.writer(false).is_ok(), "adding goes on unlocked");
        assert!(matches!(
            store.writer(true),
            Err(LockError::Unavailable { .. })
        ));
    }
}
