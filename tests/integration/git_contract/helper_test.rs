//! The cases of git's `helper_test` (t/lib-credential.sh, git 2.47), in its order, plus our
//! case for an approve that no prompt preceded. Each says what git expects and, where this
//! helper's rules change it, how and why.

use super::{PLAIN, USE_HTTP_PATH, fill_gives, helper_says, username};
use crate::support::git_credential::GitCredential;

type Outcome = Result<(), String>;

const EXAMPLE: [&str; 2] = ["protocol=https", "host=example.com"];

/// git: a fill with nothing stored prompts for a username and a password.
/// Adapted: our `get` answers the fixed username, so git asks only for the password; the person
/// types a well-formed token (`store-pass`), which the next case approves.
pub(super) fn has_no_existing_data(git: &mut GitCredential) -> Outcome {
    let typed = git.token("store-pass");
    fill_gives(git, PLAIN, &EXAMPLE, &typed, true)
}

/// git: approve `store-user`/`store-pass`.
/// Adapted: the token approved is the one typed at the previous case's prompt (a store keeps
/// only a token git got from a person); the username git reports does not matter.
pub(super) fn stores_password(git: &mut GitCredential) -> Outcome {
    let token = git.token("store-pass");
    approve(git, &EXAMPLE, "store-user", &token)
}

/// git: a fill gives back `store-user`/`store-pass` without a prompt.
/// Adapted: with the fixed username.
pub(super) fn can_retrieve_password(git: &mut GitCredential) -> Outcome {
    let token = git.token("store-pass");
    fill_gives(git, PLAIN, &EXAMPLE, &token, false)
}

/// Ours, not git's: a password git did not get from a person (from a URL, another helper, or a
/// plain `git credential approve` as here) never creates an entry, and the helper says so. The
/// positive control beside it: the token typed at the prompt that follows is kept.
pub(super) fn approve_without_a_prompt_stores_nothing(git: &mut GitCredential) -> Outcome {
    let from_a_url = git.token("unprompted.tld/from-a-url");
    let typed = git.token("unprompted.tld/typed");
    let host = ["protocol=https", "host=unprompted.tld"];
    let approved = git.run(PLAIN, "approve", &with(&host, "", &from_a_url), None)?;
    fill_gives(git, PLAIN, &host, &typed, true)?; // nothing was stored: git prompts
    says_not_saved(git, &approved.out)?;
    approve(git, &host, "", &typed)?;
    fill_gives(git, PLAIN, &host, &typed, false)
}

/// git: a fill for `http://example.com` does not get the https password; git prompts.
/// Adapted: this helper refuses to let a token go over plain http to a host that is not
/// loopback: its `get` answers `quit=1`, so git stops (no prompt, no output), and the helper
/// says why.
pub(super) fn requires_matching_protocol(git: &mut GitCredential) -> Outcome {
    let step = git.run(PLAIN, "fill", &["protocol=http", "host=example.com"], None)?;
    if step.out.success() || !step.out.stdout.is_empty() || !step.prompts.is_empty() {
        return Err(git.redact(&format!(
            "git should stop without a prompt; it ran {:?} with prompts {:?}",
            step.out, step.prompts
        )));
    }
    helper_says(git, &step.out, "that it refuses plain http", |text| {
        text.contains("plain http")
    })
}

/// git: a fill for another host prompts for both. Unchanged: `other.tld` is not served, so
/// this helper says nothing and git asks the person, exactly as in git's case.
pub(super) fn requires_matching_host(git: &mut GitCredential) -> Outcome {
    git.fill(
        PLAIN,
        &["protocol=https", "host=other.tld"],
        None,
        &[
            "protocol=https",
            "host=other.tld",
            "username=askpass-username",
            "password=askpass-password",
        ],
        &[
            "askpass: Username for 'https://other.tld':",
            "askpass: Password for 'https://askpass-username@other.tld':",
        ],
    )?;
    Ok(())
}

/// git: a fill naming user `other` prompts for other's password.
/// Adapted (the fixed username): Bitbucket takes an API token only with
/// `x-bitbucket-api-token-auth`, and `get` replaces any username with it, so the host's token
/// comes back without a prompt.
pub(super) fn requires_matching_username(git: &mut GitCredential) -> Outcome {
    let token = git.token("store-pass");
    let input = ["protocol=https", "host=example.com", "username=other"];
    fill_gives(git, PLAIN, &input, &token, false)
}

/// git: with `credential.useHttpPath`, a password approved for `http://path.tld/foo.git` is not
/// given for `bar.git`.
/// Adapted: https (plain http is refused); Bitbucket paths are `WORKSPACE/REPO`, and this
/// helper keys tokens by host and by workspace, not by path: a host token serves every path. A
/// workspace's own token is saved with `login --workspace` (an approve saves to the entry `get`
/// reads, the host's). That token is given for its workspace (positive control) and not for
/// another, where git prompts.
pub(super) fn requires_matching_path(git: &mut GitCredential) -> Outcome {
    let foo_token = git.token("path.tld/foo:pass");
    let typed = git.token("path.tld/bar:typed");
    login(git, "path.tld", &["--workspace", "foo"], &foo_token)?;
    let foo_repo = ["protocol=https", "host=path.tld", "path=foo/repo.git"];
    let bar_repo = ["protocol=https", "host=path.tld", "path=bar/repo.git"];
    fill_gives(git, USE_HTTP_PATH, &foo_repo, &foo_token, false)?;
    fill_gives(git, USE_HTTP_PATH, &bar_repo, &typed, true)
}

/// git: approve `pass1` then `pass2` for one user; fill gives `pass2`; reject `pass2`; fill
/// prompts.
/// Adapted: `example.com`'s one entry holds `store-pass`. An approve of `pass2` that no prompt
/// preceded (the last `get` for this entry handed out a token) must not replace it (as in our
/// case above). A person replaces a token the way git does after a 401: the old one is
/// rejected, the new one typed at the prompt and approved; then git's last steps.
pub(super) fn overwrites_on_store(git: &mut GitCredential) -> Outcome {
    let old = git.token("store-pass");
    let new = git.token("user-overwrite/pass2");
    let typed = git.token("user-overwrite/typed");
    let user = "user-overwrite";
    let input = [
        "protocol=https",
        "host=example.com",
        "username=user-overwrite",
    ];
    let unprompted = git.run(PLAIN, "approve", &with(&EXAMPLE, user, &new), None)?;
    fill_gives(git, PLAIN, &input, &old, false)?;
    says_not_saved(git, &unprompted.out)?;
    git.reject(PLAIN, &with(&EXAMPLE, user, &old))?;
    fill_gives(git, PLAIN, &input, &new, true)?;
    approve(git, &EXAMPLE, user, &new)?;
    fill_gives(git, PLAIN, &input, &new, false)?;
    git.reject(PLAIN, &with(&EXAMPLE, user, &new))?;
    fill_gives(git, PLAIN, &input, &typed, true)
}

/// git: reject with only protocol and host; fill prompts.
/// Adapted: with one username, the previous case left `example.com` empty (git still held
/// `store-user`'s password), so a person first stores a token (prompt, approve) and a fill
/// shows it; then git's steps. The helper says what it removed.
pub(super) fn can_forget_host(git: &mut GitCredential) -> Outcome {
    let token = git.token("example.com/before-forget");
    let typed = git.token("example.com/after-forget");
    fill_gives(git, PLAIN, &EXAMPLE, &token, true)?;
    approve(git, &EXAMPLE, "", &token)?;
    fill_gives(git, PLAIN, &EXAMPLE, &token, false)?;
    let rejected = git.reject(PLAIN, &EXAMPLE)?;
    fill_gives(git, PLAIN, &EXAMPLE, &typed, true)?;
    says_removed(git, &rejected.out, "example.com")
}

/// git: approve `user1`/`pass1` and `user2`/`pass2` on one host; fill gives each its own.
/// Adapted (the fixed username): two tokens on one host are two workspaces' tokens, saved with
/// `login --workspace` (named `user1` and `user2`), each given for its own workspace's paths.
pub(super) fn can_store_multiple_users(git: &mut GitCredential) -> Outcome {
    for user in ["user1", "user2"] {
        let token = git.token(&format!("{user}/pass"));
        login(git, "example.com", &["--workspace", user], &token)?;
    }
    for user in ["user1", "user2"] {
        let token = git.token(&format!("{user}/pass"));
        fill_gives(git, USE_HTTP_PATH, &in_workspace(user), &token, false)?;
    }
    Ok(())
}

/// git: approve `pass1`; reject with `pass2`; fill still gives `pass1`.
/// Adapted: users are workspaces (as above); both passwords are well-formed tokens.
pub(super) fn does_not_erase_a_password_distinct_from_input(git: &mut GitCredential) -> Outcome {
    let kept = git.token("user-distinct-pass/pass1");
    let other = git.token("user-distinct-pass/pass2");
    let user = "user-distinct-pass";
    login(git, "example.com", &["--workspace", user], &kept)?;
    git.reject(USE_HTTP_PATH, &with(&in_workspace(user), user, &other))?;
    fill_gives(git, USE_HTTP_PATH, &in_workspace(user), &kept, false)
}

/// git: reject `user1` without a password; fill for `user1` prompts.
/// Adapted: users are workspaces; a reject without a password whose path names a workspace
/// forgets that workspace's entry and says so. The host has no token of its own here, so git
/// prompts, as in git's case.
pub(super) fn can_forget_user(git: &mut GitCredential) -> Outcome {
    let typed = git.token("user1/typed");
    let mut input = in_workspace("user1").to_vec();
    input.push("username=user1".to_owned());
    let rejected = git.reject(USE_HTTP_PATH, &input)?;
    fill_gives(git, USE_HTTP_PATH, &in_workspace("user1"), &typed, true)?;
    says_removed(git, &rejected.out, "user1")
}

/// git: `user2` is still given. Adapted: users are workspaces.
pub(super) fn remembers_other_user(git: &mut GitCredential) -> Outcome {
    let token = git.token("user2/pass");
    fill_gives(git, USE_HTTP_PATH, &in_workspace("user2"), &token, false)
}

/// git: approve an empty username and password for `sso.tld`; fill gives them back.
/// Adapted: Bitbucket needs a token, so a `store` with an empty password is refused, with a
/// sentence on stderr; the fill then prompts for the token.
pub(super) fn can_store_empty_username(git: &mut GitCredential) -> Outcome {
    let typed = git.token("sso.tld/typed");
    let host = ["protocol=https", "host=sso.tld"];
    let approved = git.approve(PLAIN, &with(&host, "", ""))?;
    fill_gives(git, PLAIN, &host, &typed, true)?;
    helper_says(
        git,
        &approved.out,
        "that an empty password is not stored",
        |text| text.contains("empty"),
    )
}

/// git: approve `user-erase1` and `user-erase2` with the same password; reject with only the
/// host; fill prompts.
/// Adapted: users are workspaces (`login --workspace`, both with one token), and the host has a
/// token too (prompt, approve). A reject naming only the host forgets the host's entry and all
/// its workspace entries (also `user2` and `user-distinct-pass`, left by earlier cases), and
/// says so; `status` then lists nothing for `example.com`.
pub(super) fn erases_all_matching_credentials(git: &mut GitCredential) -> Outcome {
    let shared = git.token("user-erase/pass1");
    let host_token = git.token("example.com/erase");
    let typed = git.token("example.com/after-erase");
    for user in ["user-erase1", "user-erase2"] {
        login(git, "example.com", &["--workspace", user], &shared)?;
    }
    fill_gives(git, PLAIN, &EXAMPLE, &host_token, true)?;
    approve(git, &EXAMPLE, "", &host_token)?;
    let rejected = git.reject(PLAIN, &EXAMPLE)?;
    fill_gives(git, PLAIN, &EXAMPLE, &typed, true)?;
    let status = git.status();
    let left: Vec<&str> = status
        .stdout
        .lines()
        .filter(|l| l.starts_with("example.com "))
        .collect();
    if !left.is_empty() {
        return Err(format!("entries of example.com are left: {left:?}"));
    }
    says_removed(git, &rejected.out, "example.com")
}

/// git: approve a password for `victim.example.com`; a fill for `badguy.example.com` whose
/// `wwwauth[]` header (1001 characters of realm) ends in `host=victim.example.com` prompts,
/// and the victim's password appears nowhere. Unchanged but for how the victim's token got
/// there (prompt, approve): `badguy.example.com` is not served.
pub(super) fn not_confused_by_long_header(git: &mut GitCredential) -> Outcome {
    let victim = git.token("victim/to-be-stolen");
    let host = ["protocol=https", "host=victim.example.com"];
    fill_gives(git, PLAIN, &host, &victim, true)?;
    approve(git, &host, "user", &victim)?;
    // git: GIT_TEST_LONG_CRED_BUFFER (1024) less 23 bytes for "wwwauth[]=basic realm=" and NUL.
    let header = format!(
        "wwwauth[]=basic realm={}host=victim.example.com",
        "a".repeat(1024 - 23)
    );
    git.fill(
        PLAIN,
        &["protocol=https", "host=badguy.example.com", &header],
        None,
        &[
            "protocol=https",
            "host=badguy.example.com",
            "username=askpass-username",
            "password=askpass-password",
            &header,
        ],
        &[
            "askpass: Username for 'https://badguy.example.com':",
            "askpass: Password for 'https://askpass-username@badguy.example.com':",
        ],
    )?;
    Ok(())
}

/// `request` plus `username=USER` (our own username when `user` is empty) and
/// `password=PASSWORD`.
fn with(request: &[impl AsRef<str>], user: &str, password: &str) -> Vec<String> {
    let user = if user.is_empty() {
        username()
    } else {
        format!("username={user}")
    };
    let mut input: Vec<String> = request.iter().map(|l| l.as_ref().to_owned()).collect();
    input.extend([user, format!("password={password}")]);
    input
}

/// `git credential approve` of `request` with `user` and `password` (see [`with`]).
fn approve(git: &GitCredential, request: &[&str], user: &str, password: &str) -> Outcome {
    git.approve(PLAIN, &with(request, user, password))?;
    Ok(())
}

/// A request for `https://example.com/WORKSPACE/repo.git`.
fn in_workspace(workspace: &str) -> [String; 3] {
    [
        "protocol=https".to_owned(),
        "host=example.com".to_owned(),
        format!("path={workspace}/repo.git"),
    ]
}

/// `login --stdin ARGS` with `token` on `host`, which must succeed.
fn login(git: &GitCredential, host: &str, args: &[&str], token: &str) -> Outcome {
    let mut all = vec!["login", "--stdin"];
    all.extend_from_slice(args);
    let out = git.command(host, &all, token)?;
    if out.success() {
        Ok(())
    } else {
        Err(git.redact(&format!("login {args:?} on {host} failed: {out:?}")))
    }
}

fn says_not_saved(git: &GitCredential, out: &crate::support::Output) -> Outcome {
    helper_says(git, out, "that the token was not saved", |text| {
        text.contains("not saved") || text.contains("not stored")
    })
}

fn says_removed(git: &GitCredential, out: &crate::support::Output, what: &str) -> Outcome {
    helper_says(git, out, &format!("what it removed ({what})"), |text| {
        text.contains("removed") && text.contains(what)
    })
}
