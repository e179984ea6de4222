//! `store`: where a token typed at git's prompt is saved, what is never saved (refused
//! kinds, the CI token), and that storing the token already held writes nothing.

use super::*;

#[test]
fn store_saves_the_typed_token_and_get_then_returns_it() {
    let fx = Fixture::new();
    let outcome = fx.typed(
        &format!("{GET_BITBUCKET}username=whoever\n"),
        &api_token("a"),
    );
    assert!(
        outcome.response.is_none() && outcome.notes.is_empty(),
        "{:?}",
        outcome.notes
    );
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("a")));
    assert_eq!(
        answer(&fx.run(Operation::Get, GET_BITBUCKET)).1,
        Some(api_token("a"))
    );
}

/// Each refusal is for the token's kind: it follows a `get` that opened git's prompt window
/// (the stored token has expired, so none is handed out), where an API token typed at that
/// same prompt is saved (the control, after each refusal).
#[test]
fn store_refuses_app_passwords_and_keeps_the_stored_api_token() {
    for (refused, why) in [
        ("ATBB0123456789abcdefABCDEF012345", "app password"),
        ("ATCTT3xFfGF0abc", "access token"),
        ("BBDC-abc", "Data Center"),
    ] {
        let fx = Fixture::new();
        fx.put("bitbucket.org", &api_token("good"));
        fx.expire_in(&api_token("good"), -1);
        // git's prompt: get hands out nothing, and notes the prompt.
        let get = fx.run(Operation::Get, GET_BITBUCKET);
        assert_eq!(answer(&get).1, None, "{refused}: the prompt window opens");
        let outcome = fx.run(
            Operation::Store,
            &format!("{GET_BITBUCKET}password={refused}\n"),
        );
        assert_eq!(
            fx.stored("bitbucket.org"),
            Some(api_token("good")),
            "{refused}"
        );
        let notes = outcome.notes.join("\n");
        assert!(
            notes.contains("not stored") && !notes.contains(refused),
            "{notes}"
        );
        assert_first_note(&outcome, why);
        assert!(!notes.contains("no password prompt"), "{notes}");
        // Control: an API token typed at that same prompt is saved.
        let outcome = fx.run(
            Operation::Store,
            &format!("{GET_BITBUCKET}password={}\n", api_token("typed")),
        );
        assert_eq!(
            fx.stored("bitbucket.org"),
            Some(api_token("typed")),
            "{refused}: {:?}",
            outcome.notes
        );
    }
}

#[test]
fn store_from_a_url_with_embedded_app_password_is_refused_even_after_a_prompt() {
    let fx = Fixture::new();
    fx.run(Operation::Get, "url=https://bitbucket.org/ws/r.git\n");
    let input = "url=https://me:ATBB0123456789abcdefABCDEF012345@bitbucket.org/ws/r.git\n";
    let outcome = fx.run(Operation::Store, input);
    assert_eq!(fx.stored("bitbucket.org"), None);
    assert_first_note(&outcome, "app password");
    // Control: the token typed at that prompt is saved.
    let url = format!(
        "url=https://me:{}@bitbucket.org/ws/r.git\n",
        api_token("url")
    );
    fx.run(Operation::Store, &url);
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("url")));
}

#[test]
fn store_never_writes_the_environment_token() {
    let fx = Fixture::new();
    let ci = api_token("ci");
    fx.run_with_env(
        Operation::Store,
        &format!("{GET_BITBUCKET}password={ci}\n"),
        Some(&ci),
    );
    assert_eq!(fx.stored("bitbucket.org"), None);
    assert_eq!(fx.opened.get(), 0);
}

#[test]
fn store_updates_an_existing_workspace_entry_and_otherwise_the_host_entry() {
    let fx = Fixture::new();
    fx.put("bitbucket.org/acme", &api_token("old"));
    fx.expire_in_entry(&fx_key("bitbucket.org/acme"), &api_token("old"), -1);
    let store =
        |path: &str, tag: &str| fx.typed(&format!("{GET_BITBUCKET}path={path}\n"), &api_token(tag));
    store("acme/r.git", "new");
    assert_eq!(fx.stored("bitbucket.org/acme"), Some(api_token("new")));
    assert_eq!(fx.stored("bitbucket.org"), None);
    store("other/r.git", "host");
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("host")));
    assert_eq!(fx.stored("bitbucket.org/other"), None);
}

#[test]
fn storing_the_same_token_again_writes_nothing() {
    let fx = Fixture::new();
    let input = format!("{GET_BITBUCKET}password={}\n", api_token("a"));
    fx.typed(GET_BITBUCKET, &api_token("a"));
    let writes_before = fx.store.keychain().writes();
    assert_eq!(writes_before, 1);
    // git stores after every success, with no prompt before: the same token is no news.
    let outcome = fx.run(Operation::Store, &input);
    assert!(outcome.notes.is_empty());
    assert_eq!(fx.store.keychain().writes(), writes_before);
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("a")));
}

#[test]
fn store_records_when_a_new_token_was_saved_and_erase_forgets_it() {
    let fx = Fixture::new();
    fx.typed(GET_BITBUCKET, &api_token("a"));
    let facts = fx.store.open().facts(&host_key()).unwrap();
    assert_eq!((facts.kind.as_str(), facts.expires_at), ("api-token", None));
    assert!(facts.describes(&Token::new(api_token("a"))));
    assert_eq!(facts.worked, ["*"]);
    fx.run(
        Operation::Erase,
        &format!("{GET_BITBUCKET}password={}\n", api_token("a")),
    );
    assert_eq!(fx.store.open().facts(&host_key()), None);
}
