//! The suite never touches the keyrings of the person running it, and two runs of it at once
//! do not meet.
//!
//! The keyutils store links the user's persistent keyring into the session it runs in, so a
//! test that ran the helper in a plain session keyring reached the persistent keyring of
//! whoever ran `cargo test`: it could read their `bitbucket.org` token, or delete it with
//! `logout --all`. Every keyutils test now runs in a user namespace of its own
//! (support/keyrings/keyutils.rs). This test proves it the only way that can fail: it plays
//! the person. It plants a token in the persistent keyring of a user namespace standing for
//! the person's login, runs every keyutils test of this binary inside that namespace (as
//! `cargo test` would run them in the person's login), and checks the token is still there,
//! unchanged. Before the namespaces, `logout --all` in `commands::keyutils` deleted it.

use std::process::Command;

use crate::support::tier::{self, SlowTier};
use crate::support::{KeyutilsSession, Output, TestEnv, fake_api_token};

/// Set in the nested run, so that this test does not start itself again.
const NESTED: &str = "GCB_TEST_NESTED_SUITE";
/// The key the keyutils store would use for `bitbucket.org` (`keyring:{user}@{service}`).
const PLANTED: &str = "keyring:bitbucket.org@git-credential-bitbucket";
/// Test names that run the helper on keyutils contain one of these (module `keyutils`,
/// or a `session_keyring` fault), or may reach it without naming it: `auto` without a bus
/// falls back to keyutils, and setup, the installers and cron's set-ups write helper lines
/// and switch stores. (Every other test runs in a keyring of its own too: `TestEnv::command`.)
const KEYUTILS_TESTS: [&str; 6] = ["keyutils", "keyring", "auto", "setup", "install", "cron"];

#[test]
fn the_outer_persistent_keyring_is_untouched_by_the_keyutils_tests() {
    if std::env::var_os(NESTED).is_some() || !tier::asked_for(SlowTier::Long) {
        return;
    }
    let Some(login) = KeyutilsSession::new_or_skip() else {
        return;
    };
    let token = fake_api_token();
    let planted = in_persistent_keyring(&login, "keyctl padd user \"$1\" \"$p\"", &token);
    let planted_id = planted.assert_success().stdout.trim().to_owned();

    let mut suite = login.command(std::env::current_exe().expect("the test binary"));
    suite.args(KEYUTILS_TESTS).env(NESTED, "1");
    let nested = Output::run(&mut suite, "");
    assert!(
        nested.success() && nested.stdout.contains("test result: ok"),
        "the keyutils tests failed when run in the outer login: {nested:?}"
    );
    let ran: usize = nested
        .stdout
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with(" ok"))
        .count();
    assert!(ran >= 10, "only {ran} keyutils tests ran: {nested:?}");

    let found = in_persistent_keyring(&login, "keyctl search \"$p\" user \"$1\"", "");
    assert_eq!(
        found.stdout.trim(),
        planted_id,
        "the planted key is gone from the outer persistent keyring: {found:?}"
    );
    let read = in_persistent_keyring(
        &login,
        "keyctl pipe \"$(keyctl search \"$p\" user \"$1\")\"",
        "",
    );
    assert!(read.stdout == token, "the planted key was changed");
}

/// Runs `script` with `$p` the persistent keyring of `login`'s user namespace (linked into
/// its session keyring, as the keyutils store links it) and `$1` the planted key's name.
fn in_persistent_keyring(login: &KeyutilsSession, script: &str, stdin: &str) -> Output {
    let script = format!("p=$(keyctl get_persistent @s) && {script}");
    let mut cmd: Command = login.command("sh");
    cmd.args(["-c", &script, "sh", PLANTED]);
    Output::run(&mut cmd, stdin)
}

/// `git config --system`, and the helper's `setup --system`, run by a test write the test's own
/// file (GIT_CONFIG_SYSTEM, set by `TestEnv`), never the machine's /etc/gitconfig, even for a
/// suite run as root.
#[test]
fn a_system_wide_git_configuration_written_by_a_test_stays_in_its_temporary_directory() {
    let env = TestEnv::new();
    let system = env.system_gitconfig();
    assert_eq!(
        system.parent(),
        env.home().parent(),
        "GIT_CONFIG_SYSTEM is in the test's temporary directory"
    );
    let real = || std::fs::read("/etc/gitconfig").ok();
    let before = real();
    env.git(&["config", "--system", "gcb-test.hermetic", "yes"])
        .assert_success();
    let written = std::fs::read_to_string(&system).expect("the test's system configuration");
    assert!(written.contains("hermetic = yes"), "{written}");
    env.run_helper(&["--store", "file", "setup", "--system"], "")
        .assert_success();
    let written = std::fs::read_to_string(&system).expect("the test's system configuration");
    assert!(written.contains("git-credential-bitbucket"), "{written}");
    assert!(real() == before, "/etc/gitconfig changed");
}
