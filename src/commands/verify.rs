//! `login --verify URL`: ask Bitbucket, through git itself, whether a token opens a repository
//! — and whether it may push there — before it is saved.
//!
//! git runs `ls-remote` (reading), then `push --dry-run` of a throwaway ref from an empty
//! temporary repository (git's receive-pack advertisement needs write access; a dry run sends
//! nothing), each with every configured helper cleared and this program as the only one,
//! in a mode that answers with the token read from an inherited pipe (`inherited_pipe`: a file
//! descriptor on Unix, a handle on Windows). The token is never in git's argv or environment,
//! nor on disk; the pipe is gone when git exits.
//!
//! Each git run has the network deadline (`git::Bound::Network`; `Bound::Recheck` when `erase`
//! asks again whether a refused token still works), and git is told to give up
//! on a transfer that stalls (`http.lowSpeedLimit`/`http.lowSpeedTime`), so a remote that
//! accepts the connection and never answers ends the check with a clear error, and git's
//! remote helper does not outlive it by long.

use anyhow::Context as _;

use super::shell::shell_quote;
use crate::inherited_pipe::{self, TokenPipe};
use crate::policy::{Scope, ServedHosts};
use crate::protocol;
use crate::token::Token;

/// What Bitbucket said about the token.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// Reads, but the push check got a 403.
    ReadOnly,
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
            Verdict::ReadOnly => format!(
                "Bitbucket accepted the token for {url}: it can read, cannot push: add \
                 write:repository:bitbucket to push."
            ),
            Verdict::AppPassword => format!(
                "Bitbucket answered 410 for {url}: this is an app password, and app passwords \
                 no longer work. {}",
                crate::policy::how_to_create(false)
            ),
            Verdict::Failed(why) => format!("could not check the token against {url}: {why}"),
        }
    }
}

/// The served host of `url`, or an error saying why it cannot be verified.
pub fn host_of(url: &str, hosts: &ServedHosts) -> anyhow::Result<crate::policy::HostKey> {
    target_of(url, hosts).map(|target| target.host.host)
}

/// The entries a request for `url` would use, as `get` picks them: [`host_of`]'s checks, then
/// [`Target::of_request`](crate::store::Target::of_request).
pub fn target_of(url: &str, hosts: &ServedHosts) -> anyhow::Result<crate::store::Target> {
    let request = protocol::decode(format!("url={url}\n").as_bytes())
        .ok()
        .filter(|r| r.host.is_some())
        .with_context(|| {
            // A URL git cannot read may still hold a password (`user:pw@host:path`, a bad
            // escape after it): such a one is not repeated.
            let shown = if url.contains('@') {
                "the URL given (not repeated: it holds an @)".to_owned()
            } else {
                format!("{url:?}")
            };
            format!("{shown} is not a URL; give one like https://bitbucket.org/WORKSPACE/REPO.git")
        })?;
    if request.username.is_some() || request.password.is_some() {
        anyhow::bail!("--verify takes the repository URL without a user name or password");
    }
    match hosts.scope(request.protocol.as_deref(), request.host.as_deref()) {
        Scope::Served(host) => Ok(crate::store::Target::of_request(host, &request)),
        Scope::PlainHttp(_) => anyhow::bail!("{url} is plain http; use https://"),
        Scope::NotOurs => anyhow::bail!("{url} is not on bitbucket.org (or a --host)"),
    }
}

/// Runs `git ls-remote --heads URL` with `token` supplied for that one call.
pub fn verify(url: &str, token: &Token, extra_hosts: &[String]) -> anyhow::Result<Verdict> {
    let args = ["ls-remote", "--heads", url];
    with_token(token, extra_hosts, None, crate::git::Bound::Network, &args)
}

/// [`verify`] for `erase`, which asks while git waits: a shorter deadline
/// ([`crate::git::Bound::Recheck`]).
pub fn recheck(url: &str, token: &Token, extra_hosts: &[String]) -> anyhow::Result<Verdict> {
    let args = ["ls-remote", "--heads", url];
    with_token(token, extra_hosts, None, crate::git::Bound::Recheck, &args)
}

/// What a token may do with a repository.
pub struct Access {
    /// What `ls-remote` got.
    pub read: Verdict,
    /// What the push dry run got (a 403 is [`Verdict::ReadOnly`]), once reading works.
    pub push: Option<Verdict>,
}

impl Access {
    /// Reading, then — only if that works — pushing.
    pub fn of(url: &str, token: &Token, extra_hosts: &[String]) -> anyhow::Result<Access> {
        let read = verify(url, token, extra_hosts)?;
        let push = match read {
            Verdict::Accepted => Some(match verify_push(url, token, extra_hosts)? {
                Verdict::MissingScope => Verdict::ReadOnly,
                other => other,
            }),
            _ => None,
        };
        Ok(Access { read, push })
    }

    /// One sentence (or two) for the person.
    pub fn explain(&self, url: &str) -> String {
        match &self.push {
            None => self.read.explain(url),
            Some(Verdict::Accepted) => format!("{} It can push too.", self.read.explain(url)),
            Some(Verdict::ReadOnly) => Verdict::ReadOnly.explain(url),
            Some(other) => format!(
                "{} Pushing could not be checked: {}",
                self.read.explain(url),
                other.explain(url)
            ),
        }
    }
}

/// Whether `token` may push to `url`: `git push --dry-run` of a throwaway ref from an empty
/// temporary repository. Nothing is pushed.
pub fn verify_push(url: &str, token: &Token, extra_hosts: &[String]) -> anyhow::Result<Verdict> {
    let scratch = Scratch::new()?;
    let dir = scratch.0.as_path();
    let commit = scratch_commit(dir)?;
    let refspec = format!("{commit}:refs/heads/git-credential-bitbucket-push-check");
    with_token(
        token,
        extra_hosts,
        Some(dir),
        crate::git::Bound::Network,
        &["push", "--dry-run", "--no-verify", "--quiet", url, &refspec],
    )
}

/// A commit of the empty tree in `dir`, a new repository.
fn scratch_commit(dir: &std::path::Path) -> anyhow::Result<String> {
    let git = |args: &[&str]| -> anyhow::Result<String> {
        let mut cmd = crate::git::command(Some(dir), args);
        for (name, value) in [
            ("GIT_AUTHOR_NAME", "git-credential-bitbucket"),
            ("GIT_AUTHOR_EMAIL", "push-check@invalid"),
            ("GIT_COMMITTER_NAME", "git-credential-bitbucket"),
            ("GIT_COMMITTER_EMAIL", "push-check@invalid"),
        ] {
            cmd.env(name, value);
        }
        let out = crate::git::run(&mut cmd, crate::git::Bound::Local).context("cannot run git")?;
        if !out.success {
            anyhow::bail!("git {} failed: {}", args[0], out.stderr.trim());
        }
        Ok(out.stdout.trim().to_owned())
    };
    git(&["init", "--quiet"])?;
    let tree = git(&["mktree"])?;
    git(&["commit-tree", &tree, "-m", "push check (never pushed)"])
}

/// A private temporary directory, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> anyhow::Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "git-credential-bitbucket-check-{}-{nanos}",
            std::process::id()
        ));
        #[cfg_attr(not(unix), allow(unused_mut))] // only Unix sets a mode
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A transfer slower than 1 byte a second for [`STALLED_FOR`] is a remote that stopped
/// answering: git (curl) gives up on it before the network deadline.
const STALLED_SPEED: &str = "http.lowSpeedLimit=1";
const STALLED_FOR: &str = "http.lowSpeedTime=20";

/// Runs `git ARGS` (in `dir`, within `bound`) with `token` handed to this program as git's
/// only helper.
fn with_token(
    token: &Token,
    extra_hosts: &[String],
    dir: Option<&std::path::Path>,
    bound: crate::git::Bound,
    args: &[&str],
) -> anyhow::Result<Verdict> {
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
    let helper_config = format!("credential.helper={helper}");
    let mut all = vec![
        "-c",
        inherited_pipe::GIT_CONFIG,
        "-c",
        "credential.helper=",
        "-c",
        &helper_config,
        "-c",
        "credential.interactive=never",
        "-c",
        STALLED_SPEED,
        "-c",
        STALLED_FOR,
    ];
    all.extend_from_slice(args);
    let mut cmd = crate::git::command(dir, &all);
    // crate::git::command already removed BITBUCKET_API_TOKEN.
    for noisy in ["GIT_ASKPASS", "SSH_ASKPASS"] {
        cmd.env_remove(noisy);
    }
    let out = crate::git::run(&mut cmd, bound).context("cannot run git")?;
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
    fn a_url_git_cannot_read_is_never_repeated_with_its_password() {
        let hosts = ServedHosts::new(&[]).unwrap();
        for url in [
            "https://me:SECRETPW%FF@bitbucket.org/ws/r.git",
            "https://me:SECRETPW%0A@bitbucket.org/ws/r.git",
            "me:SECRETPW@bitbucket.org:ws/r.git",
        ] {
            let said = format!("{:#}", host_of(url, &hosts).unwrap_err());
            assert!(!said.contains("SECRETPW"), "{said}");
            assert!(said.contains("is not a URL"), "{said}");
        }
        // Control: one without a password is repeated, so a typo can be seen.
        let said = format!("{:#}", host_of("htps:/bitbucket.org", &hosts).unwrap_err());
        assert!(
            said.contains("\"htps:/bitbucket.org\" is not a URL"),
            "{said}"
        );
    }

    #[test]
    fn shell_quoting_leaves_plain_paths_alone() {
        assert_eq!(shell_quote("/usr/bin/x"), "/usr/bin/x");
        assert_eq!(shell_quote("/a b/it's"), r"'/a b/it'\''s'");
    }
}
