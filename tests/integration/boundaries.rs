//! The edges of what the helper serves, through real git where git is involved: other hosts
//! and plain http are left alone, the CI token is used but never saved, a broken store never
//! breaks git's operation, odd input gets a clear answer, and the process cannot be dumped.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, Scope, SecretServiceSession, TestEnv, fake_api_token};

#[test]
fn other_hosts_get_no_answer_and_git_falls_back_to_asking_for_both() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    // Reconfigure: the helper serves another port, not this server.
    let other = rig.env.home().join(".gitconfig");
    let config = std::fs::read_to_string(&other).unwrap();
    std::fs::write(&other, config.replace(&rig.server.host(), "127.0.0.1:1")).unwrap();
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    rig.clone().assert_success();
    let prompts = rig.env.prompts();
    assert!(
        prompts[0].starts_with("Username for"),
        "no username came from the helper: {prompts:?}"
    );
    let data = rig.env.home().join(".local/share/git-credential-bitbucket");
    assert!(!data.exists(), "no store was opened for an unserved host");

    for host in [
        "github.com",
        "evilbitbucket.org",
        "bitbucket.org.evil.example",
        "bitbucket.org:8443",
    ] {
        let out = rig.helper("get", &format!("protocol=https\nhost={host}\n\n"));
        out.assert_success();
        assert_eq!(
            (out.stdout.as_str(), out.stderr.as_str()),
            ("", ""),
            "{host}"
        );
    }
    let out = rig.helper("get", "protocol=https\nhost=BitBucket.org:443\n\n");
    assert_eq!(
        out.stdout, "username=x-bitbucket-api-token-auth\n",
        "positive control"
    );
}

#[test]
fn plain_http_to_a_served_non_loopback_host_makes_git_stop_without_prompting() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let port = rig.server.host().rsplit_once(':').unwrap().1.to_owned();
    let name = format!("git.example.test:{port}");
    rig.env
        .configure_helper(&format!("--store file --host {name}"));
    rig.plant(&rig.token.clone());
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    let resolve = format!("http.curloptResolve={name}:127.0.0.1");
    let url = format!("http://{name}/ws/repo.git");
    let out = rig.env.git(&["-c", &resolve, "clone", "-q", &url, "clone"]);
    rig.assert_no_leak(&out, false);
    out.assert_failure();
    assert!(out.stderr.contains("plain http"), "{out:?}");
    assert!(out.stderr.contains("told us to quit"), "{out:?}");
    assert_eq!(rig.env.prompt_count(), 0);
    assert!(
        rig.server.requests().iter().all(|r| r.username.is_none()),
        "nothing was sent"
    );
}

#[test]
fn the_helper_named_in_gitconfig_with_options_works_as_users_write_it() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let mut env = TestEnv::new();
    env.configure_helper_by_name(&format!("--store file --host {}", rig.server.host()));
    rig.env = env;
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    rig.clone().assert_success();
    rig.will_answer(None);
    rig.fetch().assert_success();
    assert_eq!(rig.env.prompt_count(), 1);
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
}

#[test]
fn the_ci_token_is_used_without_prompting_and_never_saved() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let token = rig.token.clone();
    rig.env.set_env("BITBUCKET_API_TOKEN", format!("{token}\n"));
    rig.will_answer(None);
    rig.clone().assert_success();
    rig.fetch().assert_success();
    assert_eq!(rig.env.prompt_count(), 0);
    rig.env.remove_env("BITBUCKET_API_TOKEN");
    assert_eq!(rig.stored(), None, "BITBUCKET_API_TOKEN is never written");

    rig.env.set_env("BITBUCKET_API_TOKEN", &token);
    rig.server.revoke(&token);
    let out = rig.fetch();
    out.assert_failure();
    assert!(
        out.stderr
            .contains("rejected the token in BITBUCKET_API_TOKEN"),
        "{out:?}"
    );
}

#[test]
fn a_store_that_cannot_save_never_fails_the_clone() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    // The file store's directory is a regular file: every write fails.
    let data = rig.env.home().join(".local/share/git-credential-bitbucket");
    std::fs::write(&data, "not a directory").unwrap();
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    let out = rig.clone();
    out.assert_success();
    assert!(out.stderr.contains("the token was not saved"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&data).unwrap(), "not a directory");
}

#[test]
fn an_unreachable_secret_service_means_a_prompt_not_a_failure() {
    let mut rig = Rig::on_bus("unix:path=/nonexistent/bus");
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    let out = rig.clone();
    out.assert_success();
    assert_eq!(rig.env.prompt_count(), 1);
    assert!(
        out.stderr.contains("secret-service store is not available"),
        "{out:?}"
    );
    assert!(out.stderr.contains("not saved"), "{out:?}");
}

#[test]
fn auto_uses_the_secret_service_when_it_answers_and_keyutils_when_it_does_not() {
    let Some(session) = SecretServiceSession::shared_or_skip() else {
        return;
    };
    let Some(mut rig) = Rig::new(StoreUnderTest::Keyutils) else {
        return;
    };
    let token = rig.token.clone();
    // No --store and no GIT_CREDENTIAL_BITBUCKET_STORE: the default is auto. The token is
    // typed at git's prompt (get, then store), the only way store keeps one.
    rig.env.remove_env("GIT_CREDENTIAL_BITBUCKET_STORE");
    let auto = |rig: &Rig| {
        let out = rig
            .env
            .typed(&["--host", &rig.server.host()], &rig.request(""), &token);
        rig.assert_no_leak(&out, false);
        out
    };
    rig.env.use_secret_service(session);
    let out = auto(&rig);
    assert!(!out.stderr.contains("kernel keyring"), "{out:?}");
    let found = session.secret_tool(
        &[
            "lookup",
            "service",
            "git-credential-bitbucket",
            "username",
            &rig.server.host(),
        ],
        "",
    );
    assert_eq!(found.stdout, token, "auto stored in the Secret Service");
    session.secret_tool(
        &[
            "clear",
            "service",
            "git-credential-bitbucket",
            "username",
            &rig.server.host(),
        ],
        "",
    );

    rig.env
        .set_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let out = auto(&rig);
    assert!(out.stderr.contains("kernel keyring"), "{out:?}");
    assert_eq!(
        rig.stored().as_deref(),
        Some(token.as_str()),
        "and keyutils has it"
    );
    // status and doctor say why auto chose keyutils.
    let host = rig.server.host();
    let status = rig
        .env
        .run_helper(&["--store", "auto", "--host", &host, "status"], "");
    rig.assert_no_leak(&status, false);
    assert!(
        status.stdout.contains("auto chose keyutils because"),
        "{status:?}"
    );
    let doctor = rig
        .env
        .run_helper(&["--store", "auto", "--host", &host, "doctor"], "");
    rig.assert_no_leak(&doctor, false);
    assert!(
        doctor.stdout.contains("WARN  auto chose keyutils"),
        "{doctor:?}"
    );
}

#[test]
fn malformed_input_gets_a_clear_line_on_stderr_and_no_answer() {
    let env = TestEnv::new();
    let secret = fake_api_token();
    let cases = [
        format!("protocol=https\nhost=bitbucket.org\npassword={secret}\r\n"),
        format!("protocol=https\nhost=bitbucket.org\0\npassword={secret}\n"),
        format!(
            "protocol=https\npath={}\nhost=bitbucket.org\n",
            "a".repeat(70_000)
        ),
    ];
    for input in &cases {
        let out = env.run_helper(&["get"], input);
        out.assert_success();
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr.starts_with("git-credential-bitbucket: "),
            "{out:?}"
        );
        assert!(out.stderr.contains("line"), "{out:?}");
        assert!(!out.stderr.contains(&secret));
    }
    let out = env.run_helper(&["get"], "protocol=https\nhost=bitbucket.org\n");
    assert_eq!(
        out.stdout, "username=x-bitbucket-api-token-auth\n",
        "positive control"
    );
}

#[test]
fn an_unknown_operation_is_ignored_silently() {
    let env = TestEnv::new();
    let out = env.run_helper(
        &["--store", "file", "frobnicate"],
        "protocol=https\nhost=bitbucket.org\n",
    );
    out.assert_success();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
}

#[test]
#[allow(
    clippy::print_stderr,
    reason = "says why the check could not run on this machine"
)]
fn the_helper_process_leaves_no_core_dump() {
    let env = TestEnv::new();
    let crash_and_list = |program: &str, args: &str| -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        // `sleep` keeps stdin open so the program is still running when it is killed; `$!`
        // of a pipeline is its last command.
        let script = format!(
            "ulimit -c unlimited; sleep 1 | {program} {args} & p=$!; sleep 0.3; \
             kill -ABRT $p; wait $p; pkill -P $$ sleep; true"
        );
        let mut cmd = env.command("sh");
        cmd.args(["-c", &script]).current_dir(dir.path());
        Output::run(&mut cmd, "");
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("core"))
            .collect()
    };
    let control = crash_and_list("/bin/cat", "-");
    if control.is_empty() {
        eprintln!("SKIPPED: this machine writes no core files (core_pattern), nothing to compare");
        return;
    }
    let helper = crate::support::helper_bin();
    let cores = crash_and_list(helper.to_str().unwrap(), "get");
    assert!(cores.is_empty(), "the helper dumped core: {cores:?}");
}

#[test]
fn a_read_only_grant_is_enough_to_clone() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let reader = rig.secret(fake_api_token());
    rig.server.grant(&reader, Scope::Read);
    rig.will_answer(Some(&reader));
    rig.clone().assert_success();
    assert_eq!(rig.stored().as_deref(), Some(reader.as_str()));
}
