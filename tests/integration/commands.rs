//! The commands people run, end to end: a temp HOME, real git configuration, real stores,
//! real repositories. Every output is checked for the whole token (the rig does it).

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Scope, TOKEN_USERNAME, fake_api_token, fake_app_password};

const FUTURE: &str = "2099-01-31";

fn login_reads_stdin_records_expiry_and_status_shows_it_masked(store: StoreUnderTest) {
    let Some(rig) = Rig::new(store) else { return };
    let token = rig.token.clone();
    let out = rig.cli(
        &["login", "--stdin", "--expires", FUTURE],
        &format!("  {token}\n"),
    );
    out.assert_success();
    assert!(
        out.stdout.contains("Saved ATATT…") && out.stdout.contains("expires 2099-01-31"),
        "{out:?}"
    );
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    let get = rig.helper("get", &rig.request(""));
    // 2099-01-31T00:00:00Z: a token counts as lapsed from the first second of its date.
    assert!(
        get.stdout.contains("password_expiry_utc=4073500800\n"),
        "{get:?}"
    );

    let status = rig.cli(&["status"], "");
    status.assert_success();
    let fingerprint = format!("ATATT…{}", &token[token.len() - 4..]);
    assert!(status.stdout.contains(&fingerprint), "{status:?}");
    assert!(
        status.stdout.contains("api-token") && status.stdout.contains("days left"),
        "{status:?}"
    );
    assert!(status.stdout.contains("BITBUCKET_API_TOKEN: not set"));
    let json = rig.cli(&["status", "--json"], "");
    assert!(
        json.stdout
            .contains(&format!("\"fingerprint\":\"{fingerprint}\"")),
        "{json:?}"
    );
    assert!(
        json.stdout.contains("\"expires\":\"2099-01-31\""),
        "{json:?}"
    );
}

fn a_refused_login_never_displaces_the_stored_token(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let good = rig.token.clone();
    rig.cli(&["login", "--stdin"], &good).assert_success();
    let mut typo = fake_api_token();
    typo.replace_range(20..21, if &typo[20..21] == "x" { "y" } else { "x" });
    let cases = [
        (
            rig.secret(fake_app_password()),
            "App passwords no longer work",
        ),
        (rig.secret(typo), "Copy it again"),
        (rig.secret("ATCTT3xFfGF0accesstoken".into()), "x-token-auth"),
    ];
    for (refused, says) in &cases {
        let out = rig.cli(&["login", "--stdin"], refused);
        out.assert_failure();
        assert!(out.stderr.contains(says), "{out:?}");
        assert_eq!(
            rig.stored().as_deref(),
            Some(good.as_str()),
            "positive control kept"
        );
    }
    let odd = rig.secret("some-odd-secret-of-unknown-shape".into());
    let out = rig.cli(&["login", "--stdin"], &odd);
    out.assert_failure();
    assert!(out.stderr.contains("--force"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(good.as_str()));
    let out = rig.cli(&["login", "--stdin", "--force"], &odd);
    out.assert_success();
    assert!(out.stderr.contains("does not look like"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(odd.as_str()));
}

fn logout_removes_one_workspace_or_everything(store: StoreUnderTest) {
    let Some(mut rig) = Rig::private(store) else {
        return;
    };
    let host_token = rig.token.clone();
    let acme = rig.secret(fake_api_token());
    rig.cli(&["login", "--stdin"], &host_token).assert_success();
    rig.cli(&["login", "--stdin", "--workspace", "Acme"], &acme)
        .assert_success();
    let get_ws = |rig: &Rig| {
        let out = rig.helper("get", &rig.request("path=acme/app.git"));
        out.password()
    };
    assert_eq!(get_ws(&rig).as_deref(), Some(acme.as_str()));
    rig.cli(&["logout", "--workspace", "acme"], "")
        .assert_success();
    assert_eq!(
        get_ws(&rig).as_deref(),
        Some(host_token.as_str()),
        "falls back to the host"
    );
    rig.cli(&["login", "--stdin", "--workspace", "acme"], &acme)
        .assert_success();
    let out = rig.cli(&["logout", "--all"], "");
    out.assert_success();
    assert!(out.stdout.matches("Removed").count() == 2, "{out:?}");
    assert_eq!(get_ws(&rig), None);
}

fn an_expired_token_makes_git_prompt_for_a_new_one(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let old = rig.token.clone();
    rig.cli(&["login", "--stdin", "--expires", FUTURE], &old)
        .assert_success();
    // Time passes: rewrite the recorded expiry to yesterday.
    let meta = rig
        .env
        .home()
        .join(".local/share/git-credential-bitbucket/metadata");
    let text = std::fs::read_to_string(&meta).unwrap();
    let start = text.find("expires=").expect("an expiry was recorded");
    let end = text[start..]
        .find([' ', '\n'])
        .map_or(text.len(), |e| start + e);
    let yesterday = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs())
        - 86_400;
    std::fs::write(
        &meta,
        format!("{}expires={yesterday}{}", &text[..start], &text[end..]),
    )
    .unwrap();

    let new = rig.secret(fake_api_token());
    rig.server.grant(&new, Scope::ReadWrite);
    rig.will_answer(Some(&new));
    let out = rig.clone();
    out.assert_success();
    assert!(out.stderr.contains("expired on"), "{out:?}");
    assert_eq!(rig.env.prompt_count(), 1);
    assert_eq!(rig.stored().as_deref(), Some(new.as_str()));
    assert!(
        rig.server
            .requests()
            .iter()
            .all(|r| r.username.as_deref() != Some(TOKEN_USERNAME) || r.status != 401),
        "the expired token was never sent"
    );
}

on_every_store!(
    login_reads_stdin_records_expiry_and_status_shows_it_masked,
    a_refused_login_never_displaces_the_stored_token,
    logout_removes_one_workspace_or_everything,
    an_expired_token_makes_git_prompt_for_a_new_one,
);

// The Windows build under Wine (those that plant nothing behind the helper's back).
on_windows_under_wine!(
    login_reads_stdin_records_expiry_and_status_shows_it_masked,
    a_refused_login_never_displaces_the_stored_token,
    logout_removes_one_workspace_or_everything,
);

#[test]
fn login_verify_explains_what_bitbucket_answered_and_saves_only_an_accepted_token() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let url = rig.server.url("ws/repo.git");
    let unknown = rig.secret(fake_api_token());
    let out = rig.cli(&["login", "--stdin", "--verify", &url], &unknown);
    out.assert_failure();
    assert!(
        out.stderr.contains("(401)") && out.stderr.contains("Nothing was changed"),
        "{out:?}"
    );
    assert_eq!(rig.stored(), None);

    let scopeless = rig.secret(fake_api_token());
    rig.server.grant(&scopeless, Scope::NoRepository);
    let out = rig.cli(&["login", "--stdin", "--verify", &url], &scopeless);
    out.assert_failure();
    assert!(
        out.stderr.contains("(403)") && out.stderr.contains("read:repository:bitbucket"),
        "{out:?}"
    );
    assert_eq!(rig.stored(), None);

    let token = rig.token.clone();
    let out = rig.cli(&["login", "--stdin", "--verify", &url], &token);
    out.assert_success();
    assert!(out.stdout.contains("accepted"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
}

#[test]
fn setup_is_idempotent_teardown_reverses_it_and_git_then_uses_the_helper() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    // Start from a global config with a stale catch-all helper and none of ours.
    let gitconfig = rig.env.home().join(".gitconfig");
    std::fs::write(&gitconfig, "[credential]\n\thelper = store\n").unwrap();
    let first = rig.cli(&["setup"], "");
    first.assert_success();
    assert!(
        first
            .stdout
            .contains("set credential.https://bitbucket.org.helper"),
        "{first:?}"
    );
    let again = rig.cli(&["setup"], "");
    assert!(
        !again.stdout.contains("set "),
        "second run changes nothing: {again:?}"
    );
    let values = rig.env.git(&[
        "config",
        "--global",
        "--get-all",
        "credential.https://bitbucket.org.helper",
    ]);
    let lines: Vec<&str> = values.stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], "");
    assert!(
        lines[1].contains("git-credential-bitbucket") && lines[1].contains("--store file"),
        "{lines:?}"
    );

    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    rig.clone().assert_success();
    assert_eq!(rig.env.prompt_count(), 1);
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    assert!(
        !rig.env.home().join(".git-credentials").exists(),
        "the stale helper was not asked"
    );

    rig.cli(&["teardown"], "").assert_success();
    let left = std::fs::read_to_string(&gitconfig).unwrap();
    assert!(!left.contains("bitbucket"), "{left}");
    assert!(
        left.contains("helper = store"),
        "other helpers untouched: {left}"
    );
}

#[test]
fn doctor_fails_with_fixes_then_passes_once_fixed() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let token = rig.token.clone();
    // A repository whose remote embeds the token: the seeds' "quick fix" that leaks.
    let embedded = rig.server.url("ws/repo.git").replacen(
        "http://",
        &format!("http://{TOKEN_USERNAME}:{token}@"),
        1,
    );
    rig.clone_url(&embedded).assert_success();
    let legacy = rig.secret(fake_app_password());
    let creds = format!("http://someone:{legacy}@{}\n", rig.server.host());
    std::fs::write(rig.env.home().join(".git-credentials"), creds).unwrap();
    std::fs::write(
        rig.env.home().join(".gitconfig"),
        "[credential]\n\thelper = store\n",
    )
    .unwrap();

    let out = rig.cli_in_clone(&["doctor"]);
    out.assert_failure();
    for expected in [
        "FAIL  git does not use git-credential-bitbucket",
        "FAIL  remote 'origin' (remote.origin.url) in",
        "holds a Bitbucket app-password",
        "fix: git-credential-bitbucket setup",
        "fix: git-credential-bitbucket migrate",
        "PASS  the file store saves, reads and removes",
    ] {
        assert!(
            out.stdout.contains(expected),
            "missing {expected:?} in {out:?}"
        );
    }

    rig.cli(&["setup"], "").assert_success();
    rig.cli_in_clone(&["migrate"]).assert_success();
    let out = rig.cli_in_clone(&["doctor"]);
    assert!(out.success(), "{out:?}");
    assert!(!out.stdout.contains("FAIL"), "{out:?}");
    assert!(
        out.stdout
            .contains("PASS  git asks git-credential-bitbucket first and only"),
        "{out:?}"
    );
}

#[test]
fn migrate_moves_embedded_tokens_into_the_store_and_drops_app_passwords() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let token = rig.token.clone();
    let base = rig.server.url("ws/repo.git");
    let with =
        |secret: &str| base.replacen("http://", &format!("http://{TOKEN_USERNAME}:{secret}@"), 1);
    rig.clone_url(&with(&token)).assert_success();
    // git already called `store` with the URL's token after the clone; start from nothing.
    rig.cli(&["logout"], "").assert_success();
    let legacy = rig.secret(fake_app_password());
    rig.git_in_clone(&["remote", "add", "old", &with(&legacy)])
        .assert_success();
    let other_host_token = rig.secret(fake_api_token());
    let creds = format!(
        "https://me:{other_host_token}@github.com\nhttp://me:{legacy}@{}\n",
        rig.server.host()
    );
    let creds_file = rig.env.home().join(".git-credentials");
    std::fs::write(&creds_file, &creds).unwrap();

    let plan = rig.cli_in_clone(&["migrate", "--dry-run"]);
    plan.assert_success();
    assert!(plan.stdout.contains("would move ATATT…"), "{plan:?}");
    assert!(
        plan.stdout.contains("would drop an app password"),
        "{plan:?}"
    );
    assert_eq!(rig.stored(), None, "a dry run changes nothing");
    assert_eq!(std::fs::read_to_string(&creds_file).unwrap(), creds);

    let out = rig.cli_in_clone(&["migrate"]);
    out.assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    let clean = rig.server.url("ws/repo.git");
    let origin = rig.git_in_clone(&["config", "remote.origin.url"]);
    assert_eq!(origin.stdout.trim(), clean);
    let old = rig.git_in_clone(&["config", "remote.old.url"]);
    assert_eq!(old.stdout.trim(), clean);
    let left = std::fs::read_to_string(&creds_file).unwrap();
    assert!(
        left.contains("github.com") && !left.contains(&legacy),
        "other hosts kept: {left}"
    );
    let backups: Vec<_> = std::fs::read_dir(rig.env.home())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".git-credentials.bak-")
        })
        .collect();
    assert!(backups.is_empty(), "no copy holding the secret is kept");

    rig.will_answer(None);
    rig.fetch().assert_success();
    assert_eq!(
        rig.env.prompt_count(),
        0,
        "git now gets the token from the store"
    );
}
