//! The token you typed is the token you keep (issue 17), through real git on every store.
//!
//! git calls `store` with every password that worked, wherever it came from. A public
//! project's `.gitmodules` can name `https://x-bitbucket-api-token-auth:ANYTHING@…/lib.git`:
//! `git clone --recurse-submodules` then fetches the public submodule (anonymously: it is
//! public) and calls `store` with ANYTHING, which replaced the user's token. The helper now
//! keeps only a token typed at git's prompt, the one that follows its `get` answering without
//! a password. Controls: the token typed at the first clone is saved; the submodules are
//! cloned all the same.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{TOKEN_USERNAME, fake_api_token};

fn a_submodules_url_password_never_replaces_the_typed_token(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    rig.env.use_http_path(); // as `setup` configures it: the submodule's workspace is seen
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    rig.clone().assert_success();
    assert_eq!(rig.env.prompt_count(), 1);
    assert_eq!(
        rig.stored().as_deref(),
        Some(token.as_str()),
        "control: typed, kept"
    );

    // Someone's public project, with two public submodules whose URLs carry passwords: one
    // anything at all, one a well-formed token of the author's own account.
    let theirs = rig.secret(fake_api_token());
    for (ws, repo) in [
        ("someone", "public"),
        ("someone", "lib"),
        ("other", "tools"),
    ] {
        rig.server.create_repo(ws, repo);
        rig.server.make_public(ws, repo);
    }
    let host = rig.server.host();
    let with = |secret: &str, path: &str| format!("http://{TOKEN_USERNAME}:{secret}@{host}/{path}");
    let (lib, tools) = (
        with("ANYTHING", "someone/lib.git"),
        with(&theirs, "other/tools.git"),
    );
    rig.server
        .add_submodule("someone", "public", "lib", &lib, "someone/lib");
    rig.server
        .add_submodule("someone", "public", "tools", &tools, "other/tools");
    rig.will_answer(None); // a prompt now would fail the clone
    let url = rig.server.url("someone/public.git");
    let out = rig
        .env
        .git(&["clone", "-q", "--recurse-submodules", &url, "public"]);
    rig.assert_no_leak(&out, false);
    out.assert_success();
    assert!(
        rig.env.home().join("public/tools/README.md").is_file(),
        "control: the submodules were cloned"
    );
    assert_eq!(
        rig.env.prompt_count(),
        1,
        "no prompt for public repositories"
    );

    assert_eq!(
        rig.stored().as_deref(),
        Some(token.as_str()),
        "the typed token is kept"
    );
    for workspace in ["someone", "other"] {
        let get = rig.helper("get", &rig.request(&format!("path={workspace}/x.git")));
        assert_eq!(
            get.password().as_deref(),
            Some(token.as_str()),
            "{workspace}: no entry was created for it"
        );
    }
    assert!(out.stderr.contains("not saved"), "and says so: {out:?}");
    rig.will_answer(None);
    rig.fetch().assert_success(); // the person's own repository still works, silently
}

fn a_token_cut_short_at_the_prompt_is_named_so_and_never_stored(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let token = rig.token.clone();
    let cut = rig.secret(token[..token.len() - 3].to_owned());
    rig.will_answer(Some(&cut));
    let out = rig.clone();
    out.assert_failure();
    assert!(
        out.stderr.contains("looks truncated or mistyped"),
        "{out:?}"
    );
    assert_eq!(rig.stored(), None);
    // Control: the whole token, typed at the next prompt, works and is kept.
    rig.will_answer(Some(&token));
    rig.clone_into(&rig.server.url("ws/repo.git"), "again")
        .assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
}

on_every_store!(
    a_submodules_url_password_never_replaces_the_typed_token,
    a_token_cut_short_at_the_prompt_is_named_so_and_never_stored,
);

on_windows_under_wine!(
    a_submodules_url_password_never_replaces_the_typed_token,
    a_token_cut_short_at_the_prompt_is_named_so_and_never_stored,
);
