//! The Secret Service store's remembered item paths (src/store/secret_service/item_paths.rs): a hint in the
//! data directory that spares `get` gnome-keyring's search, never trusted.
//!
//! An attacker who can write the data directory (or a bug that leaves a stale hint) points
//! the hint at another item: one holding someone else's secret, another of our own entries'
//! (with this entry's digest or that one's), one that no longer exists, or something that is
//! not an object path at all. In every case `get` answers exactly our token (the positive
//! control, in the same test), or the username alone when we have none, and never the other
//! item's secret. KWallet makes stale hints on its own: it renumbers its items each time it
//! starts, so after a restart every hint names another entry's item or none.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::rig::StoreUnderTest;
use crate::support::{Output, Provider, SecretServiceSession, TestEnv, fake_api_token};

const GET: &str = "protocol=https\nhost=bitbucket.org\n\n";
const CANARY: &str = "someone-elses-secret-canary";
/// The service attribute of our items.
const SERVICE: &str = "git-credential-bitbucket";

/// The one hint file our entry has after a `get` (its name is a checksum of the entry; the
/// digest key sits beside it).
fn hint_file(env: &TestEnv) -> PathBuf {
    let dir = env
        .home()
        .join(".local/share/git-credential-bitbucket/secret-service-items");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.ends_with("key"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

/// The object path of the one item carrying `service` and `username`.
fn item_path(session: &SecretServiceSession, service: &str, username: &str) -> String {
    let mut cmd = session.command("dbus-send");
    cmd.args([
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.secrets",
        "/org/freedesktop/secrets",
        "org.freedesktop.Secret.Service.SearchItems",
        &format!("dict:string:string:service,{service},username,{username}"),
    ]);
    let out = Output::run(&mut cmd, "");
    out.assert_success();
    out.stdout
        .split('"')
        .find(|s| s.starts_with("/org/freedesktop/secrets/collection/"))
        .unwrap_or_else(|| panic!("no item for {service} {username}: {out:?}"))
        .to_owned()
}

/// The item path each of our hints names, by keychain user (`bitbucket.org`,
/// `bitbucket.org/WORKSPACE`).
fn hinted_paths(env: &TestEnv) -> BTreeMap<String, String> {
    let dir = env
        .home()
        .join(".local/share/git-credential-bitbucket/secret-service-items");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.ends_with("key"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            (lines[1].to_owned(), lines[2].to_owned())
        })
        .collect()
}

/// A path in the session's default collection where no item is, shaped as the provider names
/// its items: gnome-keyring and KWallet number them, KeePassXC names them by UUID (32 hex
/// digits).
fn missing_item(session: &SecretServiceSession) -> String {
    let name = match session.provider() {
        Provider::KeePassXc { .. } => "0123456789abcdef0123456789abcdef",
        Provider::GnomeKeyring | Provider::KWallet => "999",
    };
    let path = format!("{}/{name}", session.default_collection());
    // Nothing answers there: asked for a property, the provider knows no such object.
    let mut cmd = session.command("dbus-send");
    cmd.args([
        "--session",
        "--print-reply",
        "--dest=org.freedesktop.secrets",
        &path,
        "org.freedesktop.DBus.Properties.Get",
        "string:org.freedesktop.Secret.Item",
        "string:Label",
    ]);
    let out = Output::run(&mut cmd, "");
    assert!(!out.success(), "an item at {path}: {out:?}");
    path
}

/// On every Secret Service provider: each names its items its own way (gnome-keyring and
/// KWallet by number, KeePassXC by UUID), and the hint must be distrusted on each.
fn a_hint_naming_another_item_never_hands_out_its_secret(store: StoreUnderTest) {
    let provider = store.provider().expect("a Secret Service store");
    let Some(session) = SecretServiceSession::start_provider_or_skip(provider) else {
        return;
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
    let canary = item_path(&session, "other", "bitbucket.org");

    let token = fake_api_token();
    let ours = format!("password={token}");
    assert_eq!(
        helper("get", GET).password(),
        None,
        "git prompts, then stores"
    );
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
    let lines: Vec<&str> = remembered.lines().collect();
    assert_eq!(lines.len(), 4, "entry, path and digest: {remembered}");
    let (service, user, digest) = (lines[0], lines[1], lines[3]);

    // Another of our own entries: a workspace token, its item and its hint.
    let acme = fake_api_token();
    let out = env.run_helper(
        &[
            "--store",
            "secret-service",
            "login",
            "--workspace",
            "acme",
            "--stdin",
        ],
        &format!("{acme}\n"),
    );
    out.assert_success();
    let acme_hint = std::fs::read_dir(hint.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| *p != hint && !p.ends_with("key"))
        .expect("the workspace entry's hint");
    let acme_lines: Vec<String> = std::fs::read_to_string(&acme_hint)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let acme_path = acme_lines[2].clone();
    let missing = missing_item(&session);

    // The attacker keeps the entry's name (and its digest, or the other entry's) and changes
    // the path: to someone else's item, our other entry's item, a missing item, the service,
    // something that is not a path.
    for (path, digest) in [
        (canary.as_str(), digest),
        (acme_path.as_str(), digest),
        (acme_path.as_str(), acme_lines[3].as_str()),
        (missing.as_str(), digest),
        ("/org/freedesktop/secrets", digest),
        ("not a path/..", digest),
        ("", digest),
    ] {
        std::fs::write(&hint, format!("{service}\n{user}\n{path}\n{digest}\n")).unwrap();
        let out = helper("get", GET);
        assert!(
            out.stdout.lines().any(|l| l == ours),
            "hint {path:?}: {out:?}"
        );
        assert!(
            !out.stdout.contains(&acme),
            "the other entry's token: {out:?}"
        );
        // The search found ours again and the hint names it once more.
        assert_eq!(
            std::fs::read_to_string(&hint).unwrap(),
            remembered,
            "{path:?}"
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
    std::fs::write(&hint, format!("{service}\n{user}\n{canary}\n{digest}\n")).unwrap();
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

mod secret_service {
    #[test]
    fn a_hint_naming_another_item_never_hands_out_its_secret() {
        super::a_hint_naming_another_item_never_hands_out_its_secret(
            super::StoreUnderTest::SecretService,
        );
    }
}

mod keepassxc {
    #[test]
    fn a_hint_naming_another_item_never_hands_out_its_secret() {
        super::a_hint_naming_another_item_never_hands_out_its_secret(
            super::StoreUnderTest::KeePassXc,
        );
    }
}

mod kwallet {
    #[test]
    fn a_hint_naming_another_item_never_hands_out_its_secret() {
        super::a_hint_naming_another_item_never_hands_out_its_secret(
            super::StoreUnderTest::KWallet,
        );
    }
}

/// KWallet renumbers its items when it starts again, so every hint written before names
/// another entry's item, or none (docs/testing.md). Each `get` must then find its own item
/// by a search, hand out exactly its own token, and write the hint anew.
#[test]
fn after_kwallet_renumbers_its_items_a_stale_hint_leads_to_a_search_and_the_right_token() {
    let Some(mut session) = SecretServiceSession::start_provider_or_skip(Provider::KWallet) else {
        return;
    };
    let mut env = TestEnv::new();
    env.use_secret_service(&session);
    let helper = |env: &TestEnv, args: &[&str], input: &str| {
        let out = env.run_helper(&[&["--store", "secret-service"][..], args].concat(), input);
        out.assert_success();
        out
    };
    // (request, keychain user, token): three workspaces' tokens, then the host's.
    let mut entries = Vec::new();
    for workspace in ["a", "b", "c"] {
        let token = fake_api_token();
        helper(
            &env,
            &["login", "--workspace", workspace, "--stdin"],
            &token,
        );
        entries.push((
            format!("protocol=https\nhost=bitbucket.org\npath={workspace}/repo.git\n\n"),
            format!("bitbucket.org/{workspace}"),
            token,
        ));
    }
    let token = fake_api_token();
    helper(&env, &["login", "--stdin"], &token);
    entries.push((GET.to_owned(), "bitbucket.org".to_owned(), token));
    for (request, user, token) in &entries {
        let out = helper(&env, &["get"], request);
        assert_eq!(out.password().as_ref(), Some(token), "control: {user}");
    }
    let before = hinted_paths(&env);
    assert_eq!(before.len(), entries.len(), "{before:?}");

    session.restart();
    env.use_secret_service(&session);
    let now: BTreeMap<String, String> = entries
        .iter()
        .map(|(_, user, _)| (user.clone(), item_path(&session, SERVICE, user)))
        .collect();
    assert!(
        before
            .iter()
            .any(|(user, path)| now[user] != *path && now.values().any(|p| p == path)),
        "the restart renumbered the items: a hint names another entry's item.\n\
         before: {before:?}\nnow: {now:?}"
    );
    for (request, user, token) in &entries {
        let out = helper(&env, &["get"], request);
        assert_eq!(out.password().as_ref(), Some(token), "{user}: {out:?}");
        for (_, other, theirs) in &entries {
            assert!(
                other == user || !out.stdout.contains(theirs.as_str()),
                "{user} got {other}'s token"
            );
        }
    }
    assert_eq!(
        hinted_paths(&env),
        now,
        "each hint names its own item again"
    );
}
