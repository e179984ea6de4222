//! `get`, `store` and `erase`: git's protocol, Bitbucket's rules and the token store, with no
//! I/O of its own. The caller hands in a decoded request and a way to open the store; it gets
//! back the response to write (if any) and notes for stderr. The store is opened only once a
//! request is known to be for a served host, so other hosts cost nothing.
//!
//! `store` keeps a token only when git got it from a person: git calls `store` with any
//! password that worked, including one from a URL's `user:password@` (a submodule of someone
//! else's project) or from another helper, but it prompts a person exactly when our `get`
//! answered without a password, which `get` notes for a few minutes (`store/prompts.rs`).
//! Which token `get` hands out is [`TokenStore::choose`], the one function every command uses.
//!
//! A 401 does not prove a token revoked: Bitbucket answers the same for a valid token whose
//! account cannot see the repository. So `store` records where each token worked, per
//! repository, and `erase` (in `helper/erase.rs`) deletes one only when Bitbucket refuses it
//! again where it had worked; a passwordless `erase` (git's "forget these credentials") is
//! `helper/forget.rs`.

use crate::dates::{self, SECONDS_PER_DAY};
use crate::environment::EnvironmentToken;
use crate::environment::token_source::Resolved;
use crate::policy::{API_TOKEN_USERNAME, Scope, ServedHosts, how_to_create, refusal};
use crate::protocol::{Request, Response};
use crate::store::{
    EntryFacts, EntryKey, PROMPT_WINDOW, Passed, StoreError, Stored, Target, TokenStore, WARN_DAYS,
    Writer,
};
use crate::token::{Token, TokenKind};

mod erase;
mod forget;
mod from_pipe;

pub use from_pipe::answer_from_pipe;

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

/// What Bitbucket answered when a refused token was tried again where it had worked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recheck {
    /// Refused there too (401): revoked or expired.
    Rejected,
    /// It still opens that repository.
    Accepted,
    /// No answer that says either (a network failure, a 403, no git to ask with): why.
    Unknown(String),
}

/// Everything an operation needs besides the request.
pub struct Helper<'a> {
    pub hosts: &'a ServedHosts,
    /// The token the environment gives (`BITBUCKET_API_TOKEN`, a token file, a systemd
    /// credential): used before any store, never written anywhere.
    pub env_token: EnvironmentToken,
    /// Opens the token store (keychain and facts); called only for a request that is ours.
    pub open_store: &'a dyn Fn() -> Result<TokenStore, StoreError>,
    /// Asks Bitbucket whether a token opens the repository at a URL (`erase` before deleting;
    /// the binary runs a bounded `git ls-remote` through the pipe `login --verify` uses).
    pub recheck: &'a dyn Fn(&str, &Token) -> Recheck,
    /// The current time in Unix seconds (a parameter so tests can move it).
    pub now: u64,
    /// A CI job: nobody is there to type at git's prompt, so advice says where a token goes
    /// there instead.
    pub ci: bool,
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
        let target = Target::of_request(host, request);
        match operation {
            Operation::Get => self.get(&target, &mut outcome),
            Operation::Store => self.store(&target, request.password.as_ref(), &mut outcome),
            Operation::Erase => self.erase(&target, request, &mut outcome),
        }
        outcome
    }

    fn get(&self, target: &Target, outcome: &mut Outcome) {
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
                let choice = store.choose(target, self.now);
                for passed in &choice.passed {
                    outcome.notes.push(passed_note(passed, target, self.ci));
                }
                match choice.chosen {
                    Some((stored, token)) => {
                        if stored.moved {
                            outcome.notes.push(format!(
                                "the token for {} was saved in the {} store while the Secret \
                                 Service was locked; it is now in the {} store",
                                stored.key,
                                stored.found_in.name(),
                                store.backend().name()
                            ));
                        }
                        self.warn_near_expiry(&store, &stored, &mut outcome.notes);
                        response.password_expiry_utc = stored.facts().and_then(|f| f.expires_at);
                        response.password = Some(token);
                        store.clear_prompt(target);
                    }
                    None => {
                        if self.ci {
                            outcome.notes.push(format!(
                                "no token for {}, and in CI nobody can type one at git's \
                                 prompt: give the job one from its secret store as \
                                 BITBUCKET_API_TOKEN_FILE or BITBUCKET_API_TOKEN \
                                 (docs/servers-and-ci.md)",
                                target.describe_place()
                            ));
                        }
                        if let Some(fallback) = store.fallback().filter(|f| f.locked) {
                            outcome.notes.push(format!(
                                "no token in the kernel keyring, which auto uses because {}",
                                fallback.reason
                            ));
                        }
                        if let Err(e) = store.note_prompt(target, self.now) {
                            outcome.notes.push(format!(
                                "{e}: the token you type will work, but will not be saved \
                                 (save it with `git-credential-bitbucket login`)"
                            ));
                        }
                    }
                }
                outcome.notes.extend(store.damage());
            }
        }
        outcome.response = Some(response);
    }

    /// Warns when the handed-out token's expiry is near, at most once a day per entry.
    fn warn_near_expiry(&self, store: &TokenStore, stored: &Stored, notes: &mut Vec<String>) {
        let Some(facts) = stored.facts() else {
            return;
        };
        let Some(expires) = facts.expires_at else {
            return;
        };
        let key = &stored.key;
        let days_left = dates::days_until(expires, self.now);
        let today = self.now / SECONDS_PER_DAY;
        if days_left <= WARN_DAYS && facts.warned_day != Some(today) {
            notes.push(format!(
                "the token for {key} expires on {} ({}). Create a new \
                 one and run `{}`.",
                dates::format_date(expires),
                dates::days_left(expires, self.now),
                crate::diagnostics::login_command(key)
            ));
            store.mark_warned(key, self.now);
        }
    }

    /// The environment's token (variable, file or credential), unless it is unusable or a
    /// kind Bitbucket will not take (then said on stderr, and the store is used).
    fn usable_env_token(&self, notes: &mut Vec<String>) -> Option<Token> {
        let given = match self.env_token.resolve() {
            Resolved::Nothing => return None,
            Resolved::Unusable(why) => {
                notes.push(format!("{why}; the token store is used instead"));
                return None;
            }
            Resolved::Given(given) => given,
        };
        match given.refusal() {
            None => Some(given.token),
            Some(why) => {
                notes.push(format!(
                    "{} is not used: {why}\n{}",
                    given.source.describe(),
                    how_to_create(self.ci)
                ));
                None
            }
        }
    }

    fn store(&self, target: &Target, password: Option<&Token>, outcome: &mut Outcome) {
        let Some(password) = password else {
            return; // an `authtype`/`credential` approve: nothing of ours
        };
        if self.env_token.keeps_out_of_stores(password) {
            return; // the environment's token is never written anywhere
        }
        if let Some(why) = unstorable(password, self.ci) {
            outcome.notes.push(why);
            return;
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
        let prompted = writer.take_prompt(target, self.now);
        match destination(&store, target, password, self.now) {
            Ok(Destination::Holds(key)) => {
                if let Some(place) = target.place.mark() {
                    writer.note_worked(&key, password, place, target.plain_http);
                }
            }
            Ok(Destination::New(_)) if !prompted => outcome.notes.push(format!(
                "the token git used for {} was not saved: no password prompt of git's for it \
                 was noted in the last {} minutes (git took it from the remote URL or from \
                 another credential helper, or the note could not be written), and only a \
                 token typed at that prompt, or given to `git-credential-bitbucket login`, \
                 replaces or adds a stored one",
                target.describe_place(),
                PROMPT_WINDOW / 60
            )),
            Ok(Destination::New(key)) => {
                // git stores after a success, so it worked here; its expiry is unknown until
                // the user tells us.
                let mut facts = EntryFacts::new(password, None);
                if let Some(place) = target.place.mark() {
                    facts.note_worked(place, target.plain_http);
                }
                match writer.save(&key, password, &facts) {
                    Ok(notes) => {
                        if let Some(fallback) = store.fallback().filter(|f| f.locked) {
                            outcome.notes.push(format!(
                                "auto saved the token in the kernel keyring because {}; once \
                                 that is unlocked, the next git operation moves the token there",
                                fallback.reason
                            ));
                        }
                        outcome.notes.extend(notes);
                    }
                    Err(e) => outcome.notes.push(failed(&e)),
                }
            }
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

/// Why `store` keeps nothing of `password`, or `None` when it is an API token it may keep:
/// an empty password, a kind Bitbucket refuses, anything whose checksum fails (the same rule
/// `login` applies).
fn unstorable(password: &Token, ci: bool) -> Option<String> {
    if password.expose().is_empty() {
        return Some(
            "git asked to store an empty password: nothing was stored (Bitbucket needs an API \
             token)"
                .to_owned(),
        );
    }
    let kind = TokenKind::of_token(password);
    if let Some(why) = refusal(kind) {
        return Some(format!("{why}\n{}", how_to_create(ci)));
    }
    match kind {
        TokenKind::ApiToken => None,
        TokenKind::ApiTokenBadChecksum => {
            Some(format!("the token git used was not stored: {BAD_CHECKSUM}"))
        }
        _ => Some(
            "the password git used was not stored: it is not a Bitbucket API token (those \
             start with ATATT and end in an 8-character checksum)"
                .to_owned(),
        ),
    }
}

/// What a token whose checksum fails is, in words.
const BAD_CHECKSUM: &str = "its last 8 characters are not the checksum of the rest, so it \
looks truncated or mistyped. Copy it again, whole, from the page where you created it.";

/// What `get` says about an entry it passed over.
fn passed_note(passed: &Passed, target: &Target, ci: bool) -> String {
    match passed {
        Passed::Refused { key, why } => format!(
            "the secret stored for {key} is not used: {why}\n{}",
            how_to_create(ci)
        ),
        Passed::RefusedHere { key } => format!(
            "the token saved for {key} was refused at {} before; git will ask for the token \
             to use there",
            target.place_words()
        ),
        Passed::Expired { key, at } => format!(
            "the token for {key} expired on {}; git will ask for a new one.\n{}",
            dates::format_date(*at),
            how_to_create(ci)
        ),
        Passed::Unreadable(e) => format!("{e}; git will ask for the token instead"),
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

/// Where a `store` puts its password.
enum Destination {
    /// This entry already holds exactly it (git stores after every success): note where it
    /// worked, write nothing to the keychain.
    Holds(EntryKey),
    /// A new token for this entry.
    New(EntryKey),
}

/// Each entry is read once, in lookup order. A new token goes to the workspace's entry when
/// that holds a token or a record (a workspace whose token was erased keeps its record), or
/// when the host entry holds a token still good elsewhere (refused here only); otherwise to the
/// host entry, replacing what `get` could not use (nothing, an expired token, an app password).
fn destination(
    store: &TokenStore,
    target: &Target,
    password: &Token,
    now: u64,
) -> Result<Destination, StoreError> {
    let mut workspace_holds_another = false;
    if let Some(workspace) = &target.workspace {
        match store.token(workspace)? {
            Some(held) if held.constant_time_eq(password) => {
                return Ok(Destination::Holds(workspace.clone()));
            }
            Some(_) => workspace_holds_another = true,
            None => {}
        }
    }
    let host = &target.host;
    let host_token = store.token(host)?;
    if host_token
        .as_ref()
        .is_some_and(|held| held.constant_time_eq(password))
    {
        return Ok(Destination::Holds(host.clone()));
    }
    // A workspace whose token was erased keeps its record: asked only now, once the host
    // entry does not hold the password (the usual `store` after a fetch ends above).
    let workspace_taken =
        |workspace: &EntryKey| workspace_holds_another || store.facts(workspace).is_some();
    match &target.workspace {
        Some(workspace) if workspace_taken(workspace) => Ok(Destination::New(workspace.clone())),
        Some(workspace) if host_token.is_some_and(|t| still_good(store, host, &t, now)) => {
            Ok(Destination::New(workspace.clone()))
        }
        _ => Ok(Destination::New(host.clone())),
    }
}

/// True when `token`, stored under `key`, is one Bitbucket may still take at `now`: an API
/// token, not expired as far as we know.
fn still_good(store: &TokenStore, key: &EntryKey, token: &Token, now: u64) -> bool {
    let expired = store
        .facts(key)
        .filter(|f| f.describes(token))
        .and_then(|f| f.expires_at)
        .is_some_and(|at| now >= at);
    TokenKind::of_token(token) == TokenKind::ApiToken && !expired
}

#[cfg(test)]
#[path = "helper_tests/mod.rs"]
mod tests;
