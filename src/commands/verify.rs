//! `login --verify URL`: ask Bitbucket, through git itself, whether a token opens a repository
//! before it is saved.
//!
//! git runs `ls-remote` with every configured helper cleared and this program as the only one,
//! in a mode that answers with the token read from an inherited pipe (`inherited_pipe`: a file
//! descriptor on Unix, a handle on Windows). The token is never in git's argv or environment,
//! nor on disk; the pipe is gone when git exits.

use anyhow::Context as _;

use crate::inherited_pipe::{self, TokenPipe};
use crate::policy::{Scope, ServedHosts};
use crate::protocol;
use crate::token::Token;

/// What Bitbucket said about the token.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected,
    MissingScope,
    AppPassword,
    Failed(String),
}

impl Verdict {
    /// A plain explanation and what to do.
    pub fn explain(&self, url: &str) -> String {
        match self {
            Verdict::Accepted => format!("Bitbucket accepted the token for {url}."),
            Verdict::Rejected => format!(
                "Bitbucket rejected the token for {url} (401). Check that it is an API token \
                 with the read:repository:bitbucket scope, that it belongs to an account with \
                 access to this repository, that it has not expired or been revoked, and that \
                 it was pasted whole. (git uses the username x-bitbucket-api-token-auth; your \
                 e-mail address goes with the token only for the REST API.)"
            ),
            Verdict::MissingScope => format!(
                "The token is valid but lacks a scope for {url} (403): it needs \
                 read:repository:bitbucket, plus write:repository:bitbucket to push."
            ),
            Verdict::AppPassword => format!(
                "Bitbucket answered 410 for {url}: this is an app password, and app passwords \
                 no longer work. {}",
                crate::policy::HOW_TO_CREATE_A_TOKEN
            ),
            Verdict::Failed(why) => format!("could not check the token against {url}: {why}"),
        }
    }
}

/// The served host of `url`, or an error saying why it cannot be verified.
pub fn host_of(url: &str, hosts: &ServedHosts) -> anyhow::Result<crate::policy::HostKey> {
    let request = protocol::decode(format!("url={url}\n").as_bytes())
        .ok()
        .filter(|r| r.host.is_some())
        .with_context(|| format!("{url:?} is not a URL"))?;
    if request.username.is_some() || request.password.is_some() {
        anyhow::bail!("--verify takes the repository URL without a user name or password");
    }
    match hosts.scope(request.protocol.as_deref(), request.host.as_deref()) {
        Scope::Served(host) => Ok(host),
        Scope::PlainHttp(_) => anyhow::bail!("{url} is plain http; use https://"),
        Scope::NotOurs => anyhow::bail!("{url} is not on bitbucket.org (or a --host)"),
    }
}

/// Runs `git ls-remote --heads URL` with `token` supplied for that one call.
pub fn verify(url: &str, token: &Token, extra_hosts: &[String]) -> anyhow::Result<Verdict> {
    let exe = std::env::current_exe().context("cannot find this program to hand git")?;
    let pipe = TokenPipe::new(token).context("cannot hand the token to git through a pipe")?;
    let mut helper = format!(
        "!{} --token-fd {}",
        shell_quote(&exe.to_string_lossy()),
        pipe.number()
    );
    for host in extra_hosts {
        helper.push_str(&format!(" --host {}", shell_quote(host)));
    }
    let mut cmd = crate::git::command(
        None,
        [
            "-c",
            inherited_pipe::GIT_CONFIG,
            "-c",
            "credential.helper=",
            "-c",
            &format!("credential.helper={helper}"),
            "-c",
            "credential.interactive=never",
            "ls-remote",
            "--heads",
            url,
        ],
    );
    for noisy in ["GIT_ASKPASS", "SSH_ASKPASS", crate::environment::TOKEN_ENV] {
        cmd.env_remove(noisy);
    }
    let out = crate::git::run(&mut cmd).context("cannot run git")?;
    drop(pipe);
    Ok(classify(out.success, &out.stderr))
}

/// Maps git's stderr to what Bitbucket answered.
fn classify(success: bool, stderr: &str) -> Verdict {
    if success {
        Verdict::Accepted
    } else if stderr.contains("App passwords are deprecated") || stderr.contains(" 410") {
        Verdict::AppPassword
    } else if stderr.contains("lack one or more required privilege scopes")
        || stderr.contains(" 403")
    {
        Verdict::MissingScope
    } else if stderr.contains("Authentication failed") || stderr.contains(" 401") {
        Verdict::Rejected
    } else {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("git failed");
        Verdict::Failed(last.trim().to_owned())
    }
}

/// Quotes for the shell git runs helpers through.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:+=@,".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_messages_map_to_what_bitbucket_said() {
        assert_eq!(classify(true, ""), Verdict::Accepted);
        assert_eq!(
            classify(
                false,
                "remote: App passwords are deprecated and must be replaced with API tokens.\nfatal: unable to access 'x': The requested URL returned error: 410"
            ),
            Verdict::AppPassword
        );
        assert_eq!(
            classify(
                false,
                "remote: Your credentials lack one or more required privilege scopes."
            ),
            Verdict::MissingScope
        );
        assert_eq!(
            classify(
                false,
                "fatal: Authentication failed for 'https://bitbucket.org/ws/r.git/'"
            ),
            Verdict::Rejected
        );
        assert_eq!(
            classify(false, "fatal: unable to access: Could not resolve host\n"),
            Verdict::Failed("fatal: unable to access: Could not resolve host".into())
        );
    }

    #[test]
    fn urls_with_credentials_or_other_hosts_are_refused() {
        let hosts = ServedHosts::new(&[]).unwrap();
        assert!(host_of("https://bitbucket.org/ws/r.git", &hosts).is_ok());
        assert!(host_of("https://me:pw@bitbucket.org/ws/r.git", &hosts).is_err());
        assert!(host_of("https://github.com/ws/r.git", &hosts).is_err());
        assert!(host_of("http://bitbucket.org/ws/r.git", &hosts).is_err());
        assert!(host_of("not a url", &hosts).is_err());
    }

    #[test]
    fn shell_quoting_leaves_plain_paths_alone() {
        assert_eq!(shell_quote("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
