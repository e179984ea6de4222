//! Smoke tests of the Secret Service providers the harness starts: gnome-keyring (unlocked, and
//! locked with each kind of stand-in prompter), KeePassXC and KWallet, each headless on its own
//! bus.
//!
//! Why: the helper's flows will run on each of these, and a failure there must point at the
//! helper, not at a provider that was never really up or never really locked. These use only
//! `secret-tool` (libsecret, a correct client) and the harness's own `dbus-send` and prompt
//! client, and check each provider does what docs/testing.md says it does: its quirks included,
//! since those are what the helper must cope with.

use std::time::{Duration, Instant};

use crate::support::{
    Output, PromptOutcome, PrompterMode, Provider, SecretServiceSession, TestEnv,
};

/// KeePassXC as users have it (UnlockBeforeSearch is on by default).
const KEEPASSXC: Provider = Provider::KeePassXc {
    unlock_before_search: true,
};

/// How long a call is given before it is taken to hang on a dialog nobody can see.
const HANG: Duration = Duration::from_secs(3);

/// How long a call that must answer is given (python with gi, or secret-tool, on a loaded
/// machine included): only a hang gets near it. The harness's own 15 s for a state change.
const ANSWERS: Duration = Duration::from_secs(15);

/// `secret-tool ARGS` that must answer within [`ANSWERS`]: a run that does not fails the test
/// as one that waits on a dialog. How long an answer takes decides nothing.
#[track_caller]
fn answered(session: &SecretServiceSession, args: &[&str], stdin: &str, what: &str) -> Output {
    session
        .secret_tool_within(args, stdin, ANSWERS)
        .unwrap_or_else(|| panic!("{what} waited (no answer within {ANSWERS:?})"))
}

/// `secret-tool` attributes unique to this test process and `label`.
fn attrs(label: &str) -> Vec<String> {
    ["service", "gcb-providers", "username"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([format!("{label}-{}", std::process::id())])
        .collect()
}

fn args<'a>(verb: &'a [&'a str], attrs: &'a [String]) -> Vec<&'a str> {
    verb.iter()
        .copied()
        .chain(attrs.iter().map(String::as_str))
        .collect()
}

fn store_args(attrs: &[String]) -> Vec<&str> {
    args(&["store", "--label=gcb providers"], attrs)
}

fn store(session: &SecretServiceSession, attrs: &[String], secret: &str) {
    session
        .secret_tool(&store_args(attrs), secret)
        .assert_success();
}

/// A private session of `provider` holding one item (`label`) with `secret`.
fn private_with_item(
    provider: Provider,
    label: &str,
    secret: &str,
) -> Option<(SecretServiceSession, Vec<String>)> {
    let session = SecretServiceSession::start_provider_or_skip(provider)?;
    let attrs = attrs(label);
    store(&session, &attrs, secret);
    Some((session, attrs))
}

fn lookup(session: &SecretServiceSession, attrs: &[String]) -> Output {
    session.secret_tool(&args(&["lookup"], attrs), "")
}

/// Stores, finds, clears and no longer finds an item, on the shared session of `provider`.
fn round_trip(provider: Provider) {
    let Some(session) = SecretServiceSession::shared_provider_or_skip(provider) else {
        return;
    };
    assert_eq!(session.provider(), provider);
    assert!(session.bus_address().starts_with("unix:path="));
    let attrs = attrs(&format!("round-trip-{}", provider.name()));
    store(session, &attrs, "s3cret");
    assert_eq!(lookup(session, &attrs).assert_success().stdout, "s3cret");
    // A TestEnv child (its own HOME, only the bus address shared) reaches the same keychain.
    let mut env = TestEnv::new();
    env.use_secret_service(session);
    let found = Output::run(
        env.command("secret-tool").args(args(&["lookup"], &attrs)),
        "",
    );
    assert_eq!(found.assert_success().stdout, "s3cret");
    session
        .secret_tool(&args(&["clear"], &attrs), "")
        .assert_success();
    let gone = lookup(session, &attrs);
    gone.assert_failure();
    assert_eq!(gone.stdout, "");
}

#[test]
fn gnome_keyring_stores_looks_up_and_clears_with_secret_tool() {
    round_trip(Provider::GnomeKeyring);
}

#[test]
fn keepassxc_stores_looks_up_and_clears_with_secret_tool() {
    round_trip(KEEPASSXC);
}

#[test]
fn kwallet_stores_looks_up_and_clears_with_secret_tool() {
    round_trip(Provider::KWallet);
}

#[test]
fn a_second_store_replaces_the_secret_on_gnome_keyring_and_kwallet() {
    for provider in [Provider::GnomeKeyring, Provider::KWallet] {
        let Some(session) = SecretServiceSession::shared_provider_or_skip(provider) else {
            return;
        };
        let attrs = attrs(&format!("replace-{}", provider.name()));
        store(session, &attrs, "first");
        // libsecret asks for `replace`; a new secret-tool is a new client.
        store(session, &attrs, "second");
        assert_eq!(lookup(session, &attrs).assert_success().stdout, "second");
        let listed = session.secret_tool(&args(&["search", "--all"], &attrs), "");
        assert_eq!(listed.stdout.matches("secret = ").count(), 1, "{listed:?}");
        session
            .secret_tool(&args(&["clear"], &attrs), "")
            .assert_success();
    }
}

/// `(major, minor, patch)` of the installed KeePassXC.
fn keepassxc_version(session: &SecretServiceSession) -> (u32, u32, u32) {
    let out = Output::run(session.command("keepassxc-cli").arg("--version"), "");
    let mut parts = out.stdout.trim().split(['.', '-', '+']);
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next(), next())
}

#[test]
fn keepassxc_before_2_7_6_holds_a_store_that_replaces_an_item_another_client_made() {
    let Some((session, attrs)) = private_with_item(KEEPASSXC, "kpxc-replace", "first") else {
        return;
    };
    let fixed = keepassxc_version(&session) >= (2, 7, 6);
    // Where the replace must answer, it is given as long as only a hang needs.
    let limit = if fixed { ANSWERS } else { HANG };
    let replaced = session.secret_tool_within(&store_args(&attrs), "second", limit);
    if fixed {
        // Fixed upstream (its issue 9255): ConfirmAccessItem=false now covers this too.
        replaced.expect("replace answered").assert_success();
        assert_eq!(lookup(&session, &attrs).stdout, "second");
        return;
    }
    // The replace asks whether this new client may use the existing item, in a dialog nobody
    // sees, although ConfirmAccessItem is off; the item keeps its secret.
    assert!(replaced.is_none(), "replace answered: {replaced:?}");
    assert_eq!(lookup(&session, &attrs).assert_success().stdout, "first");
    // Control: clear then store (a new item) goes through, and the held prompt blocks nothing.
    session
        .secret_tool(&args(&["clear"], &attrs), "")
        .assert_success();
    store(&session, &attrs, "second");
    assert_eq!(lookup(&session, &attrs).assert_success().stdout, "second");
}

#[test]
fn each_provider_runs_on_its_own_bus_and_names_its_own_default_collection() {
    let mut seen = Vec::new();
    for provider in Provider::ALL {
        let Some(session) = SecretServiceSession::shared_provider_or_skip(provider) else {
            return;
        };
        seen.push((
            session.bus_address().to_owned(),
            session.default_collection(),
        ));
    }
    let collections: Vec<&str> = seen.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(
        collections,
        [
            "/org/freedesktop/secrets/collection/login",
            "/org/freedesktop/secrets/collection/Passwords",
            "/org/freedesktop/secrets/collection/kdewallet",
        ]
    );
    let mut buses: Vec<&str> = seen.iter().map(|(b, _)| b.as_str()).collect();
    buses.sort_unstable();
    buses.dedup();
    assert_eq!(buses.len(), 3, "{seen:?}");
}

#[test]
fn locked_keepassxc_that_unlocks_before_search_holds_a_lookup_until_its_database_is_opened() {
    let Some((session, attrs)) = private_with_item(KEEPASSXC, "kpxc-locked", "kept") else {
        return;
    };
    assert_eq!(lookup(&session, &attrs).stdout, "kept", "control");
    session.lock_collection();
    assert!(session.is_locked());

    // SearchItems waits on an unlock dialog nobody sees; Locked still answers.
    let held = session.secret_tool_within(&args(&["lookup"], &attrs), "", HANG);
    assert!(
        held.is_none(),
        "lookup on a locked KeePassXC answered: {held:?}"
    );
    assert!(session.is_locked());
    // Unlock's prompt opens the same dialog: it never completes.
    assert_eq!(session.unlock_through_prompt(HANG), PromptOutcome::NoAnswer);
    assert!(session.is_locked());

    session.unlock_collection();
    assert!(!session.is_locked());
    assert_eq!(lookup(&session, &attrs).assert_success().stdout, "kept");
}

#[test]
fn locked_keepassxc_that_does_not_unlock_before_search_finds_nothing_and_holds_a_store() {
    let provider = Provider::KeePassXc {
        unlock_before_search: false,
    };
    let Some((session, attrs)) = private_with_item(provider, "kpxc-no-unlock", "kept") else {
        return;
    };
    session.lock_collection();

    // An empty search answers: it does not wait on the unlock dialog.
    let nothing = answered(&session, &args(&["lookup"], &attrs), "", "the empty search");
    nothing.assert_failure();
    assert_eq!(nothing.stdout, "");
    // A store must unlock first, which waits on the invisible dialog; nothing is written.
    let held = session.secret_tool_within(&store_args(&attrs), "replaced", HANG);
    assert!(
        held.is_none(),
        "store on a locked KeePassXC answered: {held:?}"
    );

    session.unlock_collection();
    assert_eq!(lookup(&session, &attrs).assert_success().stdout, "kept");
}

#[test]
fn kwallet_starts_locked_unlocks_silently_and_hands_out_empty_secrets_while_locked() {
    let Some(session) = SecretServiceSession::start_provider_or_skip(Provider::KWallet) else {
        return;
    };
    assert!(session.is_locked(), "a fresh KWallet session starts locked");
    let attrs = attrs("kwallet-locked");
    // libsecret unlocks before it stores: no dialog, no wait.
    store(&session, &attrs, "kept");
    assert!(!session.is_locked());

    session.lock_collection();
    assert!(session.is_locked());
    // A search that does not unlock lists the item with an EMPTY secret and no error.
    let listed = session.secret_tool(&args(&["search"], &attrs), "");
    listed.assert_success();
    assert!(listed.stdout.contains("secret = \n"), "{listed:?}");
    assert!(!listed.stdout.contains("kept"), "{listed:?}");
    // Unlock completes at once, as not dismissed.
    assert_eq!(
        session.unlock_through_prompt(ANSWERS),
        PromptOutcome::Completed { dismissed: false }
    );
    assert!(!session.is_locked());
    assert_eq!(
        session.unlock_through_prompt(ANSWERS),
        PromptOutcome::NoPrompt,
        "control: an unlocked collection needs no prompt"
    );
    let found = session.secret_tool(&args(&["search"], &attrs), "");
    assert!(found.stdout.contains("secret = kept\n"), "{found:?}");
}

#[test]
fn kwallet_keeps_its_items_across_a_restart_and_comes_back_locked() {
    let Some((mut session, attrs)) =
        private_with_item(Provider::KWallet, "kwallet-restart", "kept")
    else {
        return;
    };
    let before = session.bus_address().to_owned();
    session.restart();
    assert_ne!(session.bus_address(), before);
    assert!(session.is_locked());
    assert_eq!(lookup(&session, &attrs).assert_success().stdout, "kept");
}

/// A private gnome-keyring holding one item, then locked with the prompter in `mode`.
fn locked_gnome_keyring(mode: PrompterMode) -> Option<(SecretServiceSession, Vec<String>)> {
    let (session, attrs) = private_with_item(Provider::GnomeKeyring, "gnome-locked", "kept")?;
    if let Err(e) = session.set_prompter(mode) {
        crate::support::skip_or_panic("the stand-in prompter", &e);
        return None;
    }
    session.lock_collection();
    assert!(session.is_locked());
    Some((session, attrs))
}

#[test]
fn locked_gnome_keyring_unlocks_when_the_prompter_answers_the_password() {
    let Some((session, attrs)) = locked_gnome_keyring(PrompterMode::Unlocks) else {
        return;
    };
    // libsecret unlocks what it found through the prompt, then reads it.
    assert_eq!(lookup(&session, &attrs).assert_success().stdout, "kept");
    assert!(!session.is_locked());
    assert_eq!(session.prompter_answers(), ["unlock"]);

    session.lock_collection();
    assert_eq!(
        session.unlock_through_prompt(ANSWERS),
        PromptOutcome::Completed { dismissed: false }
    );
    assert!(!session.is_locked());
    assert_eq!(session.prompter_answers(), ["unlock", "unlock"]);
}

#[test]
fn locked_gnome_keyring_stays_locked_when_the_prompter_cancels() {
    let Some((session, attrs)) = locked_gnome_keyring(PrompterMode::Cancels) else {
        return;
    };
    let refused = lookup(&session, &attrs);
    refused.assert_failure();
    assert_eq!(refused.stdout, "");
    assert!(session.is_locked());
    assert_eq!(
        session.unlock_through_prompt(ANSWERS),
        PromptOutcome::Completed { dismissed: true }
    );
    assert!(session.is_locked());
    assert_eq!(session.prompter_answers(), ["cancel", "cancel"]);

    // Control: the same prompter, told to answer, unlocks.
    session.set_prompter(PrompterMode::Unlocks).unwrap();
    assert_eq!(lookup(&session, &attrs).assert_success().stdout, "kept");
}

#[test]
fn locked_gnome_keyring_asks_again_after_a_wrong_password_until_the_prompter_gives_up() {
    let Some((session, attrs)) = locked_gnome_keyring(PrompterMode::WrongPassword) else {
        return;
    };
    lookup(&session, &attrs).assert_failure();
    assert!(session.is_locked());
    assert_eq!(
        session.prompter_answers(),
        ["wrong", "wrong", "wrong", "cancel"]
    );
}

#[test]
fn locked_gnome_keyring_with_a_silent_prompter_holds_the_client_but_not_the_test() {
    let Some((session, attrs)) = locked_gnome_keyring(PrompterMode::NeverAnswers) else {
        return;
    };
    let started = Instant::now();
    let held = session.secret_tool_within(&args(&["lookup"], &attrs), "", HANG);
    assert!(
        held.is_none(),
        "the lookup should wait for the prompt: {held:?}"
    );
    assert!(started.elapsed() < HANG * 3, "the deadline held");
    // The daemon still answers other calls, and nothing was answered.
    assert!(session.is_locked());
    assert!(session.prompter_answers().is_empty());

    // Told to answer, the prompter answers what was pending; the next client gets through.
    session.set_prompter(PrompterMode::Unlocks).unwrap();
    // Long enough for a loaded machine: waiting costs time only when the test fails.
    let found = session.secret_tool_within(&args(&["lookup"], &attrs), "", HANG * 20);
    assert_eq!(
        found.expect("no answer after the prompter woke").stdout,
        "kept"
    );
    assert!(!session.is_locked());
}

#[test]
fn locked_gnome_keyring_with_no_prompter_dismisses_at_once() {
    let Some((session, attrs)) = locked_gnome_keyring(PrompterMode::Absent) else {
        return;
    };
    // Nothing waits: each call answers (a wait on a prompt would run into the deadline).
    answered(&session, &args(&["lookup"], &attrs), "", "the lookup").assert_failure();
    let refused = answered(&session, &store_args(&attrs), "new", "the store");
    refused.assert_failure();
    assert_eq!(
        session.unlock_through_prompt(ANSWERS),
        PromptOutcome::Completed { dismissed: true }
    );
    assert!(session.is_locked());
    assert!(session.prompter_answers().is_empty());

    // Control: unlocked without a prompt, the item is there, unchanged.
    session.unlock_collection();
    assert!(!session.is_locked());
    assert_eq!(lookup(&session, &attrs).assert_success().stdout, "kept");
}
