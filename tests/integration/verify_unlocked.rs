//! `login --verify` asks the remote without holding the writer lock: while the remote is slow,
//! git's `store` through the helper goes through at once (it would otherwise wait out its
//! 10 s and give up, "held the lock"). What the login's decision rested on, the token stored
//! before, is read again under the lock: a token that can push, stored meanwhile, is still
//! not replaced by one that cannot.
//!
//! The slow remote is the test server holding the requests that present one token
//! (`support::gate`), so the interleaving is certain, not likely; every wait has a deadline.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, Scope, fake_api_token};

/// A rig where `first` (read-only) is stored and `login` (read-only) is on its way in with
/// `--verify`: the login is held while it checks whether `first` can push, `meanwhile` is
/// stored through the helper, then the remote answers. Returns the login's output and token.
///
/// git's `store` keeps a new token only after a prompt, and git prompts for this host because
/// Bitbucket refused `first` once for it (an erase where it never worked keeps the token and
/// stops offering it there).
fn login_over_a_token_stored_meanwhile(rig: &mut Rig, meanwhile: &str) -> (Output, String) {
    let url = rig.server.url("ws/repo.git");
    let first = rig.secret(fake_api_token());
    let login = rig.secret(fake_api_token());
    rig.server.grant(&first, Scope::Read);
    rig.server.grant(&login, Scope::Read);
    rig.cli(&["login", "--stdin"], &first).assert_success();
    let refused = rig.helper("erase", &rig.request(&format!("password={first}")));
    assert!(
        refused.stderr.contains("so it was kept"),
        "set-up: {refused:?}"
    );

    let rig = &*rig;
    let held = rig.server.hold_requests_presenting(&first);
    let out = std::thread::scope(|s| {
        let login = s.spawn(|| rig.cli(&["login", "--stdin", "--verify", &url], &login));
        held.wait_until_holding();
        // The login has read `first` and waits on the remote about it: git prompts, and
        // stores what was typed now.
        let store = rig.typed("", meanwhile);
        store.assert_success();
        assert!(!store.stderr.contains("held the lock"), "{store:?}");
        assert_eq!(
            rig.stored().as_deref(),
            Some(meanwhile),
            "the store went through while the login waited on the remote: {store:?}"
        );
        held.release();
        login.join().expect("login thread")
    });
    (out, login)
}

fn a_store_while_login_verify_waits_goes_through_and_a_pusher_stored_meanwhile_is_kept(
    store: StoreUnderTest,
) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let pusher = rig.token.clone();
    let (out, _) = login_over_a_token_stored_meanwhile(&mut rig, &pusher);
    out.assert_failure();
    assert!(
        out.stderr.contains("can push to") && out.stderr.contains("Nothing was changed"),
        "{out:?}"
    );
    assert_eq!(rig.stored().as_deref(), Some(pusher.as_str()), "kept");
}

fn a_store_while_login_verify_waits_goes_through_and_a_reader_stored_meanwhile_is_replaced(
    store: StoreUnderTest,
) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    // Control: the same interleaving, but what was stored meanwhile cannot push either, so
    // the login saves its token.
    let reader = rig.secret(fake_api_token());
    rig.server.grant(&reader, Scope::Read);
    let (out, login) = login_over_a_token_stored_meanwhile(&mut rig, &reader);
    out.assert_success();
    assert!(out.stdout.contains("cannot push"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(login.as_str()), "saved");
    let pushes_checked = rig
        .server
        .authenticated()
        .iter()
        .filter(|r| r.query == "service=git-receive-pack")
        .count();
    // The login's own token, `first`, then `reader` once the login saw it had changed.
    assert_eq!(pushes_checked, 3, "{:?}", rig.server.requests());
}

on_every_store!(
    a_store_while_login_verify_waits_goes_through_and_a_pusher_stored_meanwhile_is_kept,
    a_store_while_login_verify_waits_goes_through_and_a_reader_stored_meanwhile_is_replaced,
);
