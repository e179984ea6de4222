//! Smoke tests of the harness itself, with plain git and no credential helper.
//!
//! Why: every helper test trusts that the server answers like Bitbucket Cloud, that git runs
//! hermetically, that the askpass stand-in counts prompts, and that the private keychains are
//! real. These tests prove each of those on its own, so a helper test that fails points at the
//! helper, not at the harness.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use crate::support::{
    APP_PASSWORD_BODY, BitbucketServer, KeyutilsSession, MISSING_SCOPE_BODY, Output, Scope,
    TOKEN_USERNAME, TestEnv, WWW_AUTHENTICATE, fake_api_token, fake_app_password,
};

/// A server with `ws/repo.git` and a token granted `scope`.
fn server_with_repo(scope: Scope) -> (BitbucketServer, String) {
    let server = BitbucketServer::start();
    server.create_repo("ws", "repo");
    let token = fake_api_token();
    server.grant(&token, scope);
    (server, token)
}

/// `http://USER:PASSWORD@127.0.0.1:PORT/ws/repo.git`.
fn url_with(server: &BitbucketServer, user: &str, password: &str) -> String {
    server
        .url("ws/repo.git")
        .replacen("http://", &format!("http://{user}:{password}@"), 1)
}

fn clone(env: &TestEnv, url: &str) -> Output {
    env.git(&["clone", "-q", url, "clone"])
}

/// Commits a new file in `dir` so there is something to push.
fn commit_file(env: &TestEnv, dir: &Path, name: &str, contents: &str) {
    std::fs::write(dir.join(name), contents).expect("write file");
    env.git_in(dir, &["add", name]).assert_success();
    env.git_in(dir, &["commit", "-q", "-m", name])
        .assert_success();
}

#[test]
fn clone_with_token_in_url_succeeds() {
    let (server, token) = server_with_repo(Scope::Read);
    let env = TestEnv::new();
    clone(&env, &url_with(&server, TOKEN_USERNAME, &token)).assert_success();
    let readme = std::fs::read_to_string(env.home().join("clone/README.md")).expect("README");
    assert!(readme.contains("ws/repo"), "{readme}");
    // git first asks without credentials, as it always does, then sends the URL's.
    let log = server.requests();
    assert_eq!((log[0].username.as_deref(), log[0].status), (None, 401));
    let log = server.authenticated();
    assert!(
        log.len() >= 2 && log.iter().all(|r| r.status == 200),
        "{log:?}"
    );
    assert!(
        log.iter()
            .all(|r| r.username.as_deref() == Some(TOKEN_USERNAME))
    );
    assert!(
        log.iter().any(|r| r.query == "service=git-upload-pack"),
        "{log:?}"
    );
}

#[test]
fn unauthenticated_request_gets_the_bitbucket_challenge() {
    let (server, _token) = server_with_repo(Scope::Read);
    let mut stream = TcpStream::connect(server.host()).expect("connect");
    write!(
        stream,
        "GET /ws/repo.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.host()
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert!(
        answer.contains(&format!("\r\nWWW-Authenticate: {WWW_AUTHENTICATE}\r\n")),
        "{answer}"
    );
    let log = server.requests();
    assert_eq!((log[0].username.clone(), log[0].status), (None, 401));
}

#[test]
fn wrong_token_or_wrong_username_gets_401() {
    let (server, token) = server_with_repo(Scope::ReadWrite);
    let env = TestEnv::new();
    let out = clone(&env, &url_with(&server, TOKEN_USERNAME, &fake_api_token()));
    out.assert_failure();
    assert!(out.stderr.contains("Authentication failed"), "{out:?}");
    // A real token with another username is refused too (git wants x-bitbucket-api-token-auth).
    clone(&env, &url_with(&server, "someone", &token)).assert_failure();
    let log = server.requests();
    assert!(
        !log.is_empty() && log.iter().all(|r| r.status == 401),
        "{log:?}"
    );
    assert!(log.iter().any(|r| r.username.as_deref() == Some("someone")));
}

#[test]
fn app_password_gets_410_with_the_deprecation_message() {
    let (server, _token) = server_with_repo(Scope::Read);
    let env = TestEnv::new();
    let out = clone(&env, &url_with(&server, "anhtran", &fake_app_password()));
    out.assert_failure();
    assert!(
        out.stderr.contains(APP_PASSWORD_BODY) || out.stderr.contains("410"),
        "{out:?}"
    );
    assert_eq!(server.authenticated_statuses(), vec![410]);
    assert_eq!(
        server.authenticated()[0].username.as_deref(),
        Some("anhtran")
    );
}

#[test]
fn read_token_push_gets_403_and_read_write_push_succeeds() {
    let (server, read_token) = server_with_repo(Scope::Read);
    let write_token = fake_api_token();
    server.grant(&write_token, Scope::ReadWrite);
    let env = TestEnv::new();
    clone(&env, &url_with(&server, TOKEN_USERNAME, &read_token)).assert_success();
    let repo = env.home().join("clone");
    commit_file(&env, &repo, "a.txt", "a\n");

    server.clear_requests();
    let out = env.git_in(&repo, &["push", "-q", "origin", "main"]);
    out.assert_failure();
    assert!(out.stderr.contains(MISSING_SCOPE_BODY), "{out:?}");
    assert_eq!(server.authenticated_statuses(), vec![403]);

    let write_url = url_with(&server, TOKEN_USERNAME, &write_token);
    env.git_in(&repo, &["push", "-q", &write_url, "main"])
        .assert_success();
    let log = server.requests();
    assert!(
        log.iter().any(|r| r.method == "POST"
            && r.path == "/ws/repo.git/git-receive-pack"
            && r.status == 200),
        "{log:?}"
    );
    // The commit really arrived.
    let check = TestEnv::new();
    clone(&check, &write_url).assert_success();
    assert!(check.home().join("clone/a.txt").is_file());
}

#[test]
fn chunked_push_body_is_accepted() {
    let (server, token) = server_with_repo(Scope::ReadWrite);
    let env = TestEnv::new();
    let url = url_with(&server, TOKEN_USERNAME, &token);
    clone(&env, &url).assert_success();
    let repo = env.home().join("clone");
    // Incompressible content larger than http.postBuffer makes git send a chunked body.
    let big: String = (0..40).map(|_| fake_api_token() + "\n").collect();
    commit_file(&env, &repo, "big.txt", &big);
    env.git_in(
        &repo,
        &["-c", "http.postBuffer=1024", "push", "-q", "origin", "main"],
    )
    .assert_success();
}

#[test]
fn revoked_token_gets_401_on_fetch() {
    let (server, token) = server_with_repo(Scope::Read);
    let env = TestEnv::new();
    clone(&env, &url_with(&server, TOKEN_USERNAME, &token)).assert_success();
    server.revoke(&token);
    server.clear_requests();
    let out = env.git_in(&env.home().join("clone"), &["fetch", "-q"]);
    out.assert_failure();
    assert_eq!(server.authenticated_statuses(), vec![401]);
}

#[test]
fn askpass_stand_in_answers_one_password_prompt() {
    let (server, token) = server_with_repo(Scope::Read);
    let mut env = TestEnv::new();
    env.git(&["config", "--global", "credential.helper", ""])
        .assert_success();
    env.set_askpass_answer(Some(&token));
    let url =
        server
            .url("ws/repo.git")
            .replacen("http://", &format!("http://{TOKEN_USERNAME}@"), 1);
    clone(&env, &url).assert_success();
    assert_eq!(env.prompt_count(), 1, "{:?}", env.prompts());
    let prompt = &env.prompts()[0];
    assert!(prompt.starts_with("Password for "), "{prompt}");
    assert!(!prompt.contains(&token));
    assert_eq!(server.statuses().first(), Some(&401));
    assert_eq!(server.statuses().last(), Some(&200));

    // Without an answer, git gives up after the one prompt and nothing is tried.
    env.set_askpass_answer(None);
    let out = env.git(&["clone", "-q", &url, "clone2"]);
    out.assert_failure();
    assert_eq!(env.prompt_count(), 2);
}

#[test]
fn keyutils_session_is_shared_between_runs() {
    let Some(keys) = KeyutilsSession::new_or_skip() else {
        return;
    };
    let id = keys.keyctl(&["add", "user", "gcb-smoke", "hello", "@s"]);
    let id = id.assert_success().stdout.trim().to_owned();
    // A second, separate process in the same named session sees the key.
    let found = keys.keyctl(&["search", "@s", "user", "gcb-smoke"]);
    assert_eq!(found.assert_success().stdout.trim(), id);
    assert_eq!(keys.keyctl(&["print", &id]).stdout, "hello\n");
    // Another session does not.
    let other = KeyutilsSession::new_or_skip().expect("the first one started");
    other
        .keyctl(&["search", "@s", "user", "gcb-smoke"])
        .assert_failure();
    // And git run through TestEnv lands in the session too.
    let mut env = TestEnv::new();
    env.use_keyutils(&keys);
    let out = env
        .command("keyctl")
        .args(["print", &id])
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    env.git(&["--version"]).assert_success();
}

#[test]
fn configured_helper_is_what_git_runs() {
    let mut env = TestEnv::new();
    env.configure_helper("--store file --host 127.0.0.1:1");
    let helpers = env.git(&["config", "--global", "--get-all", "credential.helper"]);
    let bin = crate::support::helper_bin();
    let expected = format!("\n{} --store file --host 127.0.0.1:1\n", bin.display());
    assert_eq!(helpers.assert_success().stdout, expected);
    // git really starts that binary (whatever it answers: the helper is not under test here).
    env.set_env("GIT_TRACE", "1");
    let out = Output::run(
        env.command("git").args(["credential", "fill"]),
        "protocol=http\nhost=127.0.0.1:1\n\n",
    );
    let wanted = format!("{} --store file --host 127.0.0.1:1 get", bin.display());
    assert!(out.stderr.contains(&wanted), "{out:?}");

    let mut by_name = TestEnv::new();
    by_name.configure_helper_by_name("--store file");
    by_name.set_env("GIT_TRACE", "1");
    let out = Output::run(
        by_name.command("git").args(["credential", "fill"]),
        "protocol=http\nhost=127.0.0.1:1\n\n",
    );
    assert!(
        out.stderr
            .contains("git credential-bitbucket --store file get"),
        "{out:?}"
    );
    // ... which git resolves to the dashed name, found through PATH.
    assert!(out.stderr.contains("git-credential-bitbucket"), "{out:?}");
}

/// The runner's deadline kills what the command started too: a `sleep` left in the background
/// would otherwise hold the output pipes (and a reader waiting for their end) long after.
#[test]
fn a_command_past_its_deadline_is_killed_with_its_process_group() {
    let env = TestEnv::new();
    let pid_file = env.home().join("background.pid");
    let mut cmd = env.command("sh");
    cmd.arg("-c")
        .arg(r#"sleep 300 & echo $! > "$1"; echo started; wait"#)
        .arg("sh")
        .arg(&pid_file);
    let started = std::time::Instant::now();
    let out = Output::run_within(&mut cmd, b"", std::time::Duration::from_secs(1));
    assert!(out.is_none(), "it ran past its deadline: {out:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "the runner waited for the background sleep: {:?}",
        started.elapsed()
    );
    let pid = std::fs::read_to_string(&pid_file).expect("the background pid");
    let pid: u32 = pid.trim().parse().expect("a pid");
    // Gone, or a zombie not yet reaped: never a running sleep. A killed process closes its
    // pipes (which ended the runner's read) a moment before the kernel shows it as a zombie,
    // so its state is read until it settles, within a deadline.
    let state_of = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Only the sleep itself: a pid reused meanwhile is not it.
        let is_sleep = stat.contains("(sleep) ");
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        state.filter(|_| is_sleep)
    };
    let settle_by = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut state = state_of();
    while !matches!(state, None | Some('Z') | Some('X')) && std::time::Instant::now() < settle_by {
        std::thread::sleep(std::time::Duration::from_millis(20));
        state = state_of();
    }
    assert!(
        matches!(state, None | Some('Z') | Some('X')),
        "the background sleep {pid} still runs: {state:?}"
    );
    // Control: a command that finishes in time is collected whole.
    let done = Output::run_within(
        env.command("sh").args(["-c", "echo done"]),
        b"",
        std::time::Duration::from_secs(30),
    );
    assert_eq!(done.expect("finished in time").stdout, "done\n");
}
