//! Expiry: a recorded expiry goes to git as `password_expiry_utc`; an expired token is never
//! handed out (git prompts); a near expiry warns once a day; an expiry recorded for another
//! token means nothing.

use super::*;

const DAY: i64 = 86_400;

#[test]
fn a_known_expiry_is_sent_to_git_as_password_expiry_utc() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    fx.expire_in(&api_token("a"), 100 * DAY);
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    let response = outcome.response.unwrap();
    assert_eq!(response.password.unwrap().expose(), api_token("a"));
    assert_eq!(response.password_expiry_utc, Some(NOW + 100 * DAY as u64));
    assert!(outcome.notes.is_empty());
}

#[test]
fn an_expired_token_is_never_handed_out_and_git_prompts() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    fx.expire_in(&api_token("a"), -1);
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    assert_eq!(answer(&outcome), (Some(API_TOKEN_USERNAME.into()), None));
    assert_first_note(&outcome, "expired on");
    // positive control: one second earlier it was handed out
    fx.now.set(NOW - 2);
    assert_eq!(
        answer(&fx.run(Operation::Get, GET_BITBUCKET)).1,
        Some(api_token("a"))
    );
}

#[test]
fn a_near_expiry_warns_at_most_once_a_day() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("a"));
    fx.expire_in(&api_token("a"), 10 * DAY);
    let notes = |fx: &Fixture| fx.run(Operation::Get, GET_BITBUCKET).notes;
    assert!(notes(&fx)[0].contains("10 days left"));
    assert!(notes(&fx).is_empty(), "not twice the same day");
    fx.now.set(NOW + DAY as u64);
    assert!(notes(&fx)[0].contains("9 days left"));
}

#[test]
fn expiry_recorded_for_another_token_is_ignored() {
    let fx = Fixture::new();
    fx.put("bitbucket.org", &api_token("new"));
    fx.expire_in(&api_token("old"), -DAY);
    let outcome = fx.run(Operation::Get, GET_BITBUCKET);
    assert_eq!(answer(&outcome).1, Some(api_token("new")));
    assert_eq!(outcome.response.unwrap().password_expiry_utc, None);
}
