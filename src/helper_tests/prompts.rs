//! `store` keeps only a token git got from a person: the one typed at the prompt that followed
//! a `get` answering without a password, within the prompt window, once. Each refusal sits
//! beside the typed token that is saved.

use super::*;
use crate::store::PROMPT_WINDOW;

fn store(fx: &Fixture, request: &str, secret: &str) -> Outcome {
    fx.run(Operation::Store, &format!("{request}password={secret}\n"))
}

/// A request for `path` on bitbucket.org.
fn at(path: &str) -> String {
    format!("{GET_BITBUCKET}path={path}\n")
}

/// A fixture whose host token (returned) was typed for `acme/app.git`, then refused in `path`
/// (Bitbucket could not be asked again where it worked: kept, not offered there).
fn refused_in(path: &str) -> (Fixture, String) {
    let fx = Fixture::new();
    let host = api_token("host");
    fx.typed(&at("acme/app.git"), &host);
    fx.run(Operation::Erase, &format!("{}password={host}\n", at(path)));
    (fx, host)
}

fn says_not_saved(outcome: &Outcome) -> bool {
    outcome.notes.iter().any(|n| n.contains("not saved"))
}

#[test]
fn a_password_from_a_url_or_another_helper_never_replaces_or_creates_an_entry() {
    let fx = Fixture::new();
    // Nothing stored, no prompt: a URL's password creates nothing, and says so.
    let outcome = store(&fx, GET_BITBUCKET, &api_token("from-a-url"));
    assert_eq!(fx.stored("bitbucket.org"), None);
    assert!(says_not_saved(&outcome), "{:?}", outcome.notes);
    assert!(!outcome.notes.join(" ").contains(&api_token("from-a-url")));
    // Control: the token typed at the prompt is saved.
    fx.typed(GET_BITBUCKET, &api_token("typed"));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("typed")));
    // A stored token handed out (no prompt follows): a URL's password replaces nothing, nor
    // does it become a workspace's entry.
    let in_ws = format!("{GET_BITBUCKET}path=someone/public.git\n");
    assert_eq!(
        answer(&fx.run(Operation::Get, &in_ws)).1,
        Some(api_token("typed"))
    );
    let outcome = store(&fx, &in_ws, &api_token("anything"));
    assert!(says_not_saved(&outcome), "{:?}", outcome.notes);
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("typed")));
    assert_eq!(fx.stored("bitbucket.org/someone"), None);
}

#[test]
fn one_prompt_saves_one_token_within_the_window() {
    let fx = Fixture::new();
    fx.run(Operation::Get, GET_BITBUCKET);
    fx.now.set(NOW + PROMPT_WINDOW);
    store(&fx, GET_BITBUCKET, &api_token("typed"));
    assert_eq!(
        fx.stored("bitbucket.org"),
        Some(api_token("typed")),
        "control"
    );
    // The same prompt does not let a second, different token in.
    let outcome = store(&fx, GET_BITBUCKET, &api_token("second"));
    assert!(says_not_saved(&outcome));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("typed")));
    // A prompt older than the window saves nothing.
    fx.expire_in(&api_token("typed"), -1);
    fx.now.set(NOW);
    fx.run(Operation::Get, GET_BITBUCKET);
    fx.now.set(NOW + PROMPT_WINDOW + 1);
    let outcome = store(&fx, GET_BITBUCKET, &api_token("late"));
    assert!(says_not_saved(&outcome));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("typed")));
}

#[test]
fn a_get_that_hands_out_a_token_clears_the_prompt() {
    let fx = Fixture::new();
    fx.run(Operation::Get, GET_BITBUCKET); // git prompts...
    fx.put("bitbucket.org", &api_token("meanwhile")); // ...another process saves a token
    assert_eq!(
        answer(&fx.run(Operation::Get, GET_BITBUCKET)).1,
        Some(api_token("meanwhile"))
    );
    let outcome = store(&fx, GET_BITBUCKET, &api_token("from-a-url"));
    assert!(says_not_saved(&outcome), "{:?}", outcome.notes);
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("meanwhile")));
}

#[test]
fn an_erase_of_the_typed_token_clears_the_prompt() {
    let fx = Fixture::new();
    fx.run(Operation::Get, GET_BITBUCKET);
    // The typed token got a 401; git erases it.
    fx.run(
        Operation::Erase,
        &format!("{GET_BITBUCKET}password={}\n", api_token("mistyped")),
    );
    let outcome = store(&fx, GET_BITBUCKET, &api_token("from-a-url"));
    assert!(says_not_saved(&outcome));
    assert_eq!(fx.stored("bitbucket.org"), None);
}

#[test]
fn a_token_handed_out_for_another_repository_leaves_this_ones_prompt() {
    let (fx, host) = refused_in("acme/restricted.git");
    // Two fetches at once: restricted prompts, app is handed the host token meanwhile.
    fx.run(Operation::Get, &at("acme/restricted.git"));
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("acme/app.git"))).1,
        Some(host)
    );
    store(&fx, &at("acme/restricted.git"), &api_token("typed"));
    assert_eq!(fx.stored("bitbucket.org/acme"), Some(api_token("typed")));
}

#[test]
fn a_prompt_is_for_its_own_entry_only() {
    let fx = Fixture::new();
    fx.run(
        Operation::Get,
        &format!("{GET_BITBUCKET}path=acme/app.git\n"),
    );
    let outcome = store(&fx, GET_BITBUCKET, &api_token("elsewhere"));
    assert!(says_not_saved(&outcome));
    store(
        &fx,
        &format!("{GET_BITBUCKET}path=acme/app.git\n"),
        &api_token("typed"),
    );
    assert_eq!(
        fx.stored("bitbucket.org"),
        Some(api_token("typed")),
        "control"
    );
}

#[test]
fn a_secret_failing_the_checksum_or_not_an_api_token_is_never_stored() {
    let fx = Fixture::new();
    let whole = api_token("whole");
    let cut_short = &whole[..whole.len() - 3];
    let lost_first = &whole[1..];
    for secret in [cut_short, lost_first, "hunter2"] {
        fx.run(Operation::Get, GET_BITBUCKET);
        let outcome = store(&fx, GET_BITBUCKET, secret);
        assert_eq!(fx.stored("bitbucket.org"), None, "{secret}");
        let notes = outcome.notes.join(" ");
        assert!(
            notes.contains("not stored") && !notes.contains(secret),
            "{notes}"
        );
    }
    fx.run(Operation::Get, GET_BITBUCKET);
    let outcome = store(&fx, GET_BITBUCKET, cut_short);
    assert_first_note(&outcome, "truncated");
    // Control: the whole token, typed at the prompt, is saved.
    store(&fx, GET_BITBUCKET, &whole);
    assert_eq!(fx.stored("bitbucket.org"), Some(whole));
}

#[test]
fn an_empty_password_is_refused_with_a_sentence_and_never_replaces_a_token() {
    let fx = Fixture::new();
    fx.run(Operation::Get, GET_BITBUCKET);
    let outcome = store(&fx, GET_BITBUCKET, "");
    assert_first_note(&outcome, "empty");
    // Control: the prompt is still there for the real token.
    store(&fx, GET_BITBUCKET, &api_token("a"));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("a")));
    store(&fx, GET_BITBUCKET, "");
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("a")));
}

#[test]
fn a_token_typed_where_the_host_token_was_refused_goes_to_the_workspace() {
    let (fx, host) = refused_in("beta/r.git");
    let typed = api_token("beta");
    fx.typed(&at("beta/r.git"), &typed);
    assert_eq!(fx.stored("bitbucket.org/beta"), Some(typed.clone()));
    assert_eq!(
        fx.stored("bitbucket.org"),
        Some(host.clone()),
        "kept for the rest"
    );
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("beta/r.git"))).1,
        Some(typed)
    );
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("acme/app.git"))).1,
        Some(host)
    );
}
