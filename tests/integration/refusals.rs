//! A 401 deletes only a token Bitbucket really revoked (issue 17), through real git on every
//! store, against a server that grants access per repository, as Bitbucket does.
//!
//! One 401 in `acme/restricted` deleted a token that works in `acme/app`: "worked" was kept
//! per workspace. It is now kept per repository, and a token refused in a repository where it
//! never worked is asked about again where it did (a bounded `git ls-remote` through the pipe
//! `login --verify` uses): still accepted there, it is kept and no longer offered for the
//! refusing repository; refused there too, it was revoked, and goes (the positive control). A
//! path that names no repository (`a~b/c.git`) deleted the token too: it now never deletes.
//! The question to Bitbucket runs git with the token in a pipe: never in an argv or an
//! environment (checked under `strace`).

use crate::leaks::{executions, trace_the_helper};
use crate::rig::{Rig, StoreUnderTest};
use crate::support::Scope;

/// A rig with `acme/app`, `acme/lib` and `acme/restricted`, the rig's token seeing only the
/// first two (as `setup` configures git: with `useHttpPath`), typed at the first clone.
fn rig_in_acme(store: StoreUnderTest) -> Option<Rig> {
    let mut rig = Rig::new(store)?;
    rig.env.use_http_path();
    for repo in ["app", "lib", "restricted"] {
        rig.server.create_repo("acme", repo);
    }
    let token = rig.token.clone();
    rig.server
        .grant_in(&token, Scope::ReadWrite, &["acme/app", "acme/lib"]);
    rig.will_answer(Some(&token));
    rig.clone_url(&rig.server.url("acme/app.git"))
        .assert_success();
    rig.will_answer(None); // from now on, a prompt fails the command
    Some(rig)
}

fn a_401_where_the_account_lacks_access_keeps_the_token_and_a_revoked_one_goes(
    store: StoreUnderTest,
) {
    let Some(rig) = rig_in_acme(store) else {
        return;
    };
    let traces = tempfile::tempdir().expect("trace dir");
    let traced = store != StoreUnderTest::Wincred && trace_the_helper(&rig, traces.path());
    rig.clone_into(&rig.server.url("acme/lib.git"), "lib")
        .assert_success(); // it works in lib too

    let out = rig.clone_into(&rig.server.url("acme/restricted.git"), "restricted");
    out.assert_failure();
    let token = rig.token.clone();
    assert_eq!(
        rig.stored().as_deref(),
        Some(token.as_str()),
        "kept: {out:?}"
    );
    assert!(
        out.stderr.contains("still opens repository acme/lib"),
        "Bitbucket was asked again where it worked: {out:?}"
    );
    // It still works, silently, in the same workspace; the refusing repository prompts.
    rig.git_in_clone(&["fetch", "-q"]).assert_success();
    assert_eq!(rig.env.prompt_count(), 1);
    let get = rig.helper("get", &rig.request("path=acme/restricted.git"));
    assert_eq!(get.password(), None, "not offered where it was refused");

    // Revoked: refused in app, and again in lib when asked: removed, and said so.
    rig.server.revoke(&token);
    let out = rig.git_in_clone(&["fetch", "-q"]);
    out.assert_failure();
    assert!(
        out.stderr.contains("again in repository acme/lib")
            && out.stderr.contains("removed from the"),
        "{out:?}"
    );
    assert_eq!(rig.stored(), None);

    if traced {
        let executed = executions(traces.path());
        let asked: Vec<&String> = executed
            .iter()
            .filter(|e| e.contains("\"ls-remote\""))
            .collect();
        assert_eq!(
            asked.len(),
            2,
            "control: the trace saw git asked twice: {executed:?}"
        );
        assert!(
            executed.iter().all(|e| !e.contains(token.as_str())),
            "the token reached an argv or an environment"
        );
    }
}

fn a_401_for_a_path_that_names_no_repository_never_deletes(store: StoreUnderTest) {
    let Some(rig) = rig_in_acme(store) else {
        return;
    };
    let token = rig.token.clone();
    rig.server.create_repo("a~b", "c");
    let out = rig.clone_into(&rig.server.url("a~b/c.git"), "odd");
    out.assert_failure();
    assert!(out.stderr.contains("nothing was removed"), "{out:?}");
    for odd in [
        "+/x.git",
        "{a}/b.git",
        &format!("{}/x.git", "w".repeat(129)),
    ] {
        let erase = rig.helper(
            "erase",
            &rig.request(&format!("path={odd}\npassword={token}")),
        );
        assert!(
            erase.stderr.contains("nothing was removed"),
            "{odd}: {erase:?}"
        );
    }
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    rig.git_in_clone(&["fetch", "-q"]).assert_success();
    // Control: a revoked token, refused in the repository where it worked, goes.
    rig.server.revoke(&token);
    let out = rig.git_in_clone(&["fetch", "-q"]);
    assert!(out.stderr.contains("removed from the"), "{out:?}");
    assert_eq!(rig.stored(), None);
}

on_every_store!(
    a_401_where_the_account_lacks_access_keeps_the_token_and_a_revoked_one_goes,
    a_401_for_a_path_that_names_no_repository_never_deletes,
);

// Under Wine the helper asks with the Windows build of itself, and no git runs there: the
// odd-path rule needs no question.
on_windows_under_wine!(a_401_for_a_path_that_names_no_repository_never_deletes);
