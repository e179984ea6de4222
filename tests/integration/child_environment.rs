//! No program the helper starts ever sees `BITBUCKET_API_TOKEN`, the CI token it was given,
//! nor the token in a file `BITBUCKET_API_TOKEN_FILE` or `$CREDENTIALS_DIRECTORY` names.
//!
//! The helper starts git for the commands people run (doctor, migrate, setup, status,
//! logout, teardown, login --verify), and git runs what its config says (hooks, helpers,
//! aliases), so every git child is made by `src/git/`, which removes the variable (a file's
//! token is read into memory only; the variables naming files are paths, and are passed on). libdbus
//! would exec the program a `unixexec:` session bus address names, with our environment: the
//! helper does not follow such an address. Both are checked with real children that write
//! down the environment they got.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, fake_api_token, helper_bin, shell_quote};

const TOKEN_ENV: &str = "BITBUCKET_API_TOKEN";
/// Set beside the token: a child that has it inherited our environment.
const MARKER: &str = "GCB_TEST_INHERITED=yes";

/// A script that appends `=== NAME ARGS` and its environment to `log`, then runs `then`
/// (if any) with its arguments.
fn reporter(path: &Path, log: &Path, then: Option<&Path>) {
    let then = then.map_or(String::new(), |p| {
        format!("exec {} \"$@\"", shell_quote(p.to_str().unwrap()))
    });
    let script = format!(
        "#!/bin/sh\n{{ printf '=== %s %s\\n' \"$0\" \"$*\"; env; }} >> {log}\n{then}\n",
        log = shell_quote(log.to_str().unwrap()),
    );
    crate::support::write_executable(path, script, "700");
}

/// The real git, found on PATH before the stand-in goes first.
fn real_git() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("git"))
        .find(|g| g.is_file())
        .expect("git on PATH")
}

/// The children's reports: one `(first line, environment)` per run.
fn reports(log: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.split("=== ")
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (first, env) = r.split_once('\n').unwrap_or((r, ""));
            (first.to_owned(), env.to_owned())
        })
        .collect()
}

/// Runs every command that starts git, with `env` added, under a stand-in `git` first on PATH
/// that writes down its environment: the reports, each checked for the marker, and the
/// commands that ran git. Panics if a command that should have run git did not.
fn children_of_every_command(rig: &mut Rig, env: &[(&str, &OsStr)]) -> Vec<(String, String)> {
    rig.will_answer(Some(&rig.token.clone()));
    rig.clone().assert_success();
    let shim_dir = rig.env.home().join("shim");
    std::fs::create_dir(&shim_dir).unwrap();
    let log = rig.env.home().join("git-children.log");
    reporter(&shim_dir.join("git"), &log, Some(&real_git()));
    let mut path = vec![shim_dir];
    path.extend(std::env::split_paths(rig.env.env_var("PATH").unwrap()));
    let path = std::env::join_paths(path).unwrap();

    let url = rig.server.url("ws/repo.git");
    let commands: [&[&str]; 8] = [
        &["doctor"],
        &["migrate"],
        &["setup"],
        &["status"],
        &["login", "--stdin", "--verify", &url],
        &["logout"],
        &["teardown"],
        &["logout", "--all"],
    ];
    let mut ran_git = Vec::new();
    for args in commands {
        let before = reports(&log).len();
        let mut cmd = rig.env.command(helper_bin());
        cmd.args(rig.helper_args())
            .args(args)
            .current_dir(rig.clone_dir())
            .env("PATH", &path)
            .envs(env.iter().copied())
            .env("GCB_TEST_INHERITED", "yes");
        let out = Output::run(&mut cmd, &rig.token);
        rig.assert_no_leak(&out, false);
        if reports(&log).len() > before {
            ran_git.push(args[0]);
        }
    }
    let reports = reports(&log);
    for (run, env) in &reports {
        assert!(
            env.contains(MARKER),
            "the stand-in saw no inherited environment: {run}"
        );
    }
    for must in ["doctor", "migrate", "setup", "login", "teardown"] {
        assert!(
            ran_git.contains(&must),
            "`{must}` ran no git, so this test checks nothing for it (ran git: {ran_git:?})"
        );
    }
    reports
}

#[test]
fn no_git_child_of_any_command_inherits_the_ci_token() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let ci_token = rig.secret(fake_api_token());
    let env = [(TOKEN_ENV, OsStr::new(&ci_token))];
    for (run, env) in children_of_every_command(&mut rig, &env) {
        assert!(
            !env.contains(ci_token.as_str()),
            "a git child inherited BITBUCKET_API_TOKEN: {run}"
        );
    }
}

#[test]
fn no_git_child_of_any_command_sees_the_token_of_a_file_or_a_systemd_credential() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let home = rig.env.home().to_owned();
    let private = |path: &Path, token: &str| {
        std::fs::write(path, format!("{token}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let in_file = rig.secret(fake_api_token());
    let file = home.join("bitbucket-token");
    private(&file, &in_file);
    let credentials = home.join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    let in_credential = rig.secret(fake_api_token());
    private(&credentials.join("bitbucket-api-token"), &in_credential);
    let env = [
        ("BITBUCKET_API_TOKEN_FILE", file.as_os_str()),
        ("CREDENTIALS_DIRECTORY", credentials.as_os_str()),
    ];
    let reports = children_of_every_command(&mut rig, &env);
    for (run, env) in &reports {
        for token in [&in_file, &in_credential] {
            assert!(
                !env.contains(token.as_str()),
                "a git child got a token from a file: {run}"
            );
        }
    }
    // Control: the variables naming the files did reach them (so the check saw their
    // environment as the helper had it).
    assert!(
        reports
            .iter()
            .all(|(_, env)| env.contains("BITBUCKET_API_TOKEN_FILE=")),
        "the stand-in did not see the helper's environment"
    );
}

#[test]
fn a_unixexec_session_bus_is_not_followed_so_no_program_gets_the_ci_token() {
    // Keyutils in its own namespace: `auto` falls back to it.
    let Some(mut rig) = Rig::new(StoreUnderTest::Keyutils) else {
        return;
    };
    let ci_token = rig.secret(fake_api_token());
    let program = rig.env.home().join("bus-program");
    let log = rig.env.home().join("bus-program.log");
    reporter(&program, &log, None);
    rig.env.set_env(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unixexec:path={}", program.display()),
    );
    rig.env.set_env(TOKEN_ENV, &ci_token);
    rig.env.set_env("GCB_TEST_INHERITED", "yes");

    // Control: libdbus does follow it, and the program gets the environment.
    let mut send = rig.env.command("dbus-send");
    send.args([
        "--session",
        "--dest=org.freedesktop.DBus",
        "/",
        "org.freedesktop.DBus.Peer.Ping",
    ]);
    Output::run(&mut send, "");
    let control = reports(&log);
    assert!(
        control.len() == 1 && control[0].1.contains(ci_token.as_str()),
        "dbus-send did not run the unixexec: program, so this test proves nothing"
    );
    std::fs::remove_file(&log).unwrap();

    let stored = rig.secret(fake_api_token());
    for store in ["secret-service", "auto"] {
        for (operation, input) in [
            ("store", rig.request(&format!("password={stored}"))),
            ("get", rig.request("")),
            ("erase", rig.request("password=ATATTnot-this-one")),
        ] {
            let mut cmd = rig.env.command(helper_bin());
            cmd.args(["--store", store, "--host", &rig.server.host(), operation]);
            let out = Output::run(&mut cmd, &input);
            rig.assert_no_leak(&out, operation == "get");
            out.assert_success();
            // `get` answers BITBUCKET_API_TOKEN before any store.
            if store == "secret-service" && operation != "get" {
                assert!(out.stderr.contains("unixexec:"), "{out:?}");
            }
        }
        for status in ["status", "doctor"] {
            let mut cmd = rig.env.command(helper_bin());
            cmd.args(["--store", store, "--host", &rig.server.host(), status]);
            rig.assert_no_leak(&Output::run(&mut cmd, ""), false);
        }
    }
    assert!(
        reports(&log).is_empty(),
        "the helper ran the unixexec: program: {:?}",
        reports(&log).iter().map(|r| &r.0).collect::<Vec<_>>()
    );
}
