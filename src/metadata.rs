//! Non-secret facts about each stored token: when it was saved, when it expires (Atlassian
//! makes you choose, but no API tells a token its own expiry, so the user tells us with
//! `login --expires`), its kind and a masked fingerprint, the day we last warned about it, the
//! workspaces where it has worked, and the token a workspace refused.
//!
//! Keychains hold secrets, not dates, so these facts live in a small file of their own
//! (`metadata` in the user data directory), written atomically by the same code as the file
//! store. Every change is a read-modify-write of one record under the user's writer lock, so
//! no writer loses a field another wrote meanwhile. A fingerprint ties each record to the token
//! it describes: a record whose fingerprint no longer matches is ignored. The file is an index,
//! not the truth: `status` and `logout --all` list the keychain itself.

use std::path::Path;

use keyring_core::Error;
use zeroize::Zeroizing;

use crate::dates::{self, SECONDS_PER_DAY};
use crate::store::file::FileBacking;
use crate::store::map_store::{Backing, SecretMap};
use crate::store::private_files::Privacy;
use crate::store::{Backend, EntryKey};
use crate::token::Token;

const HEADER: &str = "# git-credential-bitbucket metadata: no secrets, safe to read\n";

/// How close to expiry a warning starts.
pub const WARN_DAYS: i64 = 14;

/// What is known about one stored token (`Default`: nothing yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFacts {
    pub saved_at: u64,
    pub expires_at: Option<u64>,
    pub kind: String,
    pub fingerprint: String,
    /// The day (Unix days) of the last expiry warning, so it shows at most once a day.
    pub warned_day: Option<u64>,
    /// Where this token has been accepted: workspace slugs, and [`ANY_WORKSPACE`] for a
    /// request without a path. A 401 elsewhere does not prove it revoked.
    pub worked: Vec<String>,
    /// The fingerprint of a token Bitbucket refused for this entry's workspace although it
    /// never worked there: `get` does not offer it there again, so git prompts.
    pub refused: Option<String>,
}

/// The `worked` mark of a request that named no workspace.
pub const ANY_WORKSPACE: &str = "*";

impl EntryFacts {
    /// Facts for `token`, saved now.
    pub fn new(token: &Token, expires_at: Option<u64>) -> Self {
        Self {
            saved_at: dates::now(),
            expires_at,
            kind: crate::token::TokenKind::of_token(token).label().to_owned(),
            fingerprint: token.fingerprint(),
            warned_day: None,
            worked: Vec::new(),
            refused: None,
        }
    }

    /// A record that only marks `token` as refused here (no token of this entry is known).
    pub fn refusal_of(token: &Token) -> Self {
        Self {
            refused: Some(token.fingerprint()),
            ..Self::default()
        }
    }

    /// True when `token` worked in `workspace` (`None`: a request without a path, for which
    /// any success counts).
    pub fn worked_in(&self, workspace: Option<&str>) -> bool {
        match workspace {
            Some(ws) => self.worked.iter().any(|w| w == ws),
            None => !self.worked.is_empty(),
        }
    }

    /// True when `token` was refused here and never worked since.
    pub fn refuses(&self, token: &Token) -> bool {
        self.refused.as_deref() == Some(token.fingerprint().as_str())
    }

    /// True when these facts were recorded for `token`.
    pub fn describes(&self, token: &Token) -> bool {
        self.fingerprint == token.fingerprint()
    }

    fn encode(&self) -> String {
        let mut text = format!(
            "saved={} kind={} fingerprint={}",
            self.saved_at, self.kind, self.fingerprint
        );
        if let Some(expires) = self.expires_at {
            text.push_str(&format!(" expires={expires}"));
        }
        if let Some(day) = self.warned_day {
            text.push_str(&format!(" warned={day}"));
        }
        if !self.worked.is_empty() {
            text.push_str(&format!(" worked={}", self.worked.join(",")));
        }
        if let Some(refused) = &self.refused {
            text.push_str(&format!(" refused={refused}"));
        }
        text
    }

    fn decode(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?;
        let mut facts = EntryFacts::default();
        for field in text.split(' ') {
            match field.split_once('=')? {
                ("saved", v) => facts.saved_at = v.parse().ok()?,
                ("expires", v) => facts.expires_at = Some(v.parse().ok()?),
                ("kind", v) => facts.kind = v.to_owned(),
                ("fingerprint", v) => facts.fingerprint = v.to_owned(),
                ("warned", v) => facts.warned_day = Some(v.parse().ok()?),
                ("worked", v) => facts.worked = v.split(',').map(str::to_owned).collect(),
                ("refused", v) => facts.refused = Some(v.to_owned()),
                _ => {} // a field from a newer version
            }
        }
        Some(facts)
    }
}

/// One record as listed by [`Metadata::all`].
#[derive(Debug, Clone)]
pub struct Record {
    pub store: String,
    pub account: String,
    pub facts: EntryFacts,
}

/// The metadata file, or any other [`Backing`] (tests use memory).
pub struct Metadata {
    backing: Box<dyn Backing>,
}

impl Metadata {
    /// The metadata file in the user data directory.
    pub fn in_dir(dir: &Path) -> Self {
        Self::with_backing(Box::new(
            FileBacking::new(dir, "metadata", HEADER, Privacy::Public).index(),
        ))
    }

    pub fn with_backing(backing: Box<dyn Backing>) -> Self {
        Self { backing }
    }

    fn map_key(backend: Backend, key: &EntryKey) -> (String, String) {
        (backend.name().to_owned(), key.account())
    }

    /// The facts recorded for this entry, if any (a damaged file reads as none). Reads the
    /// file only as far as the record.
    pub fn get(&self, backend: Backend, key: &EntryKey) -> Option<EntryFacts> {
        let value = self.backing.find(&Self::map_key(backend, key)).ok()??;
        EntryFacts::decode(&value)
    }

    /// The records of two entries (`get` needs the record of the entry it answers from and of
    /// the entry a refusal is noted on; often the same, then read once). Each lookup reads the
    /// file only as far as its record.
    pub fn get_two(
        &self,
        backend: Backend,
        first: &EntryKey,
        second: &EntryKey,
    ) -> (Option<EntryFacts>, Option<EntryFacts>) {
        let held = self.get(backend, first);
        if first == second {
            return (held.clone(), held);
        }
        (held, self.get(backend, second))
    }

    /// The facts recorded for this entry if they describe exactly `token` (a record left by an
    /// earlier token says nothing about this one).
    pub fn facts_for(&self, backend: Backend, key: &EntryKey, token: &Token) -> Option<EntryFacts> {
        self.get(backend, key)
            .filter(|facts| facts.describes(token))
    }

    /// Every record, sorted by store and account.
    pub fn all(&self) -> Result<Vec<Record>, Error> {
        Ok(self
            .backing
            .load()?
            .iter()
            .filter_map(|((store, account), value)| {
                Some(Record {
                    store: store.clone(),
                    account: account.clone(),
                    facts: EntryFacts::decode(value)?,
                })
            })
            .collect())
    }

    /// Replaces this entry's record.
    pub fn record(
        &self,
        backend: Backend,
        key: &EntryKey,
        facts: &EntryFacts,
    ) -> Result<(), Error> {
        let facts = facts.clone();
        self.modify(backend, key, &mut |_| Some(facts.clone()))
    }

    /// Changes one record as one step under the writer lock: `change` gets the record as it
    /// is now (not as this process read it earlier) and returns the new one, or `None` to
    /// remove it. Writes nothing when the record is unchanged.
    pub fn modify(
        &self,
        backend: Backend,
        key: &EntryKey,
        change: &mut dyn FnMut(Option<EntryFacts>) -> Option<EntryFacts>,
    ) -> Result<(), Error> {
        let map_key = Self::map_key(backend, key);
        self.backing.update(&mut |map: &mut SecretMap| {
            let current = map.get(&map_key).and_then(|v| EntryFacts::decode(v));
            match change(current.clone()) {
                next if next == current => {}
                Some(next) => {
                    map.insert(map_key.clone(), Zeroizing::new(next.encode().into_bytes()));
                }
                None => {
                    map.remove(&map_key);
                }
            }
            Ok(())
        })
    }

    pub fn remove(&self, backend: Backend, key: &EntryKey) -> Result<(), Error> {
        self.remove_many(backend, std::slice::from_ref(key))
    }

    /// Removes these entries' records in one read-modify-write under the writer lock (which
    /// writes nothing when there is nothing to remove).
    pub fn remove_many(&self, backend: Backend, keys: &[EntryKey]) -> Result<(), Error> {
        let map_keys: Vec<_> = keys.iter().map(|k| Self::map_key(backend, k)).collect();
        self.backing.update(&mut |map: &mut SecretMap| {
            for key in &map_keys {
                map.remove(key);
            }
            Ok(())
        })
    }

    /// Notes that today's warning was given (on the record as it is now).
    pub fn mark_warned(&self, backend: Backend, key: &EntryKey, now: u64) -> Result<(), Error> {
        self.modify(backend, key, &mut |facts| {
            let mut facts = facts?;
            facts.warned_day = Some(now / SECONDS_PER_DAY);
            Some(facts)
        })
    }

    /// Notes that `token`, stored under `key`, worked in `workspace` ([`ANY_WORKSPACE`] for
    /// none). Reads first and writes only the first time, so git's `store` after every
    /// success costs one read.
    pub fn note_worked(
        &self,
        backend: Backend,
        key: &EntryKey,
        token: &Token,
        workspace: &str,
    ) -> Result<(), Error> {
        let known = self
            .facts_for(backend, key, token)
            .is_some_and(|f| f.worked.iter().any(|w| w == workspace) && !f.refuses(token));
        if known {
            return Ok(());
        }
        self.modify(backend, key, &mut |facts| {
            let mut facts = facts
                .filter(|f| f.describes(token))
                .unwrap_or_else(|| EntryFacts::new(token, None));
            if !facts.worked.iter().any(|w| w == workspace) {
                facts.worked.push(workspace.to_owned());
            }
            if facts.refuses(token) {
                facts.refused = None; // it works here after all
            }
            Some(facts)
        })
    }

    /// Marks `token` as refused for `key` (the entry the request would use first).
    pub fn note_refused(
        &self,
        backend: Backend,
        key: &EntryKey,
        token: &Token,
    ) -> Result<(), Error> {
        self.modify(backend, key, &mut |facts| {
            let mut facts = facts.unwrap_or_else(|| EntryFacts::refusal_of(token));
            facts.refused = Some(token.fingerprint());
            Some(facts)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::HostKey;
    use crate::store::memory::MemoryBacking;

    fn key() -> EntryKey {
        EntryKey::workspace(HostKey::parse("bitbucket.org").unwrap(), "acme".into())
    }

    #[test]
    fn records_round_trip_and_name_no_secret() {
        let metadata = Metadata::with_backing(Box::new(MemoryBacking::default()));
        let token = Token::new("ATATT3xFfGF0secret-body=1A2B3C4D".into());
        let facts = EntryFacts::new(&token, Some(1_800_000_000));
        metadata.record(Backend::File, &key(), &facts).unwrap();
        assert_eq!(metadata.get(Backend::File, &key()), Some(facts.clone()));
        assert_eq!(metadata.get(Backend::Keyutils, &key()), None);
        assert!(!facts.encode().contains("secret-body"));
        assert!(facts.describes(&token));
        assert!(!facts.describes(&Token::new("ATATT3xFfGF0other-body=99998888".into())));

        metadata
            .mark_warned(Backend::File, &key(), 20 * SECONDS_PER_DAY + 5)
            .unwrap();
        assert_eq!(
            metadata.get(Backend::File, &key()).unwrap().warned_day,
            Some(20)
        );
        let all = metadata.all().unwrap();
        assert_eq!(
            (all[0].store.as_str(), all[0].account.as_str()),
            ("file", "bitbucket.org/acme")
        );
        metadata.remove(Backend::File, &key()).unwrap();
        assert_eq!(metadata.get(Backend::File, &key()), None);
    }

    #[test]
    fn unknown_fields_are_ignored_and_garbage_reads_as_nothing() {
        let facts = EntryFacts::decode(b"saved=1 kind=api-token fingerprint=x future=1").unwrap();
        assert_eq!(facts.saved_at, 1);
        assert_eq!(EntryFacts::decode(b"saved=notanumber"), None);
        assert_eq!(EntryFacts::decode(b"\xff"), None);
    }
}
