//! The cases of git's `helper_test_password_expiry_utc` and `helper_test_oauth_refresh_token`
//! (t/lib-credential.sh, git 2.47), two of `helper_test_authtype` (which t0303 does not run),
//! our case for an erase that names another helper's credential, and t0303's check that the
//! final `helper_test_clean` leaves nothing. Each says what git expects and, where this
//! helper's rules change it, how and why.

use super::{PLAIN, fill_gives, helper_says, password_prompt, username};
use crate::support::git_credential::GitCredential;

type Outcome = Result<(), String>;

const EXAMPLE: [&str; 2] = ["protocol=https", "host=example.com"];

/// The day git's `password_expiry_utc=9999999999` falls on, for `expiry`/`login --expires`.
const EXPIRY_DATE: &str = "2286-11-20";
/// That day's midnight (UTC): the expiry this helper records for [`EXPIRY_DATE`].
const EXPIRY_SECONDS: u64 = 9_999_936_000;
/// The day before (git's `9999999998` is one second before its `9999999999`).
const EARLIER_DATE: &str = "2286-11-19";

/// git: approve a password with `password_expiry_utc=9999999999`.
/// Adapted: the token approved is typed at a prompt first. Bitbucket never tells git when a
/// token expires, so this helper records the expiry a person gives (`login --expires`, or
/// `expiry DATE` for the stored token): the date git's value falls on is recorded that way.
pub(super) fn stores_password_expiry_utc(git: &mut GitCredential) -> Outcome {
    let token = git.token("user-expiry/pass");
    fill_gives(git, PLAIN, &EXAMPLE, &token, true)?;
    approve_with(git, "user-expiry", &token, "password_expiry_utc=9999999999")?;
    let recorded = git.command("example.com", &["expiry", EXPIRY_DATE], "")?;
    if !recorded.success() {
        return Err(git.redact(&format!("expiry {EXPIRY_DATE} failed: {recorded:?}")));
    }
    Ok(())
}

/// git: the fill gives the password with `password_expiry_utc=9999999999`.
/// Adapted: with the fixed username, and the recorded day's midnight (UTC).
pub(super) fn gets_password_expiry_utc(git: &mut GitCredential) -> Outcome {
    let token = git.token("user-expiry/pass");
    git.fill(
        PLAIN,
        &["protocol=https", "host=example.com", "username=user-expiry"],
        None,
        &[
            "protocol=https",
            "host=example.com",
            &username(),
            &format!("password={token}"),
            &format!("password_expiry_utc={EXPIRY_SECONDS}"),
        ],
        &[],
    )?;
    Ok(())
}

/// git: approve `pass1` (expiring 9999999998) then `pass2` (9999999999); fill gives `pass2`
/// with its expiry; reject `pass2`; fill prompts.
/// Adapted: a person gives both tokens and their expiry dates with `login --expires` (an
/// approve that no prompt preceded keeps nothing, and git has no expiry to give); then git's
/// steps. Rejected, a token stops being given here, whether it is removed or, having never
/// worked here, kept and marked refused; either way git prompts.
pub(super) fn overwrites_when_password_expiry_utc_changes(git: &mut GitCredential) -> Outcome {
    let first = git.token("user-expiry-overwrite/pass1");
    let second = git.token("user-expiry-overwrite/pass2");
    let typed = git.token("user-expiry-overwrite/typed");
    for (token, date) in [(&first, EARLIER_DATE), (&second, EXPIRY_DATE)] {
        let login = git.command(
            "example.com",
            &["login", "--stdin", "--expires", date],
            token,
        )?;
        if !login.success() {
            return Err(git.redact(&format!("login --expires {date} failed: {login:?}")));
        }
    }
    let user = [
        "protocol=https",
        "host=example.com",
        "username=user-expiry-overwrite",
    ];
    git.fill(
        PLAIN,
        &user,
        None,
        &[
            "protocol=https",
            "host=example.com",
            &username(),
            &format!("password={second}"),
            &format!("password_expiry_utc={EXPIRY_SECONDS}"),
        ],
        &[],
    )?;
    git.reject(
        PLAIN,
        &[
            "protocol=https",
            "host=example.com",
            "username=user-expiry-overwrite",
            &format!("password={second}"),
        ],
    )?;
    fill_gives(git, PLAIN, &user, &typed, true)
}

/// git: approve a password with `oauth_refresh_token=xyzzy`.
/// Adapted: the token is typed at the prompt first (the previous case ended with one).
pub(super) fn stores_oauth_refresh_token(git: &mut GitCredential) -> Outcome {
    let token = git.token("user4/pass");
    fill_gives(git, PLAIN, &EXAMPLE, &token, true)?;
    approve_with(git, "user4", &token, "oauth_refresh_token=xyzzy")
}

/// git: the fill gives the password and `oauth_refresh_token=xyzzy`.
/// Adapted (not applicable in part): a Bitbucket API token has no refresh token, and this
/// helper keeps nothing but the token, so the fill gives the token and no
/// `oauth_refresh_token`.
pub(super) fn gets_oauth_refresh_token(git: &mut GitCredential) -> Outcome {
    let token = git.token("user4/pass");
    let input = ["protocol=https", "host=example.com", "username=user4"];
    fill_gives(git, PLAIN, &input, &token, false)
}

/// git (`helper_test_authtype`, run by t0301 for `cache`, not by t0303): approve a `Bearer`
/// credential (`authtype`, `credential`, no username or password).
/// Adapted: Bitbucket takes no such credential from this helper; nothing is stored (the next
/// case shows it).
pub(super) fn stores_authtype_and_credential(git: &mut GitCredential) -> Outcome {
    git.approve(
        PLAIN,
        &[
            "capability[]=authtype",
            "authtype=Bearer",
            "credential=random-token",
            "protocol=https",
            "host=git.example.com",
        ],
    )?;
    Ok(())
}

/// git: a fill announcing `capability[]=authtype` gets the `Bearer` credential back.
/// Adapted: this helper never answers `authtype`/`credential`; its `get` gives the username and
/// git prompts for the token. (git's other authtype cases — with a username, a different
/// username, `ephemeral` — collapse into these two with one username and no Bearer
/// credential.)
pub(super) fn gets_authtype_and_credential(git: &mut GitCredential) -> Outcome {
    git.fill(
        PLAIN,
        &[
            "capability[]=authtype",
            "protocol=https",
            "host=git.example.com",
        ],
        None,
        &[
            "protocol=https",
            "host=git.example.com",
            &username(),
            "password=askpass-password",
        ],
        &[&password_prompt("git.example.com")],
    )?;
    Ok(())
}

/// Ours, not git's: git 2.46+ rejecting another helper's credential sends `erase` with
/// `capability[]=authtype`, `authtype`, `credential` and no password. That names a credential
/// that is not ours: everything is kept. Positive control beside it: the same request without
/// the other credential forgets the host's token.
pub(super) fn an_erase_naming_another_credential_keeps_everything(
    git: &mut GitCredential,
) -> Outcome {
    let token = git.token("user4/pass");
    let typed = git.token("example.com/after-control");
    let mut another = vec![
        "capability[]=authtype",
        "authtype=Bearer",
        "credential=random-token",
    ];
    another.extend(EXAMPLE);
    let rejected = git.reject(PLAIN, &another)?;
    fill_gives(git, PLAIN, &EXAMPLE, &token, false)?;
    helper_says(git, &rejected.out, "nothing about removing", |text| {
        !text.contains("removed")
    })?;
    git.reject(PLAIN, &EXAMPLE)?;
    fill_gives(git, PLAIN, &EXAMPLE, &typed, true)
}

/// t0303 checks, for git's own `store` helper, that the final `helper_test_clean` leaves
/// nothing. Here: `status` over every served host lists no token.
pub(super) fn cleanup_removes_everything(git: &mut GitCredential) -> Outcome {
    let status = git.status();
    if status.stdout.contains("no tokens stored") {
        Ok(())
    } else {
        Err(git.redact(&format!("tokens are left: {status:?}")))
    }
}

/// `git credential approve` on example.com of `user`, `token` and one more line.
fn approve_with(git: &GitCredential, user: &str, token: &str, extra: &str) -> Outcome {
    let user = format!("username={user}");
    let password = format!("password={token}");
    let mut input = EXAMPLE.to_vec();
    input.extend([user.as_str(), password.as_str(), extra]);
    git.approve(PLAIN, &input)?;
    Ok(())
}
