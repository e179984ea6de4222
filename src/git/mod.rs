//! Running git itself, for the commands people run (setup, doctor, migrate, status, logout,
//! login --verify), and for `erase`, which asks Bitbucket again before deleting a refused token
//! (the binary hands the helper that question; the helper itself starts nothing).
//!
//! Every git child is made here, by [`command`], so that one place keeps `BITBUCKET_API_TOKEN`
//! out of its environment: git, and whatever git runs (hooks, credential helpers, `core.askPass`,
//! a `!` alias, an `ssh` command), never inherits the CI token this process was given (a token
//! read from `BITBUCKET_API_TOKEN_FILE` or a systemd credential never enters any environment;
//! the variables naming those files are paths, and are passed on). Every
//! one is also waited for here, by [`run`], within a deadline (see `deadline.rs`). The one
//! other child, doctor's [`minimal_shell`], gets an environment built from nothing.

mod deadline;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

pub use deadline::Bound;

/// What a finished git command printed.
#[derive(Debug)]
pub struct GitOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A git command with stdin closed, no terminal prompts, no `BITBUCKET_API_TOKEN`, in `dir`
/// (or the current directory).
pub fn command<I, S>(dir: Option<&Path>, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that starts a process"
    )]
    let mut cmd = Command::new("git");
    cmd.args(args)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove(crate::environment::TOKEN_ENV);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd
}

/// The PATH cron gives its jobs (and many service managers theirs): no `~/.local/bin`, no
/// `/usr/local/bin`, no profile read.
pub const MINIMAL_PATH: &str = "/usr/bin:/bin";

/// `/bin/sh -c SCRIPT` in the environment cron gives a job: nothing but [`MINIMAL_PATH`] and
/// HOME. For doctor's check that git can still run its configured helper there; stdin closed.
#[cfg(unix)]
pub fn minimal_shell(script: &str) -> Command {
    #[allow(
        clippy::disallowed_methods,
        reason = "the cron check needs a shell, with an environment built from nothing (no token)"
    )]
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", script])
        .env_clear()
        .env("PATH", MINIMAL_PATH)
        .stdin(Stdio::null());
    if let Some(home) = std::env::var_os("HOME") {
        cmd.env("HOME", home);
    }
    cmd
}

/// Runs `cmd` to completion within `bound`; past it git is killed and the error, of kind
/// [`std::io::ErrorKind::TimedOut`] (see [`timed_out`]), names the git subcommand.
pub fn run(cmd: &mut Command, bound: Bound) -> std::io::Result<GitOutput> {
    let out = deadline::run(cmd, bound)?;
    Ok(GitOutput {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Whether `error` is a git command stopped at its deadline (rather than git missing).
pub fn timed_out(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::TimedOut
}

/// `git ARGS` in the current directory, local work only ([`Bound::Local`]).
pub fn git<I, S>(args: I) -> std::io::Result<GitOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run(&mut command(None, args), Bound::Local)
}

/// All values of a multi-valued config key in `scope` (`--global`, `--system`, `--file F`…).
pub fn config_get_all(scope: &[String], key: &str) -> std::io::Result<Vec<String>> {
    let mut args: Vec<String> = vec!["config".into()];
    args.extend_from_slice(scope);
    args.extend(["--null".into(), "--get-all".into(), key.into()]);
    let out = git(&args)?;
    // Each value ends in NUL; an empty value (a helper reset) is a real entry.
    Ok(out
        .stdout
        .split_terminator('\0')
        .map(str::to_owned)
        .collect())
}

/// `git --version` as (major, minor); `None` when git does not run; an error when it hung.
pub fn version() -> std::io::Result<Option<(u32, u32)>> {
    let out = match git(["--version"]) {
        Ok(out) => out,
        Err(e) if timed_out(&e) => return Err(e),
        Err(_) => return Ok(None),
    };
    let parse = || {
        let number = out.stdout.split_whitespace().nth(2)?;
        let mut parts = number.split('.');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    Ok(parse())
}
