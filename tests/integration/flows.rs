//! What a person sees, through real git, on every real store: the first clone prompts once and
//! stores; later operations are silent; a rotated token is erased and replaced after one prompt;
//! app passwords are refused both ways. Each flow runs on the Secret Service, keyutils and the
//! file store (the `flows!` macro at the bottom makes one test per store).

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{APP_PASSWORD_BODY, Scope, TOKEN_USERNAME, fake_api_token, fake_app_password};

fn first_clone_prompts_once_and_later_operations_are_silent(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    rig.clone().assert_success();
    assert_eq!(rig.env.prompt_count(), 1, "{:?}", rig.env.prompts());
    assert!(
        rig.env.prompts()[0].starts_with(&format!("Password for 'http://{TOKEN_USERNAME}@")),
        "git asks for the API token's password only: {:?}",
        rig.env.prompts()
    );
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));

    rig.will_answer(None); // a second prompt would now fail the operation
    rig.fetch().assert_success();
    rig.git_in_clone(&["pull", "-q"]).assert_success();
    assert_eq!(rig.env.prompt_count(), 1);
    let users: Vec<_> = rig
        .server
        .authenticated()
        .into_iter()
        .map(|r| r.username)
        .collect();
    assert!(
        users.iter().all(|u| u.as_deref() == Some(TOKEN_USERNAME)),
        "{users:?}"
    );
}

fn a_username_in_the_url_is_replaced_by_the_api_token_username(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    rig.plant(&rig.token.clone());
    rig.will_answer(None);
    let url = rig
        .server
        .url("ws/repo.git")
        .replacen("http://", "http://anhtran@", 1);
    rig.clone_url(&url).assert_success();
    assert_eq!(rig.env.prompt_count(), 0);
    // git first tries the URL's user without a password (401), then asks the helper.
    let log = rig.server.requests();
    let accepted: Vec<_> = log.iter().filter(|r| r.status == 200).collect();
    assert!(!accepted.is_empty(), "{log:?}");
    assert!(
        accepted
            .iter()
            .all(|r| r.username.as_deref() == Some(TOKEN_USERNAME)),
        "{log:?}"
    );
}

fn push_works_and_a_read_only_token_gets_403_without_losing_the_token(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    rig.clone().assert_success();
    rig.will_answer(None);
    rig.push("pushed.txt").assert_success();

    let read_only = rig.secret(fake_api_token());
    rig.server.grant(&read_only, Scope::Read);
    rig.cli(&["login", "--stdin"], &read_only).assert_success();
    let out = rig.push("refused.txt");
    out.assert_failure();
    assert!(
        out.stderr
            .contains("lack one or more required privilege scopes"),
        "{out:?}"
    );
    // 403 means "wrong scope", not "wrong token": git does not erase, the token stays.
    assert_eq!(rig.stored().as_deref(), Some(read_only.as_str()));
}

fn a_revoked_token_is_erased_and_the_next_operation_prompts_once_for_the_new_one(
    store: StoreUnderTest,
) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let old = rig.token.clone();
    rig.will_answer(Some(&old));
    rig.clone().assert_success();
    rig.server.revoke(&old);

    let out = rig.fetch();
    out.assert_failure();
    assert!(
        out.stderr.contains("removed from the"),
        "erase explains itself: {out:?}"
    );
    assert!(out.stderr.contains("read:repository:bitbucket"), "{out:?}");
    assert_eq!(rig.stored(), None, "the rejected token was erased");

    let new = rig.secret(fake_api_token());
    rig.server.grant(&new, Scope::ReadWrite);
    rig.will_answer(Some(&new));
    let prompts_before = rig.env.prompt_count();
    rig.fetch().assert_success();
    assert_eq!(rig.env.prompt_count(), prompts_before + 1);
    assert_eq!(rig.stored().as_deref(), Some(new.as_str()));
    rig.fetch().assert_success();
    assert_eq!(rig.env.prompt_count(), prompts_before + 1);
}

fn erase_with_another_password_keeps_the_stored_token(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let current = rig.token.clone();
    rig.typed("", &current);
    let stale = rig.secret(fake_api_token());
    rig.helper("erase", &rig.request(&format!("password={stale}")))
        .assert_success();
    assert_eq!(rig.stored().as_deref(), Some(current.as_str()));
    rig.helper("erase", &rig.request(&format!("password={current}")))
        .assert_success();
    assert_eq!(rig.stored(), None);
}

fn an_app_password_is_never_handed_back_and_the_prompted_token_replaces_it(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let legacy = rig.secret(fake_app_password());
    rig.plant(&legacy);
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    let out = rig.clone();
    out.assert_success();
    assert!(
        out.stderr.contains("App passwords no longer work"),
        "{out:?}"
    );
    assert_eq!(rig.env.prompt_count(), 1);
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    assert!(
        rig.server.requests().iter().all(|r| r.status != 410),
        "legacy never sent"
    );
}

fn an_app_password_is_never_stored_from_the_prompt_or_a_url(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let legacy = rig.secret(fake_app_password());
    // Typed at the prompt: Bitbucket answers 410, git stores nothing.
    rig.will_answer(Some(&legacy));
    let out = rig.clone();
    out.assert_failure();
    assert!(out.stderr.contains(APP_PASSWORD_BODY), "{out:?}");
    assert_eq!(rig.stored(), None);
    // git calls `store` for credentials embedded in a URL when a server accepts them; the
    // helper keeps nothing from a URL, an app password least of all, and keeps the stored API
    // token (typed at the prompt: the positive control, first).
    let token = rig.token.clone();
    rig.typed("", &token);
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    let other = rig.secret(fake_api_token());
    let url = |secret: &str| {
        rig.server
            .url("ws/repo.git")
            .replacen("http://", &format!("http://u:{secret}@"), 1)
    };
    let out = rig.helper("store", &format!("url={}\n", url(&legacy)));
    assert!(out.stderr.contains("app password"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    let out = rig.helper("store", &format!("url={}\n", url(&other)));
    assert!(out.stderr.contains("not saved"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
}

on_every_store!(
    first_clone_prompts_once_and_later_operations_are_silent,
    a_username_in_the_url_is_replaced_by_the_api_token_username,
    push_works_and_a_read_only_token_gets_403_without_losing_the_token,
    a_revoked_token_is_erased_and_the_next_operation_prompts_once_for_the_new_one,
    erase_with_another_password_keeps_the_stored_token,
    an_app_password_is_never_handed_back_and_the_prompted_token_replaces_it,
    an_app_password_is_never_stored_from_the_prompt_or_a_url,
);

// The Windows build under Wine (those that plant nothing behind the helper's back).
on_windows_under_wine!(
    first_clone_prompts_once_and_later_operations_are_silent,
    a_username_in_the_url_is_replaced_by_the_api_token_username,
    push_works_and_a_read_only_token_gets_403_without_losing_the_token,
    a_revoked_token_is_erased_and_the_next_operation_prompts_once_for_the_new_one,
    erase_with_another_password_keeps_the_stored_token,
    an_app_password_is_never_stored_from_the_prompt_or_a_url,
);
