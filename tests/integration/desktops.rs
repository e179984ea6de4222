//! Linux desktops: the Secret Service locked, unlocked by a person, dismissed, left unanswered,
//! and prompting for every change, as GNOME Keyring, KeePassXC and KWallet do. The flows of
//! `flows.rs` run on every provider through `on_every_store!`; these are the moments where the
//! providers differ: a lock.
//!
//! Every test drives real git (or the helper as git runs it) against a private provider on a
//! private bus. A person at the desktop is GNOME Keyring's stand-in prompter (unlocks,
//! cancels, never answers); KeePassXC's own unlock dialog is up on its offscreen display,
//! where nobody answers it. Nothing may hang: every git runs under the rig's deadline.

use std::time::Instant;

use crate::rig::{Rig, StoreUnderTest};
use crate::support::keyrings::{PrompterMode, Provider};
use crate::support::{KeyutilsSession, Output, SecretServiceSession, TestEnv, fake_api_token};

/// A rig on a private provider, with a token stored there (git's clone, with the default
/// unlock timeout), then locked, and git's helper given `--unlock-timeout UNLOCK_TIMEOUT`;
/// GNOME Keyring's stand-in prompter then in `prompter` (the other providers have none).
fn locked_rig(
    store: StoreUnderTest,
    unlock_timeout: &str,
    prompter: Option<PrompterMode>,
) -> Option<(Rig, String)> {
    let mut rig = Rig::private(store)?;
    let stored = rig.token.clone();
    rig.will_answer(Some(&stored));
    rig.clone().assert_success();
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()), "control");
    rig.env.configure_helper(&format!(
        "{} --unlock-timeout {unlock_timeout}",
        rig.helper_args().join(" ")
    ));
    rig.session().lock_collection();
    assert!(rig.session().is_locked());
    if let Some(mode) = prompter {
        rig.session().set_prompter(mode).expect("prompter");
    }
    Some((rig, stored))
}

#[test]
fn a_locked_gnome_keyring_unlocked_at_its_prompt_keeps_git_silent() {
    let Some((mut rig, stored)) = locked_rig(
        StoreUnderTest::SecretService,
        "60",
        Some(PrompterMode::Unlocks),
    ) else {
        return;
    };
    rig.will_answer(None); // a prompt from git would fail the fetch
    let out = rig.fetch();
    out.assert_success();
    assert_eq!(rig.env.prompt_count(), 1, "only the first clone prompted");
    assert!(!rig.session().is_locked(), "the person unlocked it");
    assert!(
        !rig.session().prompter_answers().is_empty(),
        "the keyring asked the person"
    );
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()));
}

#[test]
fn a_dismissed_unlock_means_git_prompts_and_the_locked_token_survives() {
    let Some((mut rig, stored)) = locked_rig(
        StoreUnderTest::SecretService,
        "60",
        Some(PrompterMode::Cancels),
    ) else {
        return;
    };
    let other = rig.secret(fake_api_token());
    rig.server.grant(&other, crate::support::Scope::ReadWrite);
    rig.will_answer(Some(&other));
    let out = rig.fetch();
    out.assert_success();
    assert_eq!(
        rig.env.prompt_count(),
        2,
        "git asked, since the keyring stayed locked"
    );
    out.assert_stderr_says(&[
        "GNOME Keyring's collection",
        "locked",
        "dismissed",
        "not saved",
    ]);
    assert!(rig.session().is_locked());
    rig.session().unlock_collection();
    assert_eq!(
        rig.stored().as_deref(),
        Some(stored.as_str()),
        "the token in the locked keyring was neither lost nor replaced"
    );
}

#[test]
fn an_unanswered_unlock_is_dismissed_at_its_deadline_and_announced() {
    let Some((mut rig, _)) = locked_rig(
        StoreUnderTest::SecretService,
        "2",
        Some(PrompterMode::NeverAnswers),
    ) else {
        return;
    };
    fetch_with_the_prompt_answered(&mut rig).assert_stderr_says(&[
        "is locked: unlock it in the dialog on your desktop",
        "Waiting up to 2 s",
        "nobody answered",
    ]);
    // The keyring daemon is alive (gnome-keyring 42.1 aborts when such a prompt is
    // dismissed) and still locked.
    assert!(rig.session().is_locked(), "{}", rig.session().diagnostics());
    rig.session()
        .set_prompter(PrompterMode::Cancels)
        .expect("release the pending question");
}

/// A fetch on a locked rig whose token git's prompt may be answered with, as a person would
/// type it: it succeeds, whether or not the helper got the token from the keyring.
fn fetch_with_the_prompt_answered(rig: &mut Rig) -> Output {
    rig.will_answer(Some(&rig.token.clone()));
    let out = rig.fetch();
    out.assert_success();
    out
}

/// [`fetch_with_the_prompt_answered`] with `--unlock-timeout 0`: the helper said why it did
/// not wait.
fn fetch_told_not_to_wait(rig: &mut Rig) -> Output {
    let out = fetch_with_the_prompt_answered(rig);
    assert!(
        out.stderr
            .contains("GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT=0"),
        "{out:?}"
    );
    out
}

#[test]
fn an_unlock_timeout_of_zero_never_asks() {
    let Some((mut rig, _)) = locked_rig(
        StoreUnderTest::SecretService,
        "0",
        Some(PrompterMode::Unlocks),
    ) else {
        return;
    };
    fetch_told_not_to_wait(&mut rig);
    assert!(
        rig.session().prompter_answers().is_empty(),
        "nobody was asked"
    );
    assert!(rig.session().is_locked());
}

/// KWallet's `Unlock` needs no person (a login opened the wallet), yet `--unlock-timeout 0`
/// keeps the helper from calling it, and KWallet hands its collection out Locked: so with 0 the
/// helper never reads a KWallet that something else did not unlock first, and git prompts on
/// every fetch. What this test pins down is today's behaviour; whether 0 should still allow an
/// unlock that completes without a dialog is a product question.
#[test]
fn an_unlock_timeout_of_zero_leaves_kwallet_locked_and_git_prompts() {
    let Some((mut rig, stored)) = locked_rig(StoreUnderTest::KWallet, "0", None) else {
        return;
    };
    let out = fetch_told_not_to_wait(&mut rig);
    assert!(out.stderr.contains("KWallet's collection"), "{out:?}");
    assert_eq!(
        rig.env.prompt_count(),
        2,
        "the stored token was not handed out: git asked again"
    );
    assert!(rig.session().is_locked(), "nothing unlocked it");

    // Control: with the default timeout the same fetch unlocks KWallet, with no dialog, and
    // git gets the stored token without asking.
    rig.env.configure_helper(&rig.helper_args().join(" "));
    rig.will_answer(None);
    rig.fetch().assert_success();
    assert_eq!(rig.env.prompt_count(), 2, "no third prompt");
    assert!(!rig.session().is_locked());
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()));
}

/// KeePassXC holds a search while its unlock dialog is up (`UnlockBeforeSearch`, its default):
/// the helper must ask the lock first, and answer at once when it may not wait for a person.
#[test]
fn a_locked_keepassxc_is_never_searched_and_answers_at_once_without_an_unlock() {
    let Some((mut rig, stored)) = locked_rig(StoreUnderTest::KeePassXc, "0", None) else {
        return;
    };
    let started = Instant::now();
    let out = fetch_with_the_prompt_answered(&mut rig);
    let took = started.elapsed();
    assert!(out.stderr.contains("KeePassXC's collection"), "{out:?}");
    assert!(
        !out.stderr.contains("did not answer"),
        "a search held by KeePassXC timed out instead: {out:?} ({took:?})"
    );
    rig.session().unlock_collection();
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()));
}

#[test]
fn a_locked_keepassxc_whose_dialog_nobody_answers_is_given_up_at_the_deadline() {
    let Some((mut rig, _)) = locked_rig(StoreUnderTest::KeePassXc, "2", None) else {
        return;
    };
    fetch_with_the_prompt_answered(&mut rig).assert_stderr_says(&[
        "KeePassXC's collection",
        "Waiting up to 2 s",
        "nobody answered",
    ]);
}

/// The helper's options for the Secret Service, never waiting for an unlock.
const NEVER_WAIT_ON_THE_SECRET_SERVICE: [&str; 4] =
    ["--store", "secret-service", "--unlock-timeout", "0"];

/// A private KeePassXC that answers searches while locked (`UnlockBeforeSearch=false`), and a
/// home whose helper logged a token in there (still unlocked).
fn keepassxc_searched_while_locked_with_a_token() -> Option<(SecretServiceSession, TestEnv)> {
    let provider = Provider::KeePassXc {
        unlock_before_search: false,
    };
    let (session, env, _) = provider_with_a_token(provider)?;
    Some((session, env))
}

/// A private `provider` (unlocked first if it starts locked, as KWallet does), and a home whose
/// helper logged a token (returned) in there, never waiting for an unlock.
fn provider_with_a_token(provider: Provider) -> Option<(SecretServiceSession, TestEnv, String)> {
    let session = SecretServiceSession::start_provider_or_skip(provider)?;
    if session.is_locked() {
        session.unlock_collection();
    }
    let mut env = TestEnv::new();
    env.use_secret_service(&session);
    let token = fake_api_token();
    env.run_helper(
        &[&NEVER_WAIT_ON_THE_SECRET_SERVICE[..], &["login", "--stdin"]].concat(),
        &token,
    )
    .assert_success();
    Some((session, env, token))
}

/// `status`, `doctor` and `logout` on a locked `provider`, told not to wait for an unlock: each
/// names the lock and fails, none asks anyone, none takes the lock for "no tokens" nor lists
/// a token it could not read (KWallet lists its items with EMPTY secrets while locked), and
/// logout deletes nothing: once unlocked, the token is there, unchanged.
fn a_locked_store_told_not_to_wait_names_the_lock_and_loses_nothing(provider: Provider) {
    let Some((session, env, token)) = provider_with_a_token(provider) else {
        return;
    };
    let collection = match provider {
        Provider::GnomeKeyring => "GNOME Keyring's collection",
        Provider::KeePassXc { .. } => "KeePassXC's collection",
        Provider::KWallet => "KWallet's collection",
    };
    if provider == Provider::GnomeKeyring {
        // A person who would refuse: an unlock asked for would show in its answers.
        session
            .set_prompter(PrompterMode::Cancels)
            .expect("prompter");
    }
    let args = NEVER_WAIT_ON_THE_SECRET_SERVICE;
    let run = |command: &str| env.run_helper(&[&args[..], &[command]].concat(), "");
    let listed = run("status");
    listed.assert_success();
    let entry = |out: &Output| {
        out.stdout
            .lines()
            .find(|l| l.starts_with("bitbucket.org"))
            .map(str::to_owned)
    };
    let listed_entry = entry(&listed).expect("control: status lists the token");
    assert!(listed_entry.contains("ATATT…"), "control: {listed:?}");
    session.lock_collection();

    let status = run("status");
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    assert!(!status.stdout.contains("no tokens stored"), "{status:?}");
    status.assert_stdout_says(&[collection, "locked", "not known"]);
    assert_eq!(entry(&status), None, "no entry listed unread: {status:?}");
    assert!(!status.stdout.contains("ATATT"), "{status:?}");

    let doctor = run("doctor");
    assert_eq!(doctor.status.code(), Some(1), "{doctor:?}");
    assert!(
        doctor.stdout.contains("FAIL") && doctor.stdout.contains("locked"),
        "{doctor:?}"
    );
    assert!(
        doctor.stdout.contains("fix: unlock your keyring"),
        "{doctor:?}"
    );

    let logout = run("logout");
    assert!(
        !logout.success(),
        "logout cannot remove what it cannot see: {logout:?}"
    );
    assert!(logout.stderr.contains("locked"), "{logout:?}");
    for out in [&status, &doctor, &logout] {
        assert!(
            !out.stdout.contains(&token) && !out.stderr.contains(&token),
            "a token leaked"
        );
    }

    assert!(session.is_locked(), "nothing unlocked it");
    if provider == Provider::GnomeKeyring {
        assert!(session.prompter_answers().is_empty(), "nobody was asked");
    }
    // Control: unlocked, the token is there, unchanged, and listed as before.
    session.unlock_collection();
    let get = env.run_helper(
        &[&args[..], &["get"]].concat(),
        "protocol=https\nhost=bitbucket.org\n\n",
    );
    assert_eq!(get.password().as_deref(), Some(token.as_str()), "{get:?}");
    let after = run("status");
    after.assert_success();
    assert_eq!(entry(&after), Some(listed_entry), "{after:?}");
}

#[test]
fn status_doctor_and_logout_on_a_locked_gnome_keyring_told_not_to_wait() {
    a_locked_store_told_not_to_wait_names_the_lock_and_loses_nothing(Provider::GnomeKeyring);
}

#[test]
fn status_doctor_and_logout_on_a_locked_kwallet_told_not_to_wait() {
    a_locked_store_told_not_to_wait_names_the_lock_and_loses_nothing(Provider::KWallet);
}

/// KeePassXC as users have it (`UnlockBeforeSearch`, its default); the tests above cover it
/// with searches answered while locked.
#[test]
fn status_doctor_and_logout_on_a_locked_keepassxc_told_not_to_wait() {
    a_locked_store_told_not_to_wait_names_the_lock_and_loses_nothing(Provider::KeePassXc {
        unlock_before_search: true,
    });
}

/// With `UnlockBeforeSearch=false` a locked KeePassXC answers searches with nothing: status
/// must not take that for "no tokens".
#[test]
fn status_on_a_locked_keepassxc_names_the_lock_never_no_tokens() {
    let Some((session, env)) = keepassxc_searched_while_locked_with_a_token() else {
        return;
    };
    let args = NEVER_WAIT_ON_THE_SECRET_SERVICE;
    let listed = env.run_helper(&[&args[..], &["status"]].concat(), "");
    listed.assert_success();
    assert!(listed.stdout.contains("ATATT…"), "control: {listed:?}");
    session.lock_collection();
    let status = env.run_helper(&[&args[..], &["status"]].concat(), "");
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    assert!(!status.stdout.contains("no tokens stored"), "{status:?}");
    status.assert_stdout_says(&["KeePassXC's collection", "locked", "not known"]);
    let logout = env.run_helper(&[&args[..], &["logout"]].concat(), "");
    assert!(
        !logout.success(),
        "logout cannot remove what it cannot see: {logout:?}"
    );
    assert!(logout.stderr.contains("locked"), "{logout:?}");
}

/// `auto` on a desktop whose keyring is locked and cannot be unlocked here (no prompter, as
/// over SSH): the token goes to the kernel keyring, and the helper says so; once the keyring
/// is unlocked, the next git operation moves it there, so it never sits in two stores
/// unannounced.
#[test]
fn auto_falls_back_while_the_keyring_is_locked_and_moves_the_token_back_once_unlocked() {
    let Some(session) = SecretServiceSession::start_provider_or_skip(Provider::GnomeKeyring) else {
        return;
    };
    let Some(keyutils) = KeyutilsSession::new_or_skip() else {
        return;
    };
    let mut rig = match Rig::new(StoreUnderTest::File) {
        Some(rig) => rig,
        None => return,
    };
    rig.env.use_secret_service(&session);
    rig.env.use_keyutils(&keyutils);
    let host = rig.server.host();
    rig.env
        .configure_helper(&format!("--store auto --host {host} --unlock-timeout 5"));
    session.lock_collection();
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    let out = rig.clone();
    out.assert_success();
    assert!(
        out.stderr
            .contains("auto saved the token in the kernel keyring"),
        "{out:?}"
    );
    let auto = |env: &TestEnv, args: &[&str]| {
        let mut all = vec![
            "--store",
            "auto",
            "--host",
            host.as_str(),
            "--unlock-timeout",
            "5",
        ];
        all.extend_from_slice(args);
        env.run_helper(&all, "")
    };
    let status = auto(&rig.env, &["status"]);
    assert!(status.stdout.contains("store: keyutils"), "{status:?}");

    session.unlock_collection();
    rig.will_answer(None);
    let fetched = rig.fetch();
    fetched.assert_success();
    assert!(
        fetched
            .stderr
            .contains("it is now in the secret-service store"),
        "{fetched:?}"
    );
    let status = auto(&rig.env, &["status"]);
    status.assert_success();
    assert!(
        status.stdout.contains("store: secret-service"),
        "{status:?}"
    );
    assert!(
        !status.stdout.contains("keyutils"),
        "in one store only: {status:?}"
    );
    let in_keyutils = rig
        .env
        .run_helper(&["--store", "keyutils", "--host", &host, "status"], "");
    assert!(
        in_keyutils.stdout.contains("no tokens stored"),
        "{in_keyutils:?}"
    );
    rig.fetch().assert_success();
}

/// No default collection (the `login` collection deleted, so the `default` alias names
/// nothing): as libsecret does, a collection is made under that alias (GNOME Keyring asks the
/// person for its password); where nobody can be asked, the helper says so and saves nothing.
#[test]
fn without_a_default_collection_one_is_made_as_libsecret_does() {
    let Some(mut rig) = Rig::private(StoreUnderTest::SecretService) else {
        return;
    };
    let unset = Output::run(
        rig.session().command("dbus-send").args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets/collection/login",
            "org.freedesktop.Secret.Collection.Delete",
        ]),
        "",
    );
    unset.assert_success();
    rig.env.configure_helper(&format!(
        "{} --unlock-timeout 5",
        rig.helper_args().join(" ")
    ));
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    // Nobody to ask (no prompter): not saved, and said why.
    let out = rig.clone();
    out.assert_success();
    out.assert_stderr_says(&[
        "GNOME Keyring has no default collection",
        "dismissed",
        "not saved",
    ]);
    assert_eq!(rig.stored(), None);
    // A person answers: the collection is made, and the token saved in it.
    rig.session()
        .set_prompter(PrompterMode::Unlocks)
        .expect("prompter");
    let fetched = rig.fetch();
    fetched.assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()), "{fetched:?}");
    assert_eq!(
        rig.session().prompter_answers(),
        ["unlock"],
        "asked once, for its password"
    );
    assert!(
        rig.session().default_collection() != "/",
        "the new collection is the default"
    );
}

/// KWallet hands its collection out Locked even after a login opened the wallet; `Unlock`
/// then completes at once, with no dialog: a client that never unlocks never works on KDE.
#[test]
fn a_kwallet_handed_out_locked_is_unlocked_without_a_word() {
    let Some(rig) = Rig::private(StoreUnderTest::KWallet) else {
        return;
    };
    assert!(rig.session().is_locked(), "as a KDE login leaves it");
    let out = rig.cli(&["login", "--stdin"], &rig.token);
    out.assert_success();
    assert!(
        !out.stderr.contains("Waiting"),
        "no person was needed: {out:?}"
    );
    assert_eq!(rig.stored().as_deref(), Some(rig.token.as_str()));
    assert!(!rig.session().is_locked());
}

/// doctor's fix fits the place: on a desktop whose keychain is locked, unlock it; on a server
/// with no session bus, a store that needs no desktop.
#[test]
fn doctor_says_to_unlock_a_locked_keychain_and_to_use_keyutils_without_a_bus() {
    let Some((session, env)) = keepassxc_searched_while_locked_with_a_token() else {
        return;
    };
    let args = NEVER_WAIT_ON_THE_SECRET_SERVICE;
    session.lock_collection();
    let locked = env.run_helper(&[&args[..], &["doctor"]].concat(), "");
    assert_eq!(locked.status.code(), Some(1), "{locked:?}");
    assert!(
        locked.stdout.contains("FAIL") && locked.stdout.contains("locked"),
        "{locked:?}"
    );
    assert!(
        locked.stdout.contains("fix: unlock your keyring"),
        "{locked:?}"
    );

    let mut server = TestEnv::new();
    server.set_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    server.remove_env("DISPLAY");
    server.remove_env("WAYLAND_DISPLAY");
    let out = server.run_helper(&["--store", "secret-service", "doctor"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("--store keyutils setup"), "{out:?}");
    assert!(!out.stdout.contains("unlock your keyring"), "{out:?}");
}

/// Six `get`s at once on a locked KWallet: the first unlock opens the wallet, and KWallet
/// completes the others' prompts at once, often before they ask to run them (their objects
/// then gone). Each `get` still hands out the token: it keeps a prompt's signal from the moment
/// it asks for the unlock, and a prompt gone unseen means "look again". Before, one in a few
/// answered "an object the Secret Service named is gone" and git prompted.
#[test]
fn concurrent_gets_on_a_locked_kwallet_all_hand_out_the_token() {
    for round in 0..5 {
        let Some((rig, stored)) = locked_rig(StoreUnderTest::KWallet, "10", None) else {
            return;
        };
        let request = rig.request("");
        let answers: Vec<Output> = std::thread::scope(|s| {
            let asked: Vec<_> = (0..6)
                .map(|_| s.spawn(|| rig.helper("get", &request)))
                .collect();
            asked
                .into_iter()
                .map(|h| h.join().expect("a get"))
                .collect()
        });
        for out in &answers {
            assert_eq!(
                out.password().as_deref(),
                Some(stored.as_str()),
                "round {round}: {out:?}"
            );
        }
    }
}
