//! git's own credential-helper test cases, on every store, through real git.
//!
//! git ships `t/lib-credential.sh`, whose `helper_test_clean`, `helper_test`,
//! `helper_test_password_expiry_utc` and `helper_test_oauth_refresh_token` are what
//! `t/t0303-credential-external.sh` runs against an external helper, in that order: the cases
//! build on each other. They are re-expressed here (git's script is GPL, and CI has no network
//! to fetch it), each under git's name, and run in git's order with `git credential
//! fill|approve|reject` against the helper configured as git runs it, on one private store per
//! test. Where this helper's rules change what a case can expect, the case says how and why
//! beside it; docs/git-contract.md has the table. The rules the adaptations rest on:
//!
//! - it serves only configured hosts, over https (`--host example.com`…; `SERVED` below);
//! - the username is always `x-bitbucket-api-token-auth`, so cases about distinct users
//!   collapse: where git keeps two users on one host, this helper keeps two workspaces;
//! - passwords are well-formed (fake) API tokens: it refuses to keep anything else;
//! - `store` keeps a token only when git got it from a person: typed at the prompt that followed
//!   this helper's `get` answering without a password, or given to `login`. So a case that
//!   approves a credential first fills it at a prompt, as git does after a first 401;
//! - an `erase` without a password forgets what matches (the host: the host's entry and its
//!   workspace entries; a path: that workspace's entry) and says so; one that names another
//!   helper's credential (`authtype`, `credential`) keeps everything.
//!
//! Unlike t0303, a failing case does not stop the sequence: every case runs, and the test
//! fails at the end listing each failed case with its first failing check.

use std::time::Instant;

use crate::rig::StoreUnderTest;
use crate::support::TOKEN_USERNAME;
use crate::support::git_credential::GitCredential;
use crate::support::output::Output;

mod helper_test;
mod more_helper_tests;

// Each case's function is named after it.
use helper_test::*;
use more_helper_tests::*;

/// The hosts the helper serves here. git's cases also use `other.tld` and
/// `badguy.example.com`, which it must not serve. `unprompted.tld` and `git.example.com` are
/// ours (for the case of an approve without a prompt, and the authtype cases).
const SERVED: &[&str] = &[
    "example.com",
    "path.tld",
    "sso.tld",
    "victim.example.com",
    "unprompted.tld",
    "git.example.com",
];

/// `git -c credential.useHttpPath=true`, as git's "requires matching path" sets: the path
/// reaches the helper, and with it the workspace.
const USE_HTTP_PATH: &[&str] = &["credential.useHttpPath=true"];
/// No extra configuration.
const PLAIN: &[&str] = &[];

/// One of git's cases (or ours, named "(ours) …") by name, as a step of the sequence.
type Case = (&'static str, fn(&mut GitCredential) -> Result<(), String>);

/// The sequence, in t0303's order: `helper_test_clean`, `helper_test`,
/// `helper_test_password_expiry_utc`, `helper_test_oauth_refresh_token`, then (not run by t0303,
/// which has no `helper_test_authtype`) two of the authtype cases, our own cases, and
/// `helper_test_clean` with t0303's check that it leaves nothing.
const CASES: &[Case] = &[
    ("helper_test_clean (before)", helper_test_clean),
    ("has no existing data", has_no_existing_data),
    ("stores password", stores_password),
    ("can retrieve password", can_retrieve_password),
    (
        "(ours) approve without a preceding prompt stores nothing",
        approve_without_a_prompt_stores_nothing,
    ),
    ("requires matching protocol", requires_matching_protocol),
    ("requires matching host", requires_matching_host),
    ("requires matching username", requires_matching_username),
    ("requires matching path", requires_matching_path),
    ("overwrites on store", overwrites_on_store),
    ("can forget host", can_forget_host),
    ("can store multiple users", can_store_multiple_users),
    (
        "does not erase a password distinct from input",
        does_not_erase_a_password_distinct_from_input,
    ),
    ("can forget user", can_forget_user),
    ("remembers other user", remembers_other_user),
    ("can store empty username", can_store_empty_username),
    (
        "erases all matching credentials",
        erases_all_matching_credentials,
    ),
    ("not confused by long header", not_confused_by_long_header),
    ("stores password_expiry_utc", stores_password_expiry_utc),
    ("gets password_expiry_utc", gets_password_expiry_utc),
    (
        "overwrites when password_expiry_utc changes",
        overwrites_when_password_expiry_utc_changes,
    ),
    ("stores oauth_refresh_token", stores_oauth_refresh_token),
    ("gets oauth_refresh_token", gets_oauth_refresh_token),
    (
        "stores authtype and credential",
        stores_authtype_and_credential,
    ),
    ("gets authtype and credential", gets_authtype_and_credential),
    (
        "(ours) an erase naming another helper's credential keeps everything",
        an_erase_naming_another_credential_keeps_everything,
    ),
    ("helper_test_clean (after)", helper_test_clean),
    (
        "test cleanup removes everything",
        cleanup_removes_everything,
    ),
];

#[allow(
    clippy::print_stderr,
    reason = "the sequence's run time, for `--nocapture` runs and the docs"
)]
fn git_helper_tests_pass_in_order(store: StoreUnderTest) {
    let Some(mut git) = GitCredential::new(store, SERVED) else {
        return;
    };
    let started = Instant::now();
    let mut failed = Vec::new();
    for (name, run) in CASES {
        if let Err(why) = run(&mut git) {
            failed.push(format!("helper ({store:?}) {name}: {why}"));
        }
    }
    eprintln!(
        "git's helper tests on {store:?}: {} cases in {:.1?}",
        CASES.len(),
        started.elapsed()
    );
    assert!(
        failed.is_empty(),
        "{} of {} of git's helper cases failed on {store:?}:\n\n{}",
        failed.len(),
        CASES.len(),
        failed.join("\n\n")
    );
}

on_every_store!(git_helper_tests_pass_in_order);
on_windows_under_wine!(git_helper_tests_pass_in_order);

/// git's `helper_test_clean`: reject every credential the cases leave, without a password
/// (git ignores the outcome; so does this step: the last case checks that nothing is left).
/// Adapted: `path.tld` is cleared over https (the only protocol this helper serves it on, and
/// the one "requires matching path" uses here), and our own hosts are cleared too.
fn helper_test_clean(git: &mut GitCredential) -> Result<(), String> {
    const REJECTED: &[(&str, &str)] = &[
        ("example.com", "store-user"),
        ("example.com", "user1"),
        ("example.com", "user2"),
        ("example.com", "user-expiry"),
        ("example.com", "user-expiry-overwrite"),
        ("example.com", "user4"),
        ("example.com", "user-distinct-pass"),
        ("example.com", "user-overwrite"),
        ("example.com", "user-erase1"),
        ("example.com", "user-erase2"),
        ("victim.example.com", "user"),
        ("path.tld", "user"),
        ("timeout.tld", "user"),
        ("sso.tld", ""),
        ("unprompted.tld", ""),
        ("git.example.com", ""),
    ];
    for (host, user) in REJECTED {
        let input = [
            "protocol=https".to_owned(),
            format!("host={host}"),
            format!("username={user}"),
        ];
        git.run(PLAIN, "reject", &input, None)?;
    }
    Ok(())
}

/// `username=x-bitbucket-api-token-auth`: what this helper's `get` always answers.
fn username() -> String {
    format!("username={TOKEN_USERNAME}")
}

/// The log line of git's password prompt for `https://x-bitbucket-api-token-auth@REST`.
fn password_prompt(rest: &str) -> String {
    format!("askpass: Password for 'https://{TOKEN_USERNAME}@{rest}':")
}

/// A fill for `input` that git answers with the request's protocol, host and path, this
/// helper's username and `token`: typed at git's password prompt when `typed`, else from the
/// store without a prompt.
fn fill_gives(
    git: &GitCredential,
    config: &[&str],
    input: &[impl AsRef<str>],
    token: &str,
    typed: bool,
) -> Result<(), String> {
    let field = |key: &str| input.iter().find_map(|l| l.as_ref().strip_prefix(key));
    let mut stdout: Vec<String> = ["protocol=", "host=", "path="]
        .iter()
        .filter_map(|key| field(key).map(|value| format!("{key}{value}")))
        .collect();
    stdout.extend([username(), format!("password={token}")]);
    let stdout: Vec<&str> = stdout.iter().map(String::as_str).collect();
    let host = field("host=").unwrap_or_default();
    let prompt = match field("path=") {
        Some(path) => password_prompt(&format!("{host}/{path}")),
        None => password_prompt(host),
    };
    let prompts: &[&str] = if typed { &[&prompt] } else { &[] };
    git.fill(config, input, typed.then_some(token), &stdout, prompts)?;
    Ok(())
}

/// What the helper said on stderr (its lines, prefix removed, joined by spaces).
fn helper_text(out: &Output) -> String {
    out.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("git-credential-bitbucket: "))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fails, naming `what` it should have said, unless the helper's stderr passes `test`.
fn helper_says(
    git: &GitCredential,
    out: &Output,
    what: &str,
    test: impl Fn(&str) -> bool,
) -> Result<(), String> {
    if test(&helper_text(out)) {
        Ok(())
    } else {
        Err(git.redact(&format!(
            "the helper should say on stderr {what}; stderr was: {:?}",
            out.stderr
        )))
    }
}
