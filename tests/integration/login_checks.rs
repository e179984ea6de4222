//! `login` keeps what works: a secret that is not an API token's shape is refused unless
//! `--force` (a bad checksum always), and `--verify` finds out whether the token can push,
//! never letting a read-only token silently replace one that could.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, Scope, fake_api_token};

#[test]
fn login_refuses_shapes_that_are_not_api_tokens_unless_forced() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let good = rig.token.clone();
    rig.cli(&["login", "--stdin"], &good).assert_success();
    let lost_first = rig.secret(fake_api_token()[1..].to_owned());
    let json = rig.secret(format!("{{\"token\": \"{}\"}}", fake_api_token()));
    let email = rig.secret("someone@example.com".to_owned());
    for odd in [&lost_first, &json, &email] {
        let out = rig.cli(&["login", "--stdin"], &format!("  {odd}\n"));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            out.stderr
                .contains("does not look like a Bitbucket API token")
                && out.stderr.contains("Nothing was changed"),
            "{out:?}"
        );
        assert_eq!(rig.stored().as_deref(), Some(good.as_str()), "kept");
    }
    let mut typo = fake_api_token();
    typo.replace_range(20..21, if &typo[20..21] == "x" { "y" } else { "x" });
    let typo = rig.secret(typo);
    let out = rig.cli(&["login", "--stdin", "--force"], &typo);
    out.assert_failure();
    assert!(out.stderr.contains("checksum"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(good.as_str()));
    // Positive control: --force saves what the person insists on, trimmed.
    let out = rig.cli(&["login", "--stdin", "--force"], &format!("{email}\n"));
    out.assert_success();
    assert_eq!(rig.stored().as_deref(), Some(email.as_str()));
}

#[test]
fn login_verify_says_whether_the_token_can_push_and_keeps_one_that_can() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let url = rig.server.url("ws/repo.git");
    let writer = rig.token.clone();
    let out = rig.cli(&["login", "--stdin", "--verify", &url], &writer);
    out.assert_success();
    assert!(out.stdout.contains("It can push too"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(writer.as_str()));

    let reader = rig.secret(fake_api_token());
    rig.server.grant(&reader, Scope::Read);
    let out = rig.cli(&["login", "--stdin", "--verify", &url], &reader);
    out.assert_failure();
    assert!(
        out.stdout
            .contains("can read, cannot push: add write:repository:bitbucket"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("can push to") && out.stderr.contains("--force"),
        "{out:?}"
    );
    assert_eq!(rig.stored().as_deref(), Some(writer.as_str()), "kept");

    let out = rig.cli(&["login", "--stdin", "--verify", &url, "--force"], &reader);
    out.assert_success();
    assert_eq!(rig.stored().as_deref(), Some(reader.as_str()));
    // Over nothing that could push, a read-only token is saved with the explanation.
    rig.cli(&["logout"], "").assert_success();
    let out = rig.cli(&["login", "--stdin", "--verify", &url], &reader);
    out.assert_success();
    assert!(out.stdout.contains("cannot push"), "{out:?}");
    assert!(
        rig.server
            .requests()
            .iter()
            .all(|r| !(r.method == "POST" && r.path.ends_with("git-receive-pack"))),
        "nothing was pushed"
    );
}

#[test]
fn login_verify_runs_no_pre_push_hook_of_the_users() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    // A global hook that would hold the writer lock for as long as it runs (a test suite, a
    // prompt) and that inherits what git inherits; this one records that it ran and refuses.
    let hooks = rig.env.home().join("hooks");
    std::fs::create_dir(&hooks).unwrap();
    let ran = rig.env.home().join("pre-push-ran");
    let hook = hooks.join("pre-push");
    crate::support::write_executable(
        &hook,
        format!("#!/bin/sh\ntouch '{}'\nexit 1\n", ran.display()),
        "700",
    );
    std::fs::write(
        rig.env.home().join(".gitconfig"),
        format!("[core]\n\thooksPath = {}\n", hooks.display()),
    )
    .unwrap();

    let url = rig.server.url("ws/repo.git");
    let token = rig.token.clone();
    let out = rig.cli(&["login", "--stdin", "--verify", &url], &token);
    out.assert_success();
    assert!(out.stdout.contains("It can push too"), "{out:?}");
    assert!(!ran.exists(), "the user's pre-push hook ran");
    // Control: the hook is live for an ordinary dry-run push from this HOME.
    for args in [
        &["init", "--quiet", "--bare", "bare.git"][..],
        &["init", "--quiet", "work"],
        &[
            "-C",
            "work",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t.invalid",
        ],
    ] {
        let mut cmd = rig.env.command("git");
        match args {
            ["-C", ..] => cmd
                .args(args)
                .args(["commit", "--quiet", "--allow-empty", "-m", "x"]),
            _ => cmd.args(args),
        };
        Output::run(&mut cmd, "").assert_success();
    }
    let mut cmd = rig.env.command("git");
    cmd.args([
        "-C",
        "work",
        "push",
        "--dry-run",
        "../bare.git",
        "HEAD:refs/heads/x",
    ]);
    let _ = Output::run(&mut cmd, "");
    assert!(ran.exists(), "control: the hook runs for a plain push");
}
