//! Non-secret facts about each stored token: when it was saved, when it expires (Atlassian
//! makes you choose, but no API tells a token its own expiry, so the user tells us with
//! `login --expires`), its kind and a masked fingerprint, the day we last warned about it, the
//! repositories where it has worked and those where Bitbucket refused it.
//!
//! Keychains hold secrets, not dates, so these facts live in a small line file of their own
//! (`metadata` in the user data directory, [`super::line_file`]). Only [`super::TokenStore`]
//! reads and writes it, beside the keychain, so the two stay in step. Every change is a
//! read-modify-write of one record under the user's writer lock, so no writer loses a field
//! another wrote meanwhile. A fingerprint ties each record to the token it describes: a record
//! whose fingerprint no longer matches is ignored. The file is an index, not the truth:
//! `status` and `logout --all` list the keychain itself.

use std::path::Path;
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use super::line_file::{LineFile, LineFileError, LineMap, Privacy};
use super::{Backend, EntryKey};
use crate::dates;
use crate::token::Token;

const HEADER: &str = "# git-credential-bitbucket metadata: no secrets, safe to read\n";

/// How close to expiry a warning starts.
pub const WARN_DAYS: i64 = 14;

/// The place of a request without a path (git sends one only with `credential.useHttpPath`).
pub const NO_PATH: &str = "*";

/// How many places each list keeps; the oldest go first.
const MAX_PLACES: usize = 32;

/// What is known about one stored token (`Default`: nothing yet).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFacts {
    pub saved_at: u64,
    pub expires_at: Option<u64>,
    pub kind: String,
    pub fingerprint: String,
    /// The day (Unix days) of the last expiry warning, so it shows at most once a day.
    pub warned_day: Option<u64>,
    /// Where this token has been accepted, oldest first: repositories (`workspace/repo`), and
    /// [`NO_PATH`] for a request without a path. (Records of older versions name workspaces
    /// here; those count for nothing.)
    pub worked: Vec<String>,
    /// Where Bitbucket refused this token without it being found revoked (its account cannot
    /// see the repository): `get` does not offer it there again, so git prompts.
    pub refused: Vec<String>,
    /// True when it worked over plain http (a loopback test server): how to ask that host again.
    pub plain_http: bool,
}

impl EntryFacts {
    /// Facts for `token`, saved now.
    pub fn new(token: &Token, expires_at: Option<u64>) -> Self {
        Self {
            saved_at: dates::now(),
            expires_at,
            kind: crate::token::TokenKind::of_token(token).label().to_owned(),
            fingerprint: token.fingerprint(),
            ..Self::default()
        }
    }

    /// True when the token worked at `place` (a repository or [`NO_PATH`]).
    pub fn worked_at(&self, place: &str) -> bool {
        self.worked.iter().any(|w| w == place)
    }

    /// True when the token was refused at `place` and has not worked there since.
    pub fn refused_at(&self, place: &str) -> bool {
        self.refused.iter().any(|r| r == place)
    }

    /// The repository, other than `except`, where the token most recently first worked: where
    /// to ask Bitbucket again whether a refused token still works.
    pub fn worked_elsewhere(&self, except: &str) -> Option<&str> {
        self.worked
            .iter()
            .rev()
            .map(String::as_str)
            .find(|w| *w != except && w.contains('/'))
    }

    /// Records that the token worked at `place` (over plain http when `plain_http`); a
    /// refusal there is forgotten. False when nothing changed.
    pub fn note_worked(&mut self, place: &str, plain_http: bool) -> bool {
        let before = (self.worked.len(), self.refused.len(), self.plain_http);
        if !self.worked_at(place) {
            push_bounded(&mut self.worked, place);
        }
        self.refused.retain(|r| r != place);
        self.plain_http |= plain_http && place != NO_PATH;
        before != (self.worked.len(), self.refused.len(), self.plain_http)
    }

    /// Records that the token was refused at `place`.
    pub fn note_refused(&mut self, place: &str) {
        if !self.refused_at(place) {
            push_bounded(&mut self.refused, place);
        }
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
        if !self.refused.is_empty() {
            text.push_str(&format!(" refused_at={}", self.refused.join(",")));
        }
        if self.plain_http {
            text.push_str(" scheme=http");
        }
        text
    }

    fn decode(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?;
        let mut facts = EntryFacts::default();
        let places = |v: &str| v.split(',').map(str::to_owned).collect();
        for field in text.split(' ') {
            match field.split_once('=')? {
                ("saved", v) => facts.saved_at = v.parse().ok()?,
                ("expires", v) => facts.expires_at = Some(v.parse().ok()?),
                ("kind", v) => facts.kind = v.to_owned(),
                ("fingerprint", v) => facts.fingerprint = v.to_owned(),
                ("warned", v) => facts.warned_day = Some(v.parse().ok()?),
                ("worked", v) => facts.worked = places(v),
                ("refused_at", v) => facts.refused = places(v),
                ("scheme", v) => facts.plain_http = v == "http",
                // a field from a newer version, or `refused=` of an older one (a fingerprint
                // refused per workspace), which no longer means anything
                _ => {}
            }
        }
        Some(facts)
    }
}

/// Appends `place`, dropping the oldest beyond [`MAX_PLACES`].
fn push_bounded(list: &mut Vec<String>, place: &str) {
    list.push(place.to_owned());
    if list.len() > MAX_PLACES {
        list.remove(0);
    }
}

/// One record as listed by [`FactsFile::all`].
#[derive(Debug, Clone)]
pub(super) struct Record {
    pub backend: String,
    pub account: String,
    pub facts: EntryFacts,
}

/// Where the facts are kept: the file, or memory (unit tests, the fuzz target).
enum Kept {
    File(LineFile),
    Memory(Arc<Mutex<LineMap>>),
}

/// The facts file.
pub(super) struct FactsFile {
    kept: Kept,
}

type Result<T> = std::result::Result<T, LineFileError>;

impl FactsFile {
    /// The facts file in the user data directory.
    pub fn in_dir(dir: &Path) -> Self {
        let file = LineFile::new(dir, "metadata", HEADER, Privacy::Public).index();
        Self {
            kept: Kept::File(file),
        }
    }

    /// Facts kept in memory only, shared by everyone holding `map`.
    pub fn shared(map: Arc<Mutex<LineMap>>) -> Self {
        Self {
            kept: Kept::Memory(map),
        }
    }

    fn line_key(backend: Backend, key: &EntryKey) -> (String, String) {
        (backend.name().to_owned(), key.account())
    }

    /// The facts recorded for this entry, if any (a damaged file reads as none). Reads the
    /// file only as far as the record.
    pub fn get(&self, backend: Backend, key: &EntryKey) -> Option<EntryFacts> {
        let (store, account) = Self::line_key(backend, key);
        let value = match &self.kept {
            Kept::File(file) => file.find((&store, &account)).ok()??,
            Kept::Memory(map) => lock(map).get(&(store, account))?.clone(),
        };
        EntryFacts::decode(&value)
    }

    /// Every record, sorted by backend and account.
    pub fn all(&self) -> Result<Vec<Record>> {
        let map = match &self.kept {
            Kept::File(file) => file.load()?,
            Kept::Memory(map) => lock(map).clone(),
        };
        Ok(map
            .iter()
            .filter_map(|((backend, account), value)| {
                Some(Record {
                    backend: backend.clone(),
                    account: account.clone(),
                    facts: EntryFacts::decode(value)?,
                })
            })
            .collect())
    }

    fn update(&self, change: &mut dyn FnMut(&mut LineMap)) -> Result<()> {
        match &self.kept {
            Kept::File(file) => file.update(&mut |map| {
                change(map);
                Ok::<(), LineFileError>(())
            }),
            Kept::Memory(map) => {
                change(&mut lock(map));
                Ok(())
            }
        }
    }

    /// Changes one record as one step under the writer lock: `change` gets the record as it
    /// is now (not as this process read it earlier) and returns the new one, or `None` to
    /// remove it. Writes nothing when the record is unchanged.
    pub fn modify(
        &self,
        backend: Backend,
        key: &EntryKey,
        change: &mut dyn FnMut(Option<EntryFacts>) -> Option<EntryFacts>,
    ) -> Result<()> {
        let line_key = Self::line_key(backend, key);
        self.update(&mut |map: &mut LineMap| {
            let current = map.get(&line_key).and_then(|v| EntryFacts::decode(v));
            match change(current.clone()) {
                next if next == current => {}
                Some(next) => {
                    map.insert(line_key.clone(), Zeroizing::new(next.encode().into_bytes()));
                }
                None => {
                    map.remove(&line_key);
                }
            }
        })
    }

    /// Removes these entries' records in one read-modify-write under the writer lock (which
    /// writes nothing when there is nothing to remove).
    pub fn remove_many(&self, backend: Backend, keys: &[EntryKey]) -> Result<()> {
        let line_keys: Vec<_> = keys.iter().map(|k| Self::line_key(backend, k)).collect();
        self.update(&mut |map: &mut LineMap| {
            for key in &line_keys {
                map.remove(key);
            }
        })
    }
}

fn lock(map: &Mutex<LineMap>) -> std::sync::MutexGuard<'_, LineMap> {
    map.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::HostKey;

    fn key() -> EntryKey {
        EntryKey::workspace(HostKey::parse("bitbucket.org").unwrap(), "acme".into())
    }

    #[test]
    fn records_round_trip_and_name_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        for facts_file in [
            FactsFile::shared(Arc::default()),
            FactsFile::in_dir(dir.path()),
        ] {
            let token = Token::new("ATATT3xFfGF0secret-body=1A2B3C4D".into());
            let facts = EntryFacts::new(&token, Some(1_800_000_000));
            let recorded = facts.clone();
            facts_file
                .modify(Backend::File, &key(), &mut |_| Some(recorded.clone()))
                .unwrap();
            assert_eq!(facts_file.get(Backend::File, &key()), Some(facts.clone()));
            assert_eq!(facts_file.get(Backend::Keyutils, &key()), None);
            assert!(!facts.encode().contains("secret-body"));
            assert!(facts.describes(&token));
            assert!(!facts.describes(&Token::new("ATATT3xFfGF0other-body=99998888".into())));
            let all = facts_file.all().unwrap();
            assert_eq!(
                (all[0].backend.as_str(), all[0].account.as_str()),
                ("file", "bitbucket.org/acme")
            );
            facts_file
                .remove_many(Backend::File, std::slice::from_ref(&key()))
                .unwrap();
            assert_eq!(facts_file.get(Backend::File, &key()), None);
        }
    }

    #[test]
    fn places_round_trip_and_a_success_forgets_a_refusal_there() {
        let token = Token::new("ATATT3xFfGF0secret-body=1A2B3C4D".into());
        let mut facts = EntryFacts::new(&token, None);
        facts.note_worked("acme/app", true);
        facts.note_worked(NO_PATH, false);
        facts.note_refused("acme/restricted");
        let back = EntryFacts::decode(facts.encode().as_bytes()).unwrap();
        assert_eq!(back, facts);
        assert!(back.worked_at("acme/app") && back.refused_at("acme/restricted"));
        assert!(back.plain_http);
        assert_eq!(back.worked_elsewhere("acme/restricted"), Some("acme/app"));
        assert_eq!(
            back.worked_elsewhere("acme/app"),
            None,
            "* is no repository"
        );
        facts.note_worked("acme/restricted", false);
        assert!(!facts.refused_at("acme/restricted"));
        assert!(!facts.note_worked("acme/restricted", false), "nothing new");
        for i in 0..40 {
            facts.note_refused(&format!("ws/r{i}"));
        }
        assert_eq!(facts.refused.len(), MAX_PLACES);
        assert!(facts.refused_at("ws/r39") && !facts.refused_at("ws/r0"));
        let old = EntryFacts::decode(b"saved=1 kind=api-token fingerprint=x refused=x").unwrap();
        assert!(
            old.refused.is_empty(),
            "an old per-workspace refusal means nothing now"
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_garbage_reads_as_nothing() {
        let facts = EntryFacts::decode(b"saved=1 kind=api-token fingerprint=x future=1").unwrap();
        assert_eq!(facts.saved_at, 1);
        assert_eq!(EntryFacts::decode(b"saved=notanumber"), None);
        assert_eq!(EntryFacts::decode(b"\xff"), None);
    }
}
