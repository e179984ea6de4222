//! `get`, `store` and `erase`: git's protocol, Bitbucket's rules and the token store, with no
//! I/O of its own. The caller hands in a decoded request and a way to open the store; it gets
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
use crate::policy::{
    API_TOKEN_USERNAME, HOW_TO_CREATE_A_TOKEN, HostKey, Scope, ServedHosts, path_has_dot_segments,
    refusal, workspace_of,
};
use crate::protocol::{Request, Response};
use crate::store::{
    ANY_WORKSPACE, EntryFacts, EntryKey, StoreError, Stored, TokenStore, WARN_DAYS, Writer,
};
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
    /// Opens the token store (keychain and facts); called only for a request that is ours.
    pub open_store: &'a dyn Fn() -> Result<TokenStore, StoreError>,
    /// The current time in Unix seconds (a parameter so tests can move it).
    pub now: u64,
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
            Ok(store) => {
                if let Some((stored, token)) = first_usable_token(&store, keys, &mut outcome.notes)
                {
                    let here = match &stored.key == keys.first() {
                        true => stored.record.clone(),
                        false => store.facts(keys.first()),
                    };
                    let refused = here.is_some_and(|f| f.refuses(&token));
                    if refused {
                        outcome.notes.push(format!(
                            "the token for {} was refused for {} before; git will ask for \
                             the token to use there",
                            stored.key,
                            keys.first()
                        ));
                    }
                    if !refused && self.still_valid(&store, &stored, &mut outcome.notes) {
                        response.password_expiry_utc = stored.facts().and_then(|f| f.expires_at);
                        response.password = Some(token);
                    }
                }
                outcome.notes.extend(store.damage());
            }
        }
        outcome.response = Some(response);
    }

    /// False for an expired token (never handed out: git prompts for a new one). Warns when
    /// the expiry is near, at most once a day per entry.
    fn still_valid(&self, store: &TokenStore, stored: &Stored, notes: &mut Vec<String>) -> bool {
        let Some(facts) = stored.facts() else {
            return true;
        };
        let Some(expires) = facts.expires_at else {
            return true;
        };
        let key = &stored.key;
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
            store.mark_warned(key, self.now);
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
        let failed = |e: &dyn std::fmt::Display| format!("the token was not saved: {e}");
        let Some(store) = self.open(outcome, failed) else {
            return;
        };
        let Some(writer) = writer_or_note(&store, false, outcome, failed) else {
            return;
        };
        match store_unless_unchanged(&store, &writer, keys, password) {
            Ok(notes) => outcome.notes.extend(notes),
            Err(e) => outcome.notes.push(failed(&e)),
        }
        outcome.notes.extend(store.damage());
    }

    /// The token store, or `None` with `failed`'s words for why in the notes.
    fn open(
        &self,
        outcome: &mut Outcome,
        failed: impl Fn(&dyn std::fmt::Display) -> String,
    ) -> Option<TokenStore> {
        match (self.open_store)() {
            Ok(store) => Some(store),
            Err(e) => {
                outcome.notes.push(failed(&e));
                None
            }
        }
    }
}

/// The writer of `store` (`deleting`: see [`TokenStore::writer`]), or `None` with `failed`'s
/// words for why in the notes.
fn writer_or_note<'s>(
    store: &'s TokenStore,
    deleting: bool,
    outcome: &mut Outcome,
    failed: impl Fn(&dyn std::fmt::Display) -> String,
) -> Option<Writer<'s>> {
    match store.writer(deleting) {
        Ok(writer) => Some(writer),
        Err(e) => {
            outcome.notes.push(failed(&e));
            None
        }
    }
}

/// The first stored token that Bitbucket could accept, workspace entry first.
fn first_usable_token(
    store: &TokenStore,
    keys: &Keys,
    notes: &mut Vec<String>,
) -> Option<(Stored, Token)> {
    for key in keys.in_lookup_order() {
        match store.read(key) {
            Ok(None) => {}
            Ok(Some(stored)) => {
                let token = stored.token.clone()?;
                match refusal(TokenKind::of_token(&token)) {
                    None => return Some((stored, token)),
                    Some(why) => notes.push(format!(
                        "the secret stored for {key} is not used: {why}\n{HOW_TO_CREATE_A_TOKEN}"
                    )),
                }
            }
            Err(e) => {
                notes.push(format!("{e}; git will ask for the token instead"));
                return None;
            }
        }
    }
    None
}

/// Saves under the key `get` reads first: an existing (or remembered, i.e. erased after a 401)
/// workspace entry, else the host entry. Each entry is read once; a workspace's record is
/// asked for only when it has no entry. Writes nothing to the keychain when that entry already
/// holds this token (git stores after every success), only notes where it worked. Returns
/// what to tell a person.
fn store_unless_unchanged(
    store: &TokenStore,
    writer: &Writer,
    keys: &Keys,
    password: &Token,
) -> Result<Vec<String>, StoreError> {
    let workspace_entry = match &keys.workspace {
        Some(workspace) => match store.token(workspace)? {
            Some(existing) => Some((workspace, Some(existing))),
            None if store.facts(workspace).is_some() => Some((workspace, None)),
            None => None,
        },
        None => None,
    };
    let (key, existing) = match workspace_entry {
        Some((key, existing)) => (key, existing),
        None => (&keys.host, store.token(&keys.host)?),
    };
    let mark = keys.workspace_mark();
    if existing.is_some_and(|e| e.constant_time_eq(password)) {
        writer.note_worked(key, password, mark);
        return Ok(Vec::new());
    }
    // git stores after a success, so it worked for this request's workspace; its expiry is
    // unknown until the user tells us.
    let mut facts = EntryFacts::new(password, None);
    facts.worked.push(mark.to_owned());
    writer.save(key, password, &facts)
}

#[cfg(test)]
#[path = "helper_tests.rs"]
mod tests;
