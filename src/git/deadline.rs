//! Every git child has a deadline. A person-facing command waits for git, and git can wedge:
//! a config `include` on a hung network filesystem, a remote that accepts the connection and
//! never answers. Without a bound the command would hang forever; with one, git is killed
//! and the command fails saying which git command did not finish.
//!
//! Both pipes are drained from threads while git runs (a chatty git never blocks on a full
//! pipe), and nothing waits on them past the deadline: a grandchild (git's remote helper, a
//! hook) may hold them open after git itself is killed. Those threads are left to end when the
//! grandchild does; the command ends first.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// How long a git command may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Local work (config reads and writes, `rev-parse`, a scratch commit): milliseconds
    /// normally, so only a wedged filesystem gets near this.
    Local,
    /// Talking to a remote (`login --verify`, `status --check`): a round trip or two.
    Network,
    /// Asking a remote again while git waits (`erase` before deleting a refused token): one
    /// round trip, and git's own command is held up meanwhile.
    Recheck,
}

impl Bound {
    const LOCAL: Duration = Duration::from_secs(10);
    const NETWORK: Duration = Duration::from_secs(60);
    const RECHECK: Duration = Duration::from_secs(20);

    /// The bound, lowered (never raised) by `GIT_CREDENTIAL_BITBUCKET_GIT_DEADLINE` seconds,
    /// which keeps the test suite's hang checks short.
    pub fn limit(self) -> Duration {
        let default = match self {
            Bound::Local => Self::LOCAL,
            Bound::Network => Self::NETWORK,
            Bound::Recheck => Self::RECHECK,
        };
        lowered(
            default,
            std::env::var(crate::environment::GIT_DEADLINE_ENV)
                .ok()
                .as_deref(),
        )
    }
}

/// `default`, or the whole positive number of seconds in `setting` if that is shorter.
fn lowered(default: Duration, setting: Option<&str>) -> Duration {
    setting
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&secs| secs > 0)
        .map_or(default, |secs| default.min(Duration::from_secs(secs)))
}

/// How long a killed git is given to be reaped before the command goes on without it (a
/// process stuck in an uninterruptible filesystem call dies only when the call returns).
const REAP_GRACE: Duration = Duration::from_secs(1);

/// What a finished git printed, raw.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` (stdout and stderr piped here) for at most `bound`. Past it, git is killed and
/// the error (kind `TimedOut`) names `git SUBCOMMAND` only: never the other arguments.
pub fn run(cmd: &mut Command, bound: Bound) -> std::io::Result<Finished> {
    let limit = bound.limit();
    let deadline = Instant::now() + limit;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let timed_out = || {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "git {} did not finish within {} s and was stopped (a remote that does not \
                 answer, or a file git reads on a filesystem that hangs?)",
                subcommand(cmd),
                limit.as_secs()
            ),
        )
    };
    // Normally git closes its pipes when it exits: waiting on them wakes at once.
    let (Some(stdout), Some(stderr)) = (collect(&stdout, deadline), collect(&stderr, deadline))
    else {
        stop(&mut child);
        return Err(timed_out());
    };
    let Some(status) = exited(&mut child, deadline)? else {
        stop(&mut child);
        return Err(timed_out());
    };
    Ok(Finished {
        status,
        stdout,
        stderr,
    })
}

/// Reads `pipe` to its end on a thread of its own; the bytes arrive on the channel.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = sender.send(bytes);
        });
    } else {
        let _ = sender.send(Vec::new());
    }
    receiver
}

/// The pipe's bytes, or `None` if it is still open at `deadline`.
fn collect(receiver: &Receiver<Vec<u8>>, deadline: Instant) -> Option<Vec<u8>> {
    receiver
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// The child's exit status, polled until `deadline` (its pipes are closed by now, so this is
/// the moment between closing them and exiting).
fn exited(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Kills git and reaps it if it goes within [`REAP_GRACE`].
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = exited(child, Instant::now() + REAP_GRACE);
}

/// The git subcommand `cmd` runs (`config`, `ls-remote`), past `-c NAME=VALUE`, `-C DIR` and
/// other global options: what an error may name.
fn subcommand(cmd: &Command) -> String {
    let mut args = cmd.get_args().map(|a| a.to_string_lossy());
    let mut last_option = None;
    while let Some(arg) = args.next() {
        match arg.as_ref() {
            "-c" | "-C" | "--config-env" => {
                args.next();
            }
            option if option.starts_with('-') => last_option = Some(arg),
            name => return name.to_owned(),
        }
    }
    // `git --version`: the option is the command.
    last_option.map_or_else(String::new, |o| o.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommand_is_named_past_global_options_and_nothing_else_is() {
        let cmd = crate::git::command(
            None,
            [
                "-c",
                "credential.helper=!x --token-fd 3",
                "-C",
                "/somewhere",
                "--no-pager",
                "ls-remote",
                "--heads",
                "https://bitbucket.org/ws/repo.git",
            ],
        );
        assert_eq!(subcommand(&cmd), "ls-remote");
        let cmd = crate::git::command(None, ["--version"]);
        assert_eq!(subcommand(&cmd), "--version");
    }

    #[test]
    fn the_environment_can_only_shorten_a_bound() {
        let ten = Duration::from_secs(10);
        assert_eq!(lowered(ten, None), ten);
        assert_eq!(lowered(ten, Some("2")), Duration::from_secs(2));
        assert_eq!(lowered(ten, Some(" 3\n")), Duration::from_secs(3));
        assert_eq!(lowered(ten, Some("600")), ten, "never raised");
        for ignored in ["0", "-1", "1.5", "soon", ""] {
            assert_eq!(lowered(ten, Some(ignored)), ten, "{ignored:?}");
        }
    }
}
