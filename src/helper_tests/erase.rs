//! `erase`: a 401 deletes only a token Bitbucket refuses again where it had worked; an erase
//! without a password forgets what matches, unless it names another helper's credential.
//! Each refusal to delete sits beside a deletion (revocation still erases).

use super::*;

fn at(path: &str) -> String {
    format!("{GET_BITBUCKET}path={path}\n")
}

fn erase(fx: &Fixture, request: &str, secret: &str) -> Outcome {
    fx.run(Operation::Erase, &format!("{request}password={secret}\n"))
}

#[test]
fn erase_removes_only_an_entry_holding_the_rejected_token() {
    let fx = Fixture::new();
    fx.typed(GET_BITBUCKET, &api_token("current"));
    let outcome = erase(&fx, GET_BITBUCKET, &api_token("rotated-away"));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("current")));
    assert!(outcome.notes.is_empty());
    let outcome = erase(&fx, GET_BITBUCKET, &api_token("current"));
    assert_eq!(fx.stored("bitbucket.org"), None);
    let notes = outcome.notes.join("\n");
    assert!(notes.contains("rejected") && notes.contains("removed") && notes.contains("scope"));
    assert!(!notes.contains(&api_token("current")));
}

#[test]
fn a_401_where_the_token_still_works_elsewhere_keeps_it_and_only_that_repository_prompts() {
    let fx = Fixture::new();
    let token = api_token("host");
    fx.typed(&at("acme/app.git"), &token);
    *fx.recheck_answer.borrow_mut() = Recheck::Accepted;
    let outcome = erase(&fx, &at("acme/restricted.git"), &token);
    assert_eq!(
        *fx.rechecks.borrow(),
        ["https://bitbucket.org/acme/app.git"],
        "asked where it had worked"
    );
    assert_first_note(&outcome, "still opens");
    assert_eq!(fx.stored("bitbucket.org"), Some(token.clone()));
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("acme/restricted.git"))).1,
        None
    );
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("acme/app.git"))).1,
        Some(token.clone()),
        "control: still given in the same workspace, where it works"
    );
    // Revoked after all: the next refusal is confirmed there, and the token goes.
    *fx.recheck_answer.borrow_mut() = Recheck::Rejected;
    let outcome = erase(&fx, &at("acme/other.git"), &token);
    assert_first_note(&outcome, "removed from the");
    assert_eq!(fx.stored("bitbucket.org"), None);
}

#[test]
fn a_401_that_cannot_be_confirmed_keeps_the_token() {
    let fx = Fixture::new();
    let token = api_token("host");
    fx.typed(&at("acme/app.git"), &token);
    *fx.recheck_answer.borrow_mut() = Recheck::Unknown("no network".into());
    let outcome = erase(&fx, &at("acme/app.git"), &api_token("other")); // not ours: no question
    assert!(fx.rechecks.borrow().is_empty() && outcome.notes.is_empty());
    // git stores after the token works in lib too (no prompt: it was handed out).
    fx.run(
        Operation::Store,
        &format!("{}password={token}\n", at("acme/lib.git")),
    );
    let outcome = erase(&fx, &at("acme/app.git"), &token);
    assert_eq!(
        *fx.rechecks.borrow(),
        ["https://bitbucket.org/acme/lib.git"],
        "asked where else it worked"
    );
    assert_first_note(&outcome, "no network");
    assert_eq!(fx.stored("bitbucket.org"), Some(token));
}

#[test]
fn a_401_where_the_token_only_ever_worked_removes_it_without_asking_again() {
    let fx = Fixture::new();
    let token = api_token("host");
    fx.typed(&at("ws/repo.git"), &token);
    let outcome = erase(&fx, &at("ws/repo.git"), &token);
    assert!(fx.rechecks.borrow().is_empty());
    let notes = outcome.notes.join(" ");
    assert!(
        notes.contains("had worked") && notes.contains("removed from the"),
        "{notes}"
    );
    assert_eq!(fx.stored("bitbucket.org"), None);
}

#[test]
fn a_401_where_the_token_never_worked_keeps_it_and_the_workspace_prompts() {
    let fx = Fixture::new();
    let (host, other) = (api_token("host"), api_token("other-account"));
    fx.put("bitbucket.org", &host);
    let outcome = erase(&fx, &at("beta/r.git"), &host);
    assert_first_note(&outcome, "never worked");
    assert!(fx.rechecks.borrow().is_empty(), "nowhere to ask");
    assert_eq!(fx.stored("bitbucket.org"), Some(host.clone()));
    // The prompted token becomes beta's entry; the host's stays for the rest.
    fx.typed(&at("beta/r.git"), &other);
    assert_eq!(fx.stored("bitbucket.org/beta"), Some(other.clone()));
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("beta/r.git"))).1,
        Some(other)
    );
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("acme/r.git"))).1,
        Some(host)
    );
}

#[test]
fn a_workspace_token_refused_in_one_repository_falls_back_to_the_host_token_there() {
    let fx = Fixture::new();
    let (host, workspace) = (api_token("host"), api_token("acme"));
    fx.typed(&at("acme/app.git"), &host);
    fx.put("bitbucket.org/acme", &workspace);
    fx.run(
        Operation::Store,
        &format!("{}password={workspace}\n", at("acme/lib.git")),
    );
    *fx.recheck_answer.borrow_mut() = Recheck::Accepted;
    erase(&fx, &at("acme/app.git"), &workspace);
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("acme/app.git"))).1,
        Some(host)
    );
    assert_eq!(
        answer(&fx.run(Operation::Get, &at("acme/lib.git"))).1,
        Some(workspace),
        "control: the workspace token where it works"
    );
}

#[test]
fn an_odd_or_dotted_path_never_deletes_and_asks_nothing() {
    let fx = Fixture::new();
    let token = api_token("host");
    fx.typed(&at("acme/app.git"), &token);
    *fx.recheck_answer.borrow_mut() = Recheck::Rejected;
    for odd in [
        "a~b/c.git",
        "+",
        "!/x",
        "{a}/b",
        "bob/%2e%2e/alice/repo.git",
        &"x".repeat(129),
    ] {
        let outcome = erase(&fx, &at(odd), &token);
        assert!(
            outcome.notes[0].contains("nothing was removed"),
            "{odd}: {:?}",
            outcome.notes
        );
        assert_eq!(fx.stored("bitbucket.org"), Some(token.clone()), "{odd}");
    }
    assert!(fx.rechecks.borrow().is_empty());
    // Control: the same 401 for a repository is confirmed, and the token goes.
    erase(&fx, &at("acme/other.git"), &token);
    assert_eq!(fx.stored("bitbucket.org"), None);
}

#[test]
fn a_path_with_dot_segments_gets_the_host_token_not_the_first_segments() {
    let fx = Fixture::new();
    fx.put("bitbucket.org/bob", &api_token("bob"));
    fx.put("bitbucket.org", &api_token("host"));
    let get = |path: &str| answer(&fx.run(Operation::Get, &at(path))).1;
    assert_eq!(get("bob/%2e%2e/alice/repo.git"), Some(api_token("host")));
    assert_eq!(get("bob/repo.git"), Some(api_token("bob")), "control");
}

#[test]
fn a_mistyped_or_truncated_token_is_named_so_when_rejected() {
    let fx = Fixture::new();
    let whole = api_token("whole");
    for (secret, says) in [
        (&whole[..whole.len() - 2], "truncated"),
        (&whole[1..], "not an API token"),
    ] {
        let outcome = erase(&fx, GET_BITBUCKET, secret);
        let notes = outcome.notes.join(" ");
        assert!(notes.contains(says) && !notes.contains(secret), "{notes}");
    }
    let outcome = erase(&fx, GET_BITBUCKET, &whole);
    assert!(
        outcome.notes.is_empty(),
        "control: a whole token is not called truncated"
    );
}

#[test]
fn erase_of_the_environment_token_says_so_and_keeps_the_store() {
    let fx = Fixture::new();
    let ci = api_token("ci");
    fx.put("bitbucket.org", &ci);
    let outcome = fx.run_with_env(
        Operation::Erase,
        &format!("{GET_BITBUCKET}password={ci}\n"),
        Some(&ci),
    );
    assert_first_note(&outcome, "BITBUCKET_API_TOKEN");
    assert_eq!(fx.stored("bitbucket.org"), Some(ci));
}

#[test]
fn an_erase_without_a_password_forgets_the_host_and_its_workspaces() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("host"));
    fx.put("bitbucket.org/acme", &api_token("acme"));
    fx.put("127.0.0.1:8080", &api_token("other-host"));
    let outcome = fx.run(Operation::Erase, GET_BITBUCKET);
    let notes = outcome.notes.join(" ");
    assert!(
        notes.contains("removed") && notes.contains("workspace acme"),
        "{notes}"
    );
    assert_eq!(fx.stored("bitbucket.org"), None);
    assert_eq!(fx.stored("bitbucket.org/acme"), None);
    assert_eq!(
        fx.stored("127.0.0.1:8080"),
        Some(api_token("other-host")),
        "another host"
    );
    assert_eq!(fx.facts("bitbucket.org/acme"), None);
}

#[test]
fn an_erase_without_a_password_and_with_a_path_forgets_that_workspace_only() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("host"));
    fx.put("bitbucket.org/acme", &api_token("acme"));
    fx.put("bitbucket.org/beta", &api_token("beta"));
    let outcome = fx.run(Operation::Erase, &at("acme/r.git"));
    assert_first_note(&outcome, "workspace acme");
    assert_eq!(fx.stored("bitbucket.org/acme"), None);
    assert_eq!(fx.stored("bitbucket.org/beta"), Some(api_token("beta")));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("host")));
    let outcome = fx.run(Operation::Erase, &at("bob/%2e%2e/acme/r.git"));
    assert_first_note(&outcome, "nothing was forgotten");
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("host")));
}

#[test]
fn an_erase_naming_another_credential_or_an_empty_password_keeps_everything() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("host"));
    fx.put("bitbucket.org/acme", &api_token("acme"));
    for extra in [
        "capability[]=authtype\nauthtype=Bearer\ncredential=other\n",
        "credential=other\n",
        "password=\n",
    ] {
        let outcome = fx.run(Operation::Erase, &format!("{GET_BITBUCKET}{extra}"));
        assert!(outcome.notes.is_empty(), "{extra}: {:?}", outcome.notes);
    }
    assert_eq!(fx.stored("bitbucket.org/acme"), Some(api_token("acme")));
    assert_eq!(fx.stored("bitbucket.org"), Some(api_token("host")));
    // Control: the same erase without the other credential forgets them.
    fx.run(
        Operation::Erase,
        "capability[]=authtype\nprotocol=https\nhost=bitbucket.org\n",
    );
    assert_eq!(fx.stored("bitbucket.org"), None);
}
