//! The Secret Service store's remembered item paths (src/store/item_paths.rs): a hint in the
//! data directory that spares `get` gnome-keyring's search, never trusted.
//!
//! An attacker who can write the data directory (or a bug that leaves a stale hint) points
//! the hint at another item: one holding someone else's secret, one that no longer exists, or
//! at something that is not an object path at all. In every case `get` answers exactly our
//! token (the positive control, in the same test), or the username alone when we have none,
//! and never the other item's secret.

use std::path::PathBuf;

use crate::support::{Output, SecretServiceSession, TestEnv, fake_api_token, skip_or_panic};

const GET: &str = "protocol=https\nhost=bitbucket.org\n\n";
const CANARY: &str = "someone-elses-secret-canary";

/// The one hint file our entry has after a `get` (its name is a checksum of the entry).
fn hint_file(env: &TestEnv) -> PathBuf {
    let dir = env
        .home()
        .join(".local/share/git-credential-bitbucket/secret-service-items");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

/// The object path of the one item carrying `service=other`.
fn canary_path(session: &SecretServiceSession) -> String {
    let mut cmd = session.command("dbus-send");
    cmd.args([
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.SearchItems",
        "dict:string:string:service,other",
    ]);
    let out = Output::run(&mut cmd, "");
    out.assert_success();
    out.stdout
        .split('"')
        .find(|s| s.starts_with("/org/freedesktop/secrets/collection/"))
        .unwrap_or_else(|| panic!("no canary item: {out:?}"))
        .to_owned()
}

#[test]
fn a_hint_naming_another_item_never_hands_out_its_secret() {
    let session = match SecretServiceSession::start() {
        Ok(session) => session,
        Err(e) => {
            skip_or_panic("Secret Service (gnome-keyring)", &e);
            return;
        }
    };
    let mut env = TestEnv::new();
    env.use_secret_service(&session);
    let helper = |operation: &str, input: &str| {
        let out = env.run_helper(&["--store", "secret-service", operation], input);
        out.assert_success();
        assert!(
            !out.stdout.contains(CANARY) && !out.stderr.contains(CANARY),
            "{out:?}"
        );
        out
    };
    // Someone else's item: our username, another service.
    session
        .secret_tool(
            &[
                "store",
                "--label=other",
                "service",
                "other",
                "username",
                "bitbucket.org",
            ],
            CANARY,
        )
        .assert_success();
    let canary = canary_path(&session);

    let token = fake_api_token();
    let ours = format!("password={token}");
    helper(
        "store",
        &format!("protocol=https\nhost=bitbucket.org\nusername=x\npassword={token}\n\n"),
    );
    assert_eq!(
        helper("get", GET).password(),
        Some(token.clone()),
        "control"
    );
    let hint = hint_file(&env);
    let remembered = std::fs::read_to_string(&hint).unwrap();
    assert!(
        remembered.ends_with('\n') && remembered.lines().count() == 3,
        "{remembered}"
    );
    let (entry, _) = remembered
        .rsplit_once('\n')
        .unwrap()
        .0
        .rsplit_once('\n')
        .unwrap();
    let entry = format!("{entry}\n");

    for planted in [
        canary.clone(),
        "/org/freedesktop/secrets/collection/login/999".into(),
        "/org/freedesktop/secrets".into(),
        "not a path/..".into(),
        String::new(),
    ] {
        std::fs::write(&hint, format!("{entry}{planted}\n")).unwrap();
        let out = helper("get", GET);
        assert!(
            out.stdout.lines().any(|l| l == ours),
            "hint {planted:?}: {out:?}"
        );
        // The search found ours again and the hint names it once more.
        assert_eq!(
            std::fs::read_to_string(&hint).unwrap(),
            remembered,
            "{planted:?}"
        );
    }
    std::fs::write(&hint, "garbage\u{0}\n\n\n\n").unwrap();
    assert_eq!(
        helper("get", GET).password(),
        Some(token.clone()),
        "a damaged hint"
    );

    // With our item gone, a hint naming the other item gives the username alone: git prompts.
    helper(
        "erase",
        &format!("protocol=https\nhost=bitbucket.org\npassword={token}\n\n"),
    );
    std::fs::write(&hint, format!("{entry}{canary}\n")).unwrap();
    let out = helper("get", GET);
    assert_eq!(out.password(), None, "{out:?}");
    assert!(
        out.stdout.contains("username=x-bitbucket-api-token-auth"),
        "{out:?}"
    );
    // The other item is untouched.
    let other = session.secret_tool(
        &["lookup", "service", "other", "username", "bitbucket.org"],
        "",
    );
    assert_eq!(other.assert_success().stdout, CANARY);
}
