//! `get`, `store` and `erase`: git's protocol, Bitbucket's rules and the keychain, with no I/O
//! of its own. The caller hands in a decoded request and a way to open the store; it gets
//! back the response to write (if any) and notes for stderr. The store is opened only once a
//! request is known to be for a served host, so other hosts cost nothing.
//!
//! A 401 does not prove a token revoked: Bitbucket answers the same for a valid token whose
//! account cannot see the repository, and a URL can come from anyone (a submodule). So `store`
//! remembers where each token has worked, and `erase` deletes a token only where it had
//! worked before; elsewhere it marks the token refused for that workspace, whose `get` then
//! answers the username only, and the token git prompts for becomes that workspace's entry.
//! `erase` lives in `helper/erase.rs`.

use crate::dates::{self, SECONDS_PER_DAY};
use crate::metadata::{ANY_WORKSPACE, EntryFacts, Metadata, WARN_DAYS};
use crate::policy::{
    API_TOKEN_USERNAME, HOW_TO_CREATE_A_TOKEN, HostKey, Scope, ServedHosts, path_has_dot_segments,
    refusal, workspace_of,
};
use crate::protocol::{Request, Response};
use crate::store::lock::WriterLock;
use crate::store::{Backend, DataDir, EntryKey, Keychain, StoreError};
use crate::token::{Token, TokenKind};

mod erase;

/// The three operations git asks of a helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Get,
    Store,
    Erase,
}

/// What to write to stdout (nothing for `None`) and to stderr.
#[derive(Debug, Default)]
pub struct Outcome {
    pub response: Option<Response>,
    pub notes: Vec<String>,
}

/// Everything an operation needs besides the request.
pub struct Helper<'a> {
    pub hosts: &'a ServedHosts,
    /// `BITBUCKET_API_TOKEN`, for CI: used before any store, never written anywhere.
    pub env_token: Option<Token>,
    pub open_store: &'a dyn Fn() -> Result<Keychain, StoreError>,
    /// Non-secret facts per entry (expiry); `None` when there is no data directory.
    pub metadata: Option<&'a Metadata>,
    /// The current time in Unix seconds (a parameter so tests can move it).
    pub now: u64,
    /// Where the user's writer lock lives ([`DataDir::lock`]); `None` without a home
    /// directory (and in unit tests), when there is nobody to coordinate with.
    pub data_dir: Option<&'a DataDir>,
}

/// The entries a request may use, most specific first.
struct Keys {
    workspace: Option<EntryKey>,
    host: EntryKey,
    /// The path has `.` or `..` segments (decoded): which workspace it reaches is unclear.
    dotted: bool,
}

impl Keys {
    fn new(host: HostKey, path: Option<&str>) -> Self {
        let dotted = path.is_some_and(path_has_dot_segments);
        let workspace = workspace_of(path).filter(|_| !dotted);
        Self {
            workspace: workspace.map(|ws| EntryKey::workspace(host.clone(), ws)),
            host: EntryKey::host(host),
            dotted,
        }
    }

    fn in_lookup_order(&self) -> impl Iterator<Item = &EntryKey> {
        self.workspace.iter().chain([&self.host])
    }

    /// The entry a refusal is recorded on: the workspace's, else the host's.
    fn first(&self) -> &EntryKey {
        self.workspace.as_ref().unwrap_or(&self.host)
    }

    /// The workspace slug, or [`ANY_WORKSPACE`] for a request without one.
    fn workspace_mark(&self) -> &str {
        self.workspace
            .as_ref()
            .and_then(|k| k.workspace.as_deref())
            .unwrap_or(ANY_WORKSPACE)
    }
}

impl Helper<'_> {
    pub fn run(&self, operation: Operation, request: &Request) -> Outcome {
        let mut outcome = Outcome::default();
        let host = match self
            .hosts
            .scope(request.protocol.as_deref(), request.host.as_deref())
        {
            Scope::NotOurs => return outcome,
            Scope::PlainHttp(host) => {
                if operation == Operation::Get {
                    outcome.notes.push(format!(
                        "refusing to send a Bitbucket token over plain http to {}; use an \
                         https:// remote URL",
                        host.as_str()
                    ));
                    outcome.response = Some(Response {
                        quit: true,
                        ..Response::default()
                    });
                }
                return outcome;
            }
            Scope::Served(host) => host,
        };
        let keys = Keys::new(host, request.path.as_deref());
        match operation {
            Operation::Get => self.get(&keys, &mut outcome),
            Operation::Store => self.store(&keys, request.password.as_ref(), &mut outcome),
            Operation::Erase => self.erase(&keys, request.password.as_ref(), &mut outcome),
        }
        outcome
    }

    fn get(&self, keys: &Keys, outcome: &mut Outcome) {
        let mut response = Response {
            username: Some(API_TOKEN_USERNAME.to_owned()),
            ..Response::default()
        };
        if let Some(token) = self.usable_env_token(&mut outcome.notes) {
            response.password = Some(token);
            outcome.response = Some(response);
            return;
        }
        match (self.open_store)() {
            Err(e) => outcome
                .notes
                .push(format!("{e}; git will ask for the token instead")),
            Ok(keychain) => {
                if let Some((key, token)) = first_usable_token(&keychain, keys, &mut outcome.notes)
                {
                    let (held, here) = match self.metadata {
                        Some(m) => m.get_two(keychain.backend(), &key, keys.first()),
                        None => (None, None),
                    };
                    let facts = held.filter(|f| f.describes(&token));
                    let expiry = facts.as_ref().and_then(|f| f.expires_at);
                    let refused = here.is_some_and(|f| f.refuses(&token));
                    if refused {
                        outcome.notes.push(format!(
                            "the token for {key} was refused for {} before; git will ask for \
                             the token to use there",
                            keys.first()
                        ));
                    }
                    if !refused
                        && self.still_valid(&keychain, &key, facts.as_ref(), &mut outcome.notes)
                    {
                        response.password = Some(token);
                        response.password_expiry_utc = expiry;
                    }
                }
                outcome.notes.extend(keychain.damage());
            }
        }
        outcome.response = Some(response);
    }

    /// False for an expired token (never handed out: git prompts for a new one). Warns when
    /// the expiry is near, at most once a day per entry.
    fn still_valid(
        &self,
        keychain: &Keychain,
        key: &EntryKey,
        facts: Option<&EntryFacts>,
        notes: &mut Vec<String>,
    ) -> bool {
        let Some(facts) = facts else { return true };
        let Some(expires) = facts.expires_at else {
            return true;
        };
        let days_left = dates::days_until(expires, self.now);
        let date = dates::format_date(expires);
        if self.now >= expires {
            notes.push(format!(
                "the token for {key} expired on {date}; git will ask for a new one.\n\
                 {HOW_TO_CREATE_A_TOKEN}"
            ));
            return false;
        }
        let today = self.now / SECONDS_PER_DAY;
        if days_left <= WARN_DAYS && facts.warned_day != Some(today) {
            notes.push(format!(
                "the token for {key} expires on {date} ({days_left} days left). Create a new \
                 one and run `{}`.",
                crate::diagnostics::login_command(key)
            ));
            // Never waits for a writer: if one holds the lock, the warning shows again later.
            let lock = self.data_dir.map(DataDir::lock_if_free);
            if let Some(metadata) = self.metadata
                && !matches!(lock, Some(None))
            {
                let _ = metadata.mark_warned(keychain.backend(), key, self.now);
            }
        }
        true
    }

    /// The CI token, unless it is a kind Bitbucket will not take.
    fn usable_env_token(&self, notes: &mut Vec<String>) -> Option<Token> {
        let token = self.env_token.as_ref()?;
        match refusal(TokenKind::of_token(token)) {
            None => Some(token.clone()),
            Some(why) => {
                notes.push(format!(
                    "BITBUCKET_API_TOKEN is not used: {why}\n{HOW_TO_CREATE_A_TOKEN}"
                ));
                None
            }
        }
    }

    fn store(&self, keys: &Keys, password: Option<&Token>, outcome: &mut Outcome) {
        let Some(password) = password.filter(|p| !p.expose().is_empty()) else {
            return; // nothing to keep; an empty password never replaces a token
        };
        if let Some(why) = refusal(TokenKind::of_token(password)) {
            outcome
                .notes
                .push(format!("{why}\n{HOW_TO_CREATE_A_TOKEN}"));
            return;
        }
        if self
            .env_token
            .as_ref()
            .is_some_and(|env| env.constant_time_eq(password))
        {
            return; // BITBUCKET_API_TOKEN is never written anywhere
        }
        // A lock that cannot be made (read-only data directory) leaves the write unlocked: a
        // store deletes nothing. One held by another writer past the wait means not saving.
        let Some((_serialised, keychain)) =
            self.lock_and_open(false, outcome, |e| format!("the token was not saved: {e}"))
        else {
            return;
        };
        // A workspace whose token was erased or refused keeps a metadata record, so the token
        // git prompted for replaces the workspace's, not the host's. Asked only when the
        // workspace has no entry: the record of an entry that holds the token is read once,
        // by `note_worked`.
        let remembered = |workspace: &EntryKey| {
            self.metadata
                .is_some_and(|m| m.get(keychain.backend(), workspace).is_some())
        };
        match store_unless_unchanged(&keychain, keys, password, &remembered, &mut outcome.notes) {
            Ok(Stored::Wrote(key)) => {
                self.record_facts(&keychain, &key, keys, password, &mut outcome.notes)
            }
            Ok(Stored::Unchanged(key)) => {
                if let Some(metadata) = self.metadata {
                    let mark = keys.workspace_mark();
                    let _ = metadata.note_worked(keychain.backend(), &key, password, mark);
                }
            }
            Err(e) => outcome.notes.push(format!("the token was not saved: {e}")),
        }
        outcome.notes.extend(keychain.damage());
    }
}

/// What `store` did.
enum Stored {
    Wrote(EntryKey),
    /// The entry already held this token.
    Unchanged(EntryKey),
}

impl Helper<'_> {
    /// The writer lock (`deleting`: see [`DataDir::writer_lock`]) and then the store, as every
    /// change takes them; `None` when either fails, with `failed`'s words for why in the notes.
    fn lock_and_open(
        &self,
        deleting: bool,
        outcome: &mut Outcome,
        failed: impl Fn(&dyn std::fmt::Display) -> String,
    ) -> Option<(Option<WriterLock>, Keychain)> {
        let lock = match self.data_dir.map(|d| d.writer_lock(deleting)).transpose() {
            Ok(lock) => lock.flatten(),
            Err(e) => {
                outcome.notes.push(failed(&e));
                return None;
            }
        };
        match (self.open_store)() {
            Ok(keychain) => Some((lock, keychain)),
            Err(e) => {
                outcome.notes.push(failed(&e));
                None
            }
        }
    }

    /// A new token's facts: saved now (git stores after a success, so it worked for this
    /// request's workspace), expiry unknown until the user tells us.
    fn record_facts(
        &self,
        keychain: &Keychain,
        key: &EntryKey,
        keys: &Keys,
        token: &Token,
        notes: &mut Vec<String>,
    ) {
        let Some(metadata) = self.metadata else {
            return;
        };
        let mut facts = EntryFacts::new(token, None);
        facts.worked.push(keys.workspace_mark().to_owned());
        if let Err(e) = metadata.record(keychain.backend(), key, &facts) {
            notes.push(format!("the token was saved, but not its date: {e}"));
        }
    }
}

/// The first stored token that Bitbucket could accept, workspace entry first.
fn first_usable_token(
    keychain: &Keychain,
    keys: &Keys,
    notes: &mut Vec<String>,
) -> Option<(EntryKey, Token)> {
    for key in keys.in_lookup_order() {
        match keychain.get(key) {
            Ok(None) => {}
            Ok(Some(token)) => match refusal(TokenKind::of_token(&token)) {
                None => return Some((key.clone(), token)),
                Some(why) => notes.push(format!(
                    "the secret stored for {key} is not used: {why}\n{HOW_TO_CREATE_A_TOKEN}"
                )),
            },
            Err(e) => {
                notes.push(format!("{e}; git will ask for the token instead"));
                return None;
            }
        }
    }
    None
}

/// Saves under the key `get` reads first: an existing (or `remembered`, i.e. erased after a
/// 401) workspace entry, else the host entry. Each entry is read once, `remembered` asked only
/// for a workspace without an entry.
/// Writes nothing when that entry already holds this token (git stores after every success).
/// Returns the key written, if any.
fn store_unless_unchanged(
    keychain: &Keychain,
    keys: &Keys,
    password: &Token,
    remembered: &dyn Fn(&EntryKey) -> bool,
    notes: &mut Vec<String>,
) -> Result<Stored, StoreError> {
    let workspace_entry = match &keys.workspace {
        Some(workspace) => match keychain.get(workspace)? {
            Some(existing) => Some((workspace, Some(existing))),
            None if remembered(workspace) => Some((workspace, None)),
            None => None,
        },
        None => None,
    };
    let (key, existing) = match workspace_entry {
        Some((key, existing)) => (key, existing),
        None => (&keys.host, keychain.get(&keys.host)?),
    };
    if existing.is_some_and(|e| e.constant_time_eq(password)) {
        return Ok(Stored::Unchanged(key.clone()));
    }
    keychain.set(key, password)?;
    match keychain.backend() {
        Backend::Keyutils => notes.push(crate::store::keyutils_note().to_owned()),
        Backend::File => notes.push(crate::store::file::PLAINTEXT_WARNING.to_owned()),
        _ => {}
    }
    Ok(Stored::Wrote(key.clone()))
}

#[cfg(test)]
#[path = "helper_tests.rs"]
mod tests;
