//! Rules of get/store/erase over an in-memory store. Every refusal sits beside a positive
//! control showing the token is handed out where it should be.

use std::cell::Cell;

use super::*;
use crate::protocol::decode;
use crate::store::memory::MemoryStore;
use crate::store::{Backend, EntryFacts, Keychain};

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
}

impl Fixture {
    fn new() -> Self {
        Self {
            store: MemoryStore::default(),
            hosts: ServedHosts::new(&["127.0.0.1:8080".into()]).unwrap(),
            opened: Cell::new(0),
            broken: false,
            now: Cell::new(NOW),
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
        let helper = Helper {
            hosts: &self.hosts,
            env_token: env.map(|t| Token::new(t.into())),
            open_store: &open,
            now: self.now.get(),
        };
        helper.run(op, &decode(input.as_bytes()).unwrap())
    }

    fn run(&self, op: Operation, input: &str) -> Outcome {
        self.run_with_env(op, input, None)
    }

    fn put(&self, account: &str, secret: &str) {
        let (host, ws) = match account.split_once('/') {
            Some((h, w)) => (h, Some(w.to_owned())),
            None => (account, None),
        };
        let key = EntryKey {
            host: HostKey::parse(host).unwrap(),
            workspace: ws,
        };
        self.keychain()
            .set(&key, &Token::new(secret.into()))
            .unwrap();
    }

    fn stored(&self, account: &str) -> Option<String> {
        let (host, ws) = match account.split_once('/') {
            Some((h, w)) => (h, Some(w.to_owned())),
            None => (account, None),
        };
        let key = EntryKey {
            host: HostKey::parse(host).unwrap(),
            workspace: ws,
        };
        self.keychain()
            .get(&key)
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
    assert!(outcome.notes[0].contains("plain http"));
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
fn store_saves_and_get_then_returns_it() {
    let fx = Fixture::new();
    let input = format!(
        "{GET_BITBUCKET}username=whoever\npassword={}\n",
        api_token("a")
    );
    let outcome = fx.run(Operation::Store, &input);
    assert!(outcome.response.is_none());
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("a")));
}

#[test]
fn store_refuses_app_passwords_and_keeps_the_stored_api_token() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("good"));
    for refused in [
        "ATBB0123456789abcdefABCDEF012345",
        "ATCTT3xFfGF0abc",
        "BBDC-abc",
    ] {
        let outcome = fx.run(
            Operation::Store,
            &format!("{GET_BITBUCKET}password={refused}\n"),
        );
        assert_eq!(
            fx.stored("bitbucket.org"),
            Some(api_token("good")),
            "{refused}"
        );
        let notes = outcome.notes.join("\n");
        assert!(
            notes.contains("not stored") && !notes.contains(refused),
            "{notes}"
        );
    }
}

#[test]
fn store_from_a_url_with_embedded_app_password_is_refused() {
    let fx = Fixture::new();
    let input = "url=https://me:ATBB0123456789abcdefABCDEF012345@bitbucket.org/ws/r.git\n";
    fx.run(Operation::Store, input);
    assert_eq!(fx.stored("bitbucket.org"), None);
    let input = format!(
        "url=https://me:{}@bitbucket.org/ws/r.git\n",
        api_token("url")
    );
    fx.run(Operation::Store, &input);
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("url")));
}

#[test]
fn store_never_writes_the_environment_token() {
    let fx = Fixture::new();
    let ci = api_token("ci");
    fx.run_with_env(
        Operation::Store,
        &format!("{GET_BITBUCKET}password={ci}\n"),
        Some(&ci),
    );
    assert_eq!(fx.stored("bitbucket.org"), None);
    assert_eq!(fx.opened.get(), 0);
}

#[test]
fn store_updates_an_existing_workspace_entry_and_otherwise_the_host_entry() {
    let fx = Fixture::new();
    fx.put("bitbucket.org/acme", &api_token("old"));
    let store = |path: &str, tag: &str| {
        fx.run(
            Operation::Store,
            &format!("{GET_BITBUCKET}path={path}\npassword={}\n", api_token(tag)),
        )
    };
    store("acme/r.git", "new");
    assert_eq!(fx.stored("bitbucket.org/acme"), Some(api_token("new")));
    assert_eq!(fx.stored("bitbucket.org"), None);
    store("other/r.git", "host");
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("host")));
    assert_eq!(fx.stored("bitbucket.org/other"), None);
}

#[test]
fn storing_the_same_token_again_writes_nothing() {
    let fx = Fixture::new();
    let input = format!("{GET_BITBUCKET}password={}\n", api_token("a"));
    fx.run(Operation::Store, &input);
    let writes_before = fx.store.keychain().writes();
    assert_eq!(writes_before, 1);
    let outcome = fx.run(Operation::Store, &input);
    assert!(outcome.notes.is_empty());
    assert_eq!(fx.store.keychain().writes(), writes_before);
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("a")));
}

#[test]
fn erase_removes_only_an_entry_holding_the_rejected_token() {
    let fx = Fixture::new();
    fx.run(
        Operation::Store,
        &format!("{GET_BITBUCKET}password={}\n", api_token("current")),
    );
    let erase = |tag: &str| {
        fx.run(
            Operation::Erase,
            &format!("{GET_BITBUCKET}password={}\n", api_token(tag)),
        )
    };
    let outcome = erase("rotated-away");
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("current")));
    assert!(outcome.notes.is_empty());
    let outcome = erase("current");
    assert_eq!(fx.stored("bitbucket.org"), None);
    let notes = outcome.notes.join("\n");
    assert!(notes.contains("rejected") && notes.contains("removed") && notes.contains("scope"));
    assert!(!notes.contains(&api_token("current")));
}

#[test]
fn erase_without_a_password_or_with_an_empty_one_removes_nothing() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("host"));
    fx.put("bitbucket.org/acme", &api_token("acme"));
    for extra in ["", "password=\n", "authtype=Bearer\ncredential=other\n"] {
        let outcome = fx.run(
            Operation::Erase,
            &format!("{GET_BITBUCKET}path=acme/r.git\n{extra}"),
        );
        assert!(outcome.notes.is_empty(), "{:?}", outcome.notes);
    }
    assert_eq!(fx.stored("bitbucket.org/acme"), Some(api_token("acme")));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("host")));
}

#[test]
fn a_401_where_the_token_never_worked_keeps_it_and_the_workspace_prompts() {
    let fx = Fixture::new();
    let (host, other) = (api_token("host"), api_token("other-account"));
    let at = |path: &str, extra: &str| format!("{GET_BITBUCKET}path={path}\n{extra}");
    fx.run(
        Operation::Store,
        &at("acme/r.git", &format!("password={host}\n")),
    );
    // A 401 for a workspace where the host token never worked: kept, and refused there only.
    let outcome = fx.run(
        Operation::Erase,
        &at("beta/r.git", &format!("password={host}\n")),
    );
    assert!(
        outcome.notes[0].contains("never worked"),
        "{:?}",
        outcome.notes
    );
    assert_eq!(fx.stored("bitbucket.org"), Some(host.clone()));
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("beta/r.git", ""))).1,
        None
    );
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("acme/r.git", ""))).1,
        Some(host.clone())
    );
    // The prompted token becomes beta's entry.
    fx.run(
        Operation::Store,
        &at("beta/r.git", &format!("password={other}\n")),
    );
    assert_eq!(fx.stored("bitbucket.org/beta"), Some(other.clone()));
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("beta/r.git", ""))).1,
        Some(other)
    );
    // A 401 where it had worked: revoked, removed.
    let outcome = fx.run(
        Operation::Erase,
        &at("acme/r.git", &format!("password={host}\n")),
    );
    assert!(
        outcome.notes[0].contains("had worked"),
        "{:?}",
        outcome.notes
    );
    assert_eq!(fx.stored("bitbucket.org"), None);
}

#[test]
fn storing_an_empty_password_never_replaces_a_token() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    fx.run(Operation::Store, &format!("{GET_BITBUCKET}password=\n"));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("a")));
}

#[test]
fn a_path_with_dot_segments_names_no_workspace_and_its_401_removes_nothing() {
    let fx = Fixture::new();
    fx.put("bitbucket.org/bob", &api_token("bob"));
    fx.put("bitbucket.org", &api_token("host"));
    let dotted = format!("{GET_BITBUCKET}path=bob/%2e%2e/alice/repo.git\n");
    assert_eq!(
        answer(&fx.run(Operation::Get, &dotted)).1,
        Some(api_token("host"))
    );
    let plain = format!("{GET_BITBUCKET}path=bob/repo.git\n");
    assert_eq!(
        answer(&fx.run(Operation::Get, &plain)).1,
        Some(api_token("bob"))
    );
    fx.run(
        Operation::Erase,
        &format!("{dotted}password={}\n", api_token("host")),
    );
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("host")));
}

#[test]
fn erase_of_the_environment_token_says_so_and_keeps_the_store() {
    let fx = Fixture::new();
    let ci = api_token("ci");
    fx.put("bitbucket.org", &ci);
    let outcome = fx.run_with_env(
        Operation::Erase,
        &format!("{GET_BITBUCKET}password={ci}\n"),
        Some(&ci),
    );
    assert!(outcome.notes[0].contains("BITBUCKET_API_TOKEN"));
    assert_eq!(fx.stored("bitbucket.org"), Some(ci));
}

#[test]
fn a_broken_store_never_fails_the_operation() {
    let mut fx = Fixture::new();
    fx.broken = true;
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    assert_eq!(answer(&outcome), (Some(API_TOKEN_USERNAME.into()), None));
    assert!(outcome.notes[0].contains("simulated outage"));
    let outcome = fx.run(
        Operation::Store,
        &format!("{GET_BITBUCKET}password={}\n", api_token("a")),
    );
    assert!(outcome.notes[0].contains("not saved"));
    let outcome = fx.run(
        Operation::Erase,
        &format!("{GET_BITBUCKET}password={}\n", api_token("a")),
    );
    assert!(outcome.notes[0].contains("nothing was removed"));
}

fn host_key() -> EntryKey {
    EntryKey::host(HostKey::parse("bitbucket.org").unwrap())
}

impl Fixture {
    fn expire_in(&self, token: &str, seconds_from_now: i64) {
        let facts = EntryFacts::new(
            &Token::new(token.into()),
            Some((NOW as i64 + seconds_from_now) as u64),
        );
        let store = self.store.open();
        store
            .writer(false)
            .unwrap()
            .record(&host_key(), &facts)
            .unwrap();
    }
}

const DAY: i64 = 86_400;

#[test]
fn a_known_expiry_is_sent_to_git_as_password_expiry_utc() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    fx.expire_in(&api_token("a"), 100 * DAY);
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    let response = outcome.response.unwrap();
    assert_eq!(response.password.unwrap().expose(), api_token("a"));
    assert_eq!(response.password_expiry_utc, Some(NOW + 100 * DAY as u64));
    assert!(outcome.notes.is_empty());
}

#[test]
fn an_expired_token_is_never_handed_out_and_git_prompts() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    fx.expire_in(&api_token("a"), -1);
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    assert_eq!(answer(&outcome), (Some(API_TOKEN_USERNAME.into()), None));
    assert!(
        outcome.notes[0].contains("expired on"),
        "{:?}",
        outcome.notes
    );
    // positive control: one second earlier it was handed out
    fx.now.set(NOW - 2);
    assert_eq!(
        answer(&fx.run(Operation::Get, GET_BITBUCKET)).1,
        Some(api_token("a"))
    );
}

#[test]
fn a_near_expiry_warns_at_most_once_a_day() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    fx.expire_in(&api_token("a"), 10 * DAY);
    let notes = |fx: &Fixture| fx.run(Operation::Get, GET_BITBUCKET).notes;
    assert!(notes(&fx)[0].contains("10 days left"));
    assert!(notes(&fx).is_empty(), "not twice the same day");
    fx.now.set(NOW + DAY as u64);
    assert!(notes(&fx)[0].contains("9 days left"));
}

#[test]
fn expiry_recorded_for_another_token_is_ignored() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("new"));
    fx.expire_in(&api_token("old"), -DAY);
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    assert_eq!(answer(&outcome).1, Some(api_token("new")));
    assert_eq!(outcome.response.unwrap().password_expiry_utc, None);
}

#[test]
fn store_records_when_a_new_token_was_saved_and_erase_forgets_it() {
    let fx = Fixture::new();
    fx.run(
        Operation::Store,
        &format!("{GET_BITBUCKET}password={}\n", api_token("a")),
    );
    let facts = fx.store.open().facts(&host_key()).unwrap();
    assert_eq!((facts.kind.as_str(), facts.expires_at), ("api-token", None));
    assert!(facts.describes(&Token::new(api_token("a"))));
    assert_eq!(facts.worked, ["*"]);
    fx.run(
        Operation::Erase,
        &format!("{GET_BITBUCKET}password={}\n", api_token("a")),
    );
    assert_eq!(fx.store.open().facts(&host_key()), None);
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
