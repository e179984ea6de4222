//! `status` tells scripts the truth through its exit code and names stores as `--store` spells
//! them; `status --check URL` tries the token; `expiry` records a date without re-pasting;
//! expiry warnings name the exact command and count calendar days; a mistyped command at a
//! terminal gets a suggestion while git's unknown operations stay silent.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{KeyutilsSession, Output, Scope, fake_api_token, helper_bin, shell_quote};

/// `date -u -d '+N days' +%F`.
fn days_from_today(days: i64) -> String {
    let mut cmd = std::process::Command::new("date");
    cmd.args(["-u", "-d", &format!("{days:+} days"), "+%F"]);
    Output::run(&mut cmd, "").stdout.trim().to_owned()
}

/// The days-left counts right for a date `days` ahead of `today` (UTC, [`days_from_today`]`(0)`
/// when that date was computed): `days`, and one fewer if a UTC midnight has passed since.
fn days_left_since(today: &str, days: i64) -> Vec<i64> {
    if days_from_today(0) == today {
        vec![days]
    } else {
        vec![days, days - 1]
    }
}

/// Does `text` say `(N days left)`, or `before` that, for one of the counts?
fn says_days_left(text: &str, before: &str, counts: &[i64]) -> bool {
    counts
        .iter()
        .any(|n| text.contains(&format!("{before}({n} days left)")))
}

#[test]
fn status_exits_non_zero_when_nothing_usable_or_no_store_and_names_stores_as_flags() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let empty = rig.cli(&["status"], "");
    assert_eq!(empty.status.code(), Some(1), "{empty:?}");
    assert!(empty.stdout.contains("no tokens stored"), "{empty:?}");
    rig.cli(&["login", "--stdin"], &rig.token).assert_success();
    rig.cli(&["status"], "").assert_success();

    let mut cmd = rig.env.command(helper_bin());
    cmd.args(["--store", "secret-service", "status"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let closed = Output::run(&mut cmd, "");
    assert_eq!(closed.status.code(), Some(1), "{closed:?}");
    assert!(
        closed.stdout.starts_with("store: secret-service\n"),
        "{closed:?}"
    );
    let mut cmd = rig.env.command(helper_bin());
    cmd.args(["--store", "secret-service", "status", "--json"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let json = Output::run(&mut cmd, "");
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(report["store"], "secret-service", "{json:?}");
    assert_eq!(
        report["readable"], false,
        "never 'no tokens' of a store not read: {json:?}"
    );
    assert!(
        !closed.stdout.contains("no tokens stored") && closed.stdout.contains("not known"),
        "{closed:?}"
    );
}

#[test]
fn status_check_tries_the_token_git_would_use_for_reading_and_pushing() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let url = rig.server.url("ws/repo.git");
    rig.cli(&["login", "--stdin"], &rig.token).assert_success();
    let out = rig.cli(&["status", "--check", &url], "");
    out.assert_success();
    assert!(
        out.stdout.contains("accepted") && out.stdout.contains("It can push too"),
        "{out:?}"
    );

    let reader = rig.secret(fake_api_token());
    rig.server.grant(&reader, Scope::Read);
    rig.cli(&["login", "--stdin", "--verify", &url, "--force"], &reader)
        .assert_success();
    let out = rig.cli(&["status", "--check", &url], "");
    out.assert_success();
    assert!(out.stdout.contains("can read, cannot push"), "{out:?}");

    let revoked = rig.secret(fake_api_token());
    rig.cli(&["login", "--stdin", "--force"], &revoked)
        .assert_success();
    let out = rig.cli(&["status", "--check", &url], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("(401)"), "{out:?}");
}

/// `status --check URL` tries the token `get` would hand git for that URL, chosen by the same
/// function: for `bob/%2e%2e/ws/repo.git` (which reaches ws's repository) the host's token,
/// never bob's workspace token (it tried bob's before). Control: bob's own URL tries bob's.
#[test]
fn status_check_tries_the_token_get_hands_out_for_a_dotted_path() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let bob = rig.secret(fake_api_token());
    rig.cli(&["login", "--stdin", "--workspace", "bob"], &bob)
        .assert_success();
    rig.cli(&["login", "--stdin"], &rig.token).assert_success();
    let host = rig.server.host();
    for (path, entry, token) in [
        ("bob/%2e%2e/ws/repo.git", host.clone(), &rig.token),
        ("bob/repo.git", format!("workspace bob on {host}"), &bob),
    ] {
        let get = rig.helper("get", &rig.request(&format!("path={path}")));
        assert_eq!(get.password().as_ref(), Some(token), "{path}: get");
        let out = rig.cli(&["status", "--check", &rig.server.url(path)], "");
        assert!(
            out.stdout.contains(&format!("with the token for {entry}:")),
            "{path}: {out:?}"
        );
    }
}

#[test]
fn expiry_is_set_without_the_token_and_warnings_name_the_workspace_and_count_days() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let acme = rig.secret(fake_api_token());
    rig.cli(&["login", "--stdin", "--workspace", "acme"], &acme)
        .assert_success();
    // The helper counts days from its own today: a UTC midnight after `five` was computed
    // makes it 4; each check accepts 4 only if the date has changed by then.
    let (today, five) = loop {
        let today = days_from_today(0);
        let five = days_from_today(5);
        if days_from_today(0) == today {
            break (today, five); // both of the same day
        }
    };
    let out = rig.cli(&["expiry", "--workspace", "acme", &five], "");
    out.assert_success();
    assert!(
        says_days_left(&out.stdout, "", &days_left_since(&today, 5)),
        "{out:?}"
    );
    let none = rig.cli(&["expiry", &five], "");
    none.assert_failure();
    assert!(none.stderr.contains("no token is stored"), "{none:?}");

    let get = rig.helper("get", &rig.request("path=acme/app.git"));
    assert_eq!(get.password().as_deref(), Some(acme.as_str()));
    assert!(
        says_days_left(
            &get.stderr,
            &format!("expires on {five} "),
            &days_left_since(&today, 5)
        ),
        "{get:?}"
    );
    assert!(
        get.stderr.contains(&format!(
            "--host {} login --workspace acme --expires YYYY-MM-DD",
            rig.server.host()
        )),
        "{get:?}"
    );
    let status = rig.cli(&["status"], "");
    assert!(
        says_days_left(&status.stdout, "", &days_left_since(&today, 5)),
        "{status:?}"
    );
}

#[test]
fn a_mistyped_command_at_a_terminal_gets_the_closest_one_and_git_gets_silence() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let bin = shell_quote(helper_bin().to_str().unwrap());
    for (typo, meant) in [("logut", "logout"), ("stauts", "status")] {
        let mut cmd = rig.env.command("script");
        cmd.args(["-qec", &format!("{bin} {typo}"), "/dev/null"]);
        let out = Output::run(&mut cmd, "");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(
            out.stdout.contains(&format!("did you mean '{meant}'?")),
            "{out:?}"
        );
        // From git (stdin a pipe): silent, exit 0, as the protocol requires.
        let quiet = rig
            .env
            .run_helper(&[typo], "protocol=https\nhost=bitbucket.org\n\n");
        quiet.assert_success();
        assert!(
            quiet.stdout.is_empty() && quiet.stderr.is_empty(),
            "{quiet:?}"
        );
    }
}

/// `setup --store NEW` moves every token of the configured store into NEW, expiry kept, and
/// leaves none behind: into each store from the file store (into the file store, from keyutils).
fn switching_stores_with_setup_moves_the_tokens_along(store: StoreUnderTest) {
    // A store of its own: a move lists the whole old store (every test's entries).
    let Some(mut rig) = Rig::private(store) else {
        return;
    };
    // Into the file store, the tokens come from keyutils (a session of the rig's own).
    let keyutils = if store == StoreUnderTest::File {
        let Some(keyutils) = KeyutilsSession::new_or_skip() else {
            return;
        };
        rig.env.use_keyutils(&keyutils);
        Some(keyutils)
    } else {
        None
    };
    let (from, to) = match &keyutils {
        Some(_) => ("keyutils", "file"),
        None => ("file", store.flag()),
    };
    // As a person has it: `login` without `--store` takes the store of the helper line that
    // `setup` wrote (the variable would win over it).
    rig.env.remove_env("GIT_CREDENTIAL_BITBUCKET_STORE");
    let host = rig.server.host();
    let acme = rig.secret(fake_api_token());
    let run = |args: &[&str], stdin: &str| {
        let out = rig.env.run_helper(args, stdin);
        rig.assert_no_leak(&out, false);
        out
    };
    run(&["--store", from, "--host", &host, "setup"], "").assert_success();
    run(
        &[
            "--host",
            &host,
            "login",
            "--stdin",
            "--expires",
            "2099-01-31",
        ],
        &rig.token,
    )
    .assert_success();
    run(
        &["--host", &host, "login", "--stdin", "--workspace", "acme"],
        &acme,
    )
    .assert_success();
    let in_old_store = || run(&["--store", from, "--host", &host, "status"], "");
    let before = in_old_store();
    assert_eq!(before.stdout.matches("ATATT").count(), 2, "{before:?}");
    let tokens_file = rig
        .env
        .home()
        .join(".local/share/git-credential-bitbucket/tokens");
    if from == "file" {
        assert!(
            std::fs::read_to_string(&tokens_file)
                .unwrap()
                .contains(&acme)
        );
    }

    let out = run(&["--store", to, "--host", &host, "setup"], "");
    out.assert_success();
    assert_eq!(
        out.stdout.matches("moved the token for").count(),
        2,
        "{out:?}"
    );
    // The rig's helper reads the new store: both tokens are there now, expiry kept.
    assert_eq!(rig.stored().as_deref(), Some(rig.token.as_str()));
    let ws = rig.helper("get", &rig.request("path=acme/app.git"));
    assert_eq!(ws.password().as_deref(), Some(acme.as_str()));
    let status = rig.cli(&["status"], "");
    assert!(status.stdout.contains("expires 2099-01-31"), "{status:?}");
    let after = in_old_store();
    assert!(
        after.stdout.contains("no tokens stored"),
        "moved, not copied: {after:?}"
    );
    if from == "file" {
        let left = std::fs::read_to_string(&tokens_file).unwrap_or_default();
        assert!(
            !left.contains(&acme) && !left.contains(&rig.token),
            "moved, not copied"
        );
    }
    // The configuration now names the new store; running setup again moves nothing.
    let again = run(&["--store", to, "--host", &host, "setup"], "");
    assert!(!again.stdout.contains("moved"), "{again:?}");
}

on_every_store!(switching_stores_with_setup_moves_the_tokens_along);

/// Commands for people take what their command line leaves open from the helper line git runs:
/// its store, and its extra hosts, so that `status`, `logout` and doctor's `migrate` fix see a
/// configured host's token (they missed it when they read only `--store`).
#[test]
fn people_commands_take_the_store_and_hosts_of_the_configured_helper() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let host = rig.server.host();
    rig.cli(&["login", "--stdin"], &rig.token).assert_success();
    // Control: with the options given, the token is there.
    let given = rig.cli(&["status"], "");
    given.assert_success();
    assert!(given.stdout.contains(&host), "{given:?}");
    // Without them, from the configured line: the same store and host.
    let bare = rig.env.run_helper(&["status"], "");
    bare.assert_success();
    assert!(bare.stdout.starts_with("store: file\n"), "{bare:?}");
    assert!(bare.stdout.contains(&host), "{bare:?}");
    let out = rig.env.run_helper(&["logout"], "");
    out.assert_success();
    assert!(
        out.stdout
            .contains(&format!("Removed the token for {host}")),
        "{out:?}"
    );
    assert_eq!(rig.stored(), None);
}

/// `setup --host '[::1]:7999'` writes the host shell-quoted (brackets need it); the people
/// commands read the line as the shell does, so they serve that host. Before, they kept the
/// quotes and every command failed with "is not a host[:port]".
#[test]
fn a_host_setup_had_to_quote_is_read_back_by_every_people_command() {
    let env = crate::support::TestEnv::new();
    env.run_helper(&["--store", "file", "--host", "[::1]:7999", "setup"], "")
        .assert_success();
    let token = crate::support::fake_api_token();
    let login = env.run_helper(&["login", "--stdin"], &token);
    login.assert_success();
    let status = env.run_helper(&["status"], "");
    status.assert_success();
    assert!(status.stdout.starts_with("store: file\n"), "{status:?}");
    assert!(status.stdout.contains("[::1]:7999"), "{status:?}");
    assert!(!status.stderr.contains("not a host"), "{status:?}");
    env.run_helper(&["teardown"], "").assert_success();
}

/// `--unlock-timeout` given to `setup` goes into the helper line git runs, and a `setup` run
/// again without it (an upgrade, doctor's fix) keeps the configured one.
#[test]
fn setup_writes_the_unlock_timeout_and_a_second_setup_keeps_it() {
    let env = crate::support::TestEnv::new();
    let line = |env: &crate::support::TestEnv| {
        let out = env.git(&[
            "config",
            "--global",
            "--get",
            "credential.https://bitbucket.org.helper",
        ]);
        out.stdout
    };
    env.run_helper(&["--store", "file", "setup"], "")
        .assert_success();
    assert!(
        !line(&env).contains("--unlock-timeout"),
        "control: {}",
        line(&env)
    );
    env.run_helper(&["--store", "file", "--unlock-timeout", "0", "setup"], "")
        .assert_success();
    assert!(line(&env).contains(" --unlock-timeout 0"), "{}", line(&env));
    env.run_helper(&["setup"], "").assert_success();
    let kept = line(&env);
    assert!(
        kept.contains(" --unlock-timeout 0") && kept.contains(" --store file"),
        "{kept}"
    );
}
