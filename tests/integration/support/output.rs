//! Running a process to its end, and what it did: the one runner of the harness.
//!
//! Why one: a test must never hang the suite, and two things can hang it. A process that never
//! exits (a keychain client waiting on a dialog nobody sees, a wedged helper) is killed at a
//! deadline, with everything it started (it runs in a process group of its own). And a process
//! that exited can leave its pipes open in something it started (Wine's services, a daemon):
//! its output is then whatever reached the pipes within [`EOF_GRACE`] of its exit, rather than
//! a read that waits for the last writer.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// What a finished process did, with its output decoded (lossily) as text.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// The longest any one command of a test may run (a Wine boot on a loaded machine is the
/// slowest); past it the test fails instead of holding the suite.
pub const RUN_DEADLINE: Duration = Duration::from_secs(600);
/// How long, after a process exits, its pipes may stay open before its output is taken as is.
const EOF_GRACE: Duration = Duration::from_secs(10);

impl Output {
    /// Runs `cmd` with `stdin` as its whole input and collects the result.
    pub fn run(cmd: &mut Command, stdin: &str) -> Output {
        Self::run_bytes(cmd, stdin.as_bytes())
    }

    /// [`Output::run`] with any bytes as input (NUL, CR, non-UTF-8…). A process still running
    /// after [`RUN_DEADLINE`] is killed and the test fails with what it had said.
    pub fn run_bytes(cmd: &mut Command, stdin: &[u8]) -> Output {
        let child = spawn(cmd, stdin);
        Self::collect_or_panic(child, &format!("{:?}", cmd.get_program()))
    }

    /// Runs `cmd` with `stdin` as its whole input; `None` if it had not finished after `limit`
    /// (it is then killed, with anything it started). For a process that may hang on purpose.
    pub fn run_within(cmd: &mut Command, stdin: &[u8], limit: Duration) -> Option<Output> {
        collect_within(spawn(cmd, stdin), limit).ok()
    }

    /// Waits for a child the caller spawned (in a process group of its own, stdout and stderr
    /// piped and not taken) and collects its output, as [`Output::run_bytes`] does; `what`
    /// names it in the failure past [`RUN_DEADLINE`].
    pub fn collect_or_panic(child: Child, what: &str) -> Output {
        collect_within(child, RUN_DEADLINE).unwrap_or_else(|killed| {
            panic!(
                "{what} still ran after {RUN_DEADLINE:?}; it was killed.\n--- stdout ---\n{}\n\
                 --- stderr ---\n{}",
                killed.stdout, killed.stderr,
            )
        })
    }

    /// The `password=` value a helper's `get` answered, if any.
    pub fn password(&self) -> Option<String> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("password="))
            .map(str::to_owned)
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with everything the process said unless it succeeded; returns `self` for chaining.
    #[track_caller]
    pub fn assert_success(&self) -> &Output {
        assert!(self.success(), "expected success, got {self:?}");
        self
    }

    /// Panics, naming the phrase and everything the process said, unless its stderr holds
    /// every one of `phrases`; returns `self` for chaining.
    #[track_caller]
    pub fn assert_stderr_says(&self, phrases: &[impl AsRef<str>]) -> &Output {
        self.assert_says("stderr", &self.stderr, phrases)
    }

    /// [`Output::assert_stderr_says`] for stdout.
    #[track_caller]
    pub fn assert_stdout_says(&self, phrases: &[impl AsRef<str>]) -> &Output {
        self.assert_says("stdout", &self.stdout, phrases)
    }

    #[track_caller]
    fn assert_says(&self, stream: &str, text: &str, phrases: &[impl AsRef<str>]) -> &Output {
        for phrase in phrases.iter().map(AsRef::as_ref) {
            assert!(
                text.contains(phrase),
                "{stream} should say {phrase:?}: {self:?}"
            );
        }
        self
    }

    /// Panics with everything the process said unless it failed.
    #[track_caller]
    pub fn assert_failure(&self) -> &Output {
        assert!(!self.success(), "expected failure, got {self:?}");
        self
    }
}

/// Starts `cmd` in a process group of its own with piped stdio, and feeds it `stdin` from a
/// thread (it may exit or answer before it has read everything).
fn spawn(cmd: &mut Command, stdin: &[u8]) -> Child {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    child
}

/// The child's output once it exits; past `limit`, its process group is killed and the
/// output so far comes back as the error.
fn collect_within(mut child: Child, limit: Duration) -> Result<Output, Output> {
    let stdout = Drained::start(child.stdout.take().expect("piped stdout"));
    let stderr = Drained::start(child.stderr.take().expect("piped stderr"));
    let started = Instant::now();
    let mut pause = Duration::from_micros(100);
    let (status, finished) = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break (status, true);
        }
        if started.elapsed() > limit {
            // The whole group: what it started holds the pipes too.
            let _ = rustix::process::kill_process_group(
                rustix::process::Pid::from_child(&child),
                rustix::process::Signal::KILL,
            );
            let _ = child.kill();
            break (child.wait().expect("wait for a killed child"), false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let stdout = stdout.finish(EOF_GRACE);
    let mut stderr = String::from_utf8_lossy(&stderr.finish(EOF_GRACE)).into_owned();
    // `keyctl session NAME prog` announces the keyring it joined; that is not prog's output.
    if stderr.starts_with("Joined session keyring: ") {
        stderr = stderr.split_once('\n').map_or("", |(_, r)| r).to_owned();
    }
    let output = Output {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr,
    };
    if finished { Ok(output) } else { Err(output) }
}

/// One of a child's output pipes, read to the end on a thread of its own.
struct Drained {
    done: mpsc::Receiver<()>,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Drained {
    fn start(mut pipe: impl Read + Send + 'static) -> Drained {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (tell, done) = mpsc::channel();
        let sink = Arc::clone(&bytes);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                sink.lock()
                    .expect("output lock")
                    .extend_from_slice(&chunk[..n]);
            }
            let _ = tell.send(());
        });
        Drained { done, bytes }
    }

    /// Everything read once the pipe closed, or once `grace` has passed.
    fn finish(self, grace: Duration) -> Vec<u8> {
        let _ = self.done.recv_timeout(grace);
        std::mem::take(&mut *self.bytes.lock().expect("output lock"))
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.status, self.stdout, self.stderr
        )
    }
}
