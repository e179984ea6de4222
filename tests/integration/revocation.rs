//! Erase only what Bitbucket really revoked, through real git on every store (issue 10).
//!
//! Bitbucket answers 401 both for a revoked token and for a valid one whose account cannot see
//! the repository, and git calls `erase` after either. The helper removes a token only where
//! it had worked before; elsewhere it keeps it, git prompts for that workspace, and the token
//! typed there becomes the workspace's entry.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Scope, fake_api_token};

fn a_401_where_the_token_never_worked_keeps_it_and_one_where_it_did_removes_it(
    store: StoreUnderTest,
) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    rig.server.create_repo("other", "repo");
    rig.env.use_http_path(); // as `setup` configures it
    // Account A sees `ws` only; account B sees `other` only.
    let a = rig.token.clone();
    rig.server.grant_in(&a, Scope::ReadWrite, &["ws"]);
    let b = rig.secret(fake_api_token());
    rig.server.grant_in(&b, Scope::ReadWrite, &["other"]);

    rig.will_answer(Some(&a));
    rig.clone().assert_success();
    assert_eq!(rig.env.prompt_count(), 1);

    // A URL of another workspace (a submodule, say): A gets 401 there, where it never worked.
    let other = rig.server.url("other/repo.git");
    rig.will_answer(None);
    let out = rig.clone_into(&other, "other-1");
    out.assert_failure();
    // Bitbucket is asked again where A worked (a real `git ls-remote` through the pipe
    // `login --verify` uses): it still opens ws/repo, so it was kept.
    assert!(
        out.stderr.contains("still opens repository ws/repo"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("can access it"),
        "says what to check: {out:?}"
    );
    assert_eq!(rig.stored().as_deref(), Some(a.as_str()), "A was kept");
    // Control: A still works, silently, where it worked.
    rig.fetch().assert_success();
    assert_eq!(
        rig.env.prompt_count(),
        1,
        "git does not prompt after the helper's 401"
    );

    // The next clone of `other` prompts (A is not offered there again); B is kept for it.
    rig.will_answer(Some(&b));
    rig.clone_into(&other, "other-2").assert_success();
    assert_eq!(rig.env.prompt_count(), 2);
    rig.will_answer(None);
    rig.env
        .git_in(&rig.env.home().join("other-2"), &["fetch", "-q"])
        .assert_success();
    rig.fetch().assert_success();
    assert_eq!(
        rig.env.prompt_count(),
        2,
        "each workspace now has its token"
    );

    // A revoked where it had worked: removed, as before, and said so.
    rig.server.revoke(&a);
    let out = rig.fetch();
    out.assert_failure();
    assert!(out.stderr.contains("had worked"), "{out:?}");
    assert!(out.stderr.contains("removed from the"), "{out:?}");
    assert_eq!(rig.stored(), None);
    rig.env
        .git_in(&rig.env.home().join("other-2"), &["fetch", "-q"])
        .assert_success();
}

fn erase_without_a_password_or_with_dot_segments_removes_nothing(store: StoreUnderTest) {
    let Some(rig) = Rig::new(store) else {
        return;
    };
    let token = rig.token.clone();
    let with_path = |path: &str, extra: &str| rig.request(&format!("path={path}\n{extra}"));
    rig.typed("path=bob/repo.git", &token);
    // git 2.46+ after another helper's bearer credential was rejected: no password at all.
    rig.helper(
        "erase",
        &with_path(
            "bob/repo.git",
            "capability[]=authtype\nauthtype=Bearer\ncredential=not-ours",
        ),
    )
    .assert_success();
    rig.helper("erase", &with_path("bob/repo.git", "password="))
        .assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    // A path that walks out of its first segment names no workspace, and its 401 removes nothing.
    let dotted = "bob/%2e%2e/alice/repo.git";
    let out = rig.helper("erase", &with_path(dotted, &format!("password={token}")));
    assert!(out.stderr.contains(". or .."), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    // Control: the same erase for the workspace where it worked removes it.
    let out = rig.helper(
        "erase",
        &with_path("bob/repo.git", &format!("password={token}")),
    );
    assert!(out.stderr.contains("removed from the"), "{out:?}");
    assert_eq!(rig.stored(), None);
}

fn a_dotted_path_never_gets_the_first_segments_workspace_token(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let bob = rig.secret(fake_api_token());
    let host = rig.token.clone();
    let with_path = |path: &str, extra: &str| rig.request(&format!("path={path}\n{extra}"));
    rig.cli(&["login", "--stdin", "--workspace", "bob"], &bob)
        .assert_success();
    rig.cli(&["login", "--stdin"], &host).assert_success();
    let get = |path: &str| {
        let out = rig.helper("get", &with_path(path, ""));
        out.assert_success();
        out.password()
    };
    assert_eq!(
        get("bob/repo.git").as_deref(),
        Some(bob.as_str()),
        "control"
    );
    for dotted in [
        "bob/%2e%2e/alice/repo.git",
        "bob/../alice/repo.git",
        "bob/./x/../y",
    ] {
        assert_eq!(get(dotted).as_deref(), Some(host.as_str()), "{dotted}");
    }
}

fn a_store_with_an_empty_password_never_replaces_the_token(store: StoreUnderTest) {
    let Some(rig) = Rig::new(store) else {
        return;
    };
    let token = rig.token.clone();
    // git prompted (nothing stored), and approves an empty password: refused, with a sentence.
    assert_eq!(rig.stored(), None);
    let empty = rig.helper("store", &rig.request("password="));
    empty.assert_success();
    assert!(empty.stderr.contains("empty"), "{empty:?}");
    // Control: a real token, typed at that prompt, is saved...
    rig.helper("store", &rig.request(&format!("password={token}")))
        .assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    // ...and an empty password never replaces it.
    rig.helper("store", &rig.request("password="))
        .assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
}

on_every_store!(
    a_401_where_the_token_never_worked_keeps_it_and_one_where_it_did_removes_it,
    erase_without_a_password_or_with_dot_segments_removes_nothing,
    a_dotted_path_never_gets_the_first_segments_workspace_token,
    a_store_with_an_empty_password_never_replaces_the_token,
);

/// `--host 127.0.0.1:443`: the token saved for https is never answered for plain http to
/// port 80 (the same host name, another port and no TLS).
#[test]
fn an_explicit_https_port_is_never_served_over_http_to_port_80() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let token = rig.token.clone();
    let run = |op: &str, input: &str| {
        let out = rig
            .env
            .run_helper(&["--store", "file", "--host", "127.0.0.1:443", op], input);
        rig.assert_no_leak(&out, op == "get");
        out.assert_success();
        out
    };
    run("get", "protocol=https\nhost=127.0.0.1\n"); // nothing stored: git prompts
    run(
        "store",
        &format!("protocol=https\nhost=127.0.0.1\npassword={token}\n"),
    );
    let https = run("get", "protocol=https\nhost=127.0.0.1\n");
    assert_eq!(https.password().as_deref(), Some(token.as_str()), "control");
    for http in ["127.0.0.1", "127.0.0.1:80"] {
        let out = run("get", &format!("protocol=http\nhost={http}\n"));
        assert_eq!(out.password(), None, "{http}: {out:?}");
    }
}
