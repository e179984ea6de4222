//! `migrate` takes tokens only from the user's own files, and leaves a stored token as it is.
//!
//! A repository's `.gitmodules` is someone else's file: cloning a project whose `.gitmodules`
//! names `https://user:TOKEN@bitbucket.org/…` (and `git submodule init`, which copies that URL
//! into `.git/config` and the submodule's own repository) must not give that token a place in
//! the store, where `get` would hand it out for the submodule's workspace. Its places are
//! cleaned all the same. And a `migrate` of a URL holding the token already stored keeps what
//! is recorded about it (its expiry, given with `login --expires`).

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{TOKEN_USERNAME, fake_api_token};

/// The masked fingerprint `status` shows for an API token.
fn fingerprint(token: &str) -> String {
    format!("ATATT…{}", &token[token.len() - 4..])
}

#[test]
fn migrate_never_stores_a_token_that_came_with_a_repositorys_gitmodules() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let own = rig.token.clone();
    rig.will_answer(Some(&own));
    rig.clone().assert_success();
    rig.cli(&["logout"], "").assert_success();
    let foreign = rig.secret(fake_api_token());
    let host = rig.server.host();
    let with = |secret: &str, path: &str| format!("http://{TOKEN_USERNAME}:{secret}@{host}/{path}");
    let git = |args: &[&str]| rig.git_in_clone(args).assert_success().stdout.clone();
    // The user's own remote URL holds the user's token (the control: it is moved).
    git(&["config", "remote.origin.url", &with(&own, "ws/repo.git")]);
    // The project's .gitmodules, and the copies `git submodule init` makes of it.
    let submodule = with(&foreign, "someone/lib.git");
    rig.submodule_in_clone("lib", &submodule);

    let plan = rig.cli_in_clone(&["migrate", "--dry-run"]);
    let out = rig.cli_in_clone(&["migrate"]);
    out.assert_success();
    let status = rig.cli(&["status"], "");
    assert!(
        !status.stdout.contains(&fingerprint(&foreign)),
        "{status:?}"
    );
    assert!(
        status.stdout.contains(&fingerprint(&own)),
        "control: {status:?}"
    );
    let get = rig.helper("get", &rig.request("path=someone/lib.git"));
    assert_eq!(
        get.password().as_deref(),
        Some(own.as_str()),
        "the submodule gets the user's"
    );
    assert!(plan.stdout.contains("not store it"), "{plan:?}");
    assert!(
        out.stdout
            .contains("came with the repository's .gitmodules"),
        "{out:?}"
    );
    // Every place is cleaned all the same.
    for place in [".gitmodules", ".git/config", ".git/modules/lib/config"] {
        let text = std::fs::read_to_string(rig.clone_dir().join(place)).unwrap();
        assert!(
            !text.contains(foreign.as_str()),
            "{place} still holds the token"
        );
    }
}

#[test]
fn migrate_of_a_url_holding_the_stored_token_keeps_its_recorded_expiry() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let token = rig.token.clone();
    rig.cli(&["login", "--stdin", "--expires", "2099-01-31"], &token)
        .assert_success();
    rig.clone().assert_success();
    let host = rig.server.host();
    let embedded = format!("http://{TOKEN_USERNAME}:{token}@{host}/ws/repo.git");
    rig.git_in_clone(&["config", "remote.origin.url", &embedded])
        .assert_success();
    let before = rig.cli(&["status"], "");
    assert!(
        before.stdout.contains("expires 2099-01-31"),
        "control: {before:?}"
    );

    let out = rig.cli_in_clone(&["migrate"]);
    out.assert_success();
    let after = rig.cli(&["status"], "");
    assert!(
        after.stdout.contains("expires 2099-01-31"),
        "the expiry was dropped: {after:?}"
    );
    assert!(out.stdout.contains("already stored"), "{out:?}");
    let origin = rig.git_in_clone(&["config", "remote.origin.url"]);
    assert_eq!(
        origin.stdout.trim(),
        rig.server.url("ws/repo.git"),
        "the URL is cleaned"
    );
}
