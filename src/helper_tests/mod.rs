//! Rules of get/store/erase over an in-memory store. Every refusal sits beside a positive
//! control showing the token is handed out (or kept) where it should be. `store` keeps only a
//! token typed at git's prompt, so the tests store the way git does: [`Fixture::typed`] runs
//! the `get` that answers without a password (git then prompts), then the `store`.

use std::cell::{Cell, RefCell};

use super::*;
use crate::policy::HostKey;
use crate::protocol::decode;
use crate::store::memory::MemoryStore;
use crate::store::{Backend, EntryFacts, Keychain};

mod erase;
mod expiry;
mod prompts;
mod store;

const API: &str = "ATATT3xFfGF0unit-test-body_-0123456789=";

fn api_token(tag: &str) -> String {
    let body = format!("{API}{tag}=");
    format!("{body}{:08X}", crc32fast::hash(body.as_bytes()))
}

struct Fixture {
    store: MemoryStore,
    hosts: ServedHosts,
    opened: Cell<usize>,
    broken: bool,
    now: Cell<u64>,
    /// The URLs `erase` asked Bitbucket about, and what Bitbucket answers.
    rechecks: RefCell<Vec<String>>,
    recheck_answer: RefCell<Recheck>,
    /// A CI job.
    ci: Cell<bool>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            store: MemoryStore::default(),
            hosts: ServedHosts::new(&["127.0.0.1:8080".into()]).unwrap(),
            opened: Cell::new(0),
            broken: false,
            now: Cell::new(NOW),
            rechecks: RefCell::default(),
            recheck_answer: RefCell::new(Recheck::Unknown("not asked in this test".into())),
            ci: Cell::new(false),
        }
    }

    fn keychain(&self) -> &dyn Keychain {
        self.store.keychain()
    }

    fn run_with_env(&self, op: Operation, input: &str, env: Option<&str>) -> Outcome {
        let open = || {
            self.opened.set(self.opened.get() + 1);
            if self.broken {
                Err(StoreError::Unavailable {
                    backend: Backend::Memory,
                    reason: "simulated outage".into(),
                })
            } else {
                Ok(self.store.open())
            }
        };
        let recheck = |url: &str, _: &Token| {
            self.rechecks.borrow_mut().push(url.to_owned());
            self.recheck_answer.borrow().clone()
        };
        let helper = Helper {
            hosts: &self.hosts,
            env_token: EnvironmentToken::variable(env.map(|t| Token::new(t.into()))),
            open_store: &open,
            recheck: &recheck,
            now: self.now.get(),
            ci: self.ci.get(),
        };
        helper.run(op, &decode(input.as_bytes()).unwrap())
    }

    fn run(&self, op: Operation, input: &str) -> Outcome {
        self.run_with_env(op, input, None)
    }

    /// What git does when nothing usable is stored for `request`: `get` answers without a
    /// password, the person types `secret` at the prompt, the request succeeds, `store`.
    fn typed(&self, request: &str, secret: &str) -> Outcome {
        let get = self.run(Operation::Get, request);
        assert_eq!(
            answer(&get).1,
            None,
            "git prompts only when get gives no token"
        );
        self.run(Operation::Store, &format!("{request}password={secret}\n"))
    }

    fn put(&self, account: &str, secret: &str) {
        self.keychain()
            .set(&fx_key(account), &Token::new(secret.into()))
            .unwrap();
    }

    fn stored(&self, account: &str) -> Option<String> {
        self.keychain()
            .get(&fx_key(account))
            .unwrap()
            .map(|t| t.expose().to_owned())
    }
}

fn answer(outcome: &Outcome) -> (Option<String>, Option<String>) {
    let response = outcome.response.as_ref().expect("a response");
    (
        response.username.clone(),
        response.password.as_ref().map(|t| t.expose().to_owned()),
    )
}

/// Panics, showing every note, unless the first note the helper wrote says `phrase`.
#[track_caller]
fn assert_first_note(outcome: &Outcome, phrase: &str) {
    assert!(
        outcome
            .notes
            .first()
            .is_some_and(|note| note.contains(phrase)),
        "the first note should say {phrase:?}: {:?}",
        outcome.notes
    );
}

const NOW: u64 = 1_795_000_000;

const GET_BITBUCKET: &str = "protocol=https\nhost=bitbucket.org\n";

#[test]
fn get_answers_the_stored_token_with_the_api_token_username() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    let outcome = fx.run(
        Operation::Get,
        "protocol=https\nhost=bitbucket.org\nusername=anhtran\n",
    );
    assert_eq!(
        answer(&outcome),
        (Some(API_TOKEN_USERNAME.into()), Some(api_token("a")))
    );
}

#[test]
fn get_with_nothing_stored_answers_only_the_username_so_git_prompts() {
    let fx = Fixture::new();
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    assert_eq!(answer(&outcome), (Some(API_TOKEN_USERNAME.into()), None));
}

#[test]
fn other_hosts_get_no_answer_and_no_store_is_opened() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    for host in [
        "github.com",
        "evilbitbucket.org",
        "bitbucket.org.evil.example",
    ] {
        let outcome = fx.run(Operation::Get, &format!("protocol=https\nhost={host}\n"));
        assert!(
            outcome.response.is_none() && outcome.notes.is_empty(),
            "{host}"
        );
        fx.run(
            Operation::Store,
            &format!("protocol=https\nhost={host}\npassword=x\n"),
        );
        fx.run(Operation::Erase, &format!("protocol=https\nhost={host}\n"));
    }
    assert_eq!(fx.opened.get(), 0);
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("a")));
}

#[test]
fn plain_http_gets_quit_and_an_explanation_but_loopback_test_hosts_are_served() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    fx.put("127.0.0.1:8080", &api_token("local"));
    let outcome = fx.run(Operation::Get, "protocol=http\nhost=bitbucket.org\n");
    let response = outcome.response.as_ref().unwrap();
    assert!(response.quit && response.password.is_none() && response.username.is_none());
    assert_first_note(&outcome, "plain http");
    assert_eq!(fx.opened.get(), 0);

    let outcome = fx.run(Operation::Get, "protocol=http\nhost=127.0.0.1:8080\n");
    assert_eq!(answer(&outcome).1, Some(api_token("local")));
}

#[test]
fn a_workspace_entry_wins_over_the_host_entry() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("host"));
    fx.put("bitbucket.org/acme", &api_token("acme"));
    let get = |path: &str| {
        answer(&fx.run(
            Operation::Get,
            &format!("protocol=https\nhost=bitbucket.org\npath={path}\n"),
        ))
        .1
    };
    assert_eq!(get("Acme/repo.git"), Some(api_token("acme")));
    assert_eq!(get("other/repo.git"), Some(api_token("host")));
}

#[test]
fn the_environment_token_comes_first_and_no_store_is_opened() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("stored"));
    let outcome = fx.run_with_env(Operation::Get, GET_BITBUCKET, Some(&api_token("ci")));
    assert_eq!(answer(&outcome).1, Some(api_token("ci")));
    assert_eq!(fx.opened.get(), 0);
}

#[test]
fn a_legacy_environment_token_is_not_handed_out_and_the_store_is_used() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("stored"));
    let legacy = "ATBB0123456789abcdefABCDEF012345";
    let outcome = fx.run_with_env(Operation::Get, GET_BITBUCKET, Some(legacy));
    assert_eq!(answer(&outcome).1, Some(api_token("stored")));
    assert!(
        outcome
            .notes
            .iter()
            .any(|n| n.contains("BITBUCKET_API_TOKEN"))
    );
    assert!(!outcome.notes.iter().any(|n| n.contains(legacy)));
}

#[test]
fn a_stored_app_password_is_never_handed_back() {
    let fx = Fixture::new();
    let legacy = "ATBB0123456789abcdefABCDEF012345";
    fx.put("bitbucket.org", legacy);
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    assert_eq!(answer(&outcome), (Some(API_TOKEN_USERNAME.into()), None));
    let notes = outcome.notes.join("\n");
    assert!(notes.contains("app password") && notes.contains("read:repository:bitbucket"));
    assert!(!notes.contains(legacy));
    // and the successful store that follows the prompt replaces it
    fx.run(
        Operation::Store,
        &format!("{GET_BITBUCKET}password={}\n", api_token("new")),
    );
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("new")));
}

#[test]
fn a_broken_store_never_fails_the_operation() {
    let mut fx = Fixture::new();
    fx.broken = true;
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    assert_eq!(answer(&outcome), (Some(API_TOKEN_USERNAME.into()), None));
    assert_first_note(&outcome, "simulated outage");
    let outcome = fx.run(
        Operation::Store,
        &format!("{GET_BITBUCKET}password={}\n", api_token("a")),
    );
    assert_first_note(&outcome, "not saved");
    let outcome = fx.run(
        Operation::Erase,
        &format!("{GET_BITBUCKET}password={}\n", api_token("a")),
    );
    assert_first_note(&outcome, "nothing was removed");
}

fn host_key() -> EntryKey {
    EntryKey::host(HostKey::parse("bitbucket.org").unwrap())
}

/// The key of `host` or `host/workspace`.
fn fx_key(account: &str) -> EntryKey {
    EntryKey::from_account(account).unwrap()
}

impl Fixture {
    fn expire_in(&self, token: &str, seconds_from_now: i64) {
        self.expire_in_entry(&host_key(), token, seconds_from_now);
    }

    fn expire_in_entry(&self, key: &EntryKey, token: &str, seconds_from_now: i64) {
        let facts = EntryFacts::new(
            &Token::new(token.into()),
            Some((NOW as i64 + seconds_from_now) as u64),
        );
        let store = self.store.open();
        store.writer(false).unwrap().record(key, &facts).unwrap();
    }

    /// The facts recorded for `account`.
    fn facts(&self, account: &str) -> Option<EntryFacts> {
        self.store.open().facts(&fx_key(account))
    }
}

#[test]
fn a_refused_token_that_then_works_is_offered_again() {
    let fx = Fixture::new();
    let token = api_token("host");
    fx.put("bitbucket.org", &token);
    // Never recorded as working: the 401 marks it refused, and get stops offering it...
    fx.run(
        Operation::Erase,
        &format!("{GET_BITBUCKET}password={token}\n"),
    );
    assert_eq!(fx.stored("bitbucket.org"), Some(token.clone()));
    assert_eq!(answer(&fx.run(Operation::Get, GET_BITBUCKET)).1, None);
    // ...until the person types it at the prompt and Bitbucket accepts it.
    fx.run(
        Operation::Store,
        &format!("{GET_BITBUCKET}password={token}\n"),
    );
    assert_eq!(
        answer(&fx.run(Operation::Get, GET_BITBUCKET)).1,
        Some(token)
    );
}

#[test]
fn in_ci_a_missing_token_is_named_and_advice_says_where_a_token_goes_there() {
    let fx = Fixture::new();
    let request = "protocol=https\nhost=bitbucket.org\n";
    // Control: for a person, git's prompt is the way, and nothing more is said.
    let person = fx.run(Operation::Get, request);
    assert!(
        person.notes.iter().all(|n| !n.contains("in CI")),
        "{:?}",
        person.notes
    );
    fx.ci.set(true);
    let job = fx.run(Operation::Get, request);
    assert_eq!(answer(&job).1, None);
    assert!(
        job.notes
            .iter()
            .any(|n| n.contains("in CI nobody can type") && n.contains("BITBUCKET_API_TOKEN_FILE")),
        "{:?}",
        job.notes
    );
    // An app password stored, in CI: the advice is not "this helper keeps it in your keychain".
    fx.put("bitbucket.org", "ATBB0123456789abcdefABCDEF0123456789");
    let refused = fx.run(Operation::Get, request);
    let said = refused.notes.join("\n");
    assert!(said.contains("app password"), "{said}");
    assert!(
        said.contains("secret store") && !said.contains("keychain"),
        "{said}"
    );
}
