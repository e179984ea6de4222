//! Running the helper the way an attacker would: any bytes on stdin (or a stdout closed before
//! it answers), under a time limit, with its peak memory measured.
//!
//! Why: a credential helper must neither hang git, nor crash, nor balloon on hostile input. The
//! peak resident set size comes from GNU time (`/usr/bin/time -f %M`, Debian package `time`),
//! which reads it from the kernel when the helper exits, so even a short burst is seen. The
//! helper runs in a process group of its own, so a hung one is killed with everything under it.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::git::{TestEnv, helper_bin};
use super::keyrings::skip_or_panic;

/// Longer than any honest run on a loaded machine; only a hang gets near it.
pub const TIME_LIMIT: Duration = Duration::from_secs(10);

const GNU_TIME: &str = "/usr/bin/time";

/// What one watched run did.
pub struct Watched {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// Lossily decoded; keyctl's `Joined session keyring: …` line removed.
    pub stderr: String,
    /// Peak resident set size of the helper process, in KiB.
    pub max_rss_kib: u64,
}

impl Watched {
    /// The exit code of the helper (GNU time passes it on; 128+N for a signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .or_else(|| self.status.signal().map(|s| 128 + s))
            .unwrap_or(-1)
    }

    /// Panics unless the run shows no sign of a panic or an abort.
    #[track_caller]
    pub fn assert_no_crash(&self, what: &str) {
        assert!(
            !self.stderr.contains("panicked") && !matches!(self.code(), 101 | 134 | 139),
            "{what}: the helper crashed (exit {}):\n{}",
            self.code(),
            self.stderr
        );
    }
}

/// Is GNU time installed? Otherwise skip (loudly) or panic per [`skip_or_panic`].
#[track_caller]
pub fn gnu_time_or_skip() -> bool {
    Path::new(GNU_TIME).is_file()
        || !skip_or_panic(
            "GNU time",
            "/usr/bin/time is missing (Debian package `time`)",
        )
}

/// Runs `git-credential-bitbucket ARGS` in `env` with `input` on stdin. With `close_stdout`,
/// the read end of its stdout is closed before it can write. Panics if it runs past
/// [`TIME_LIMIT`] (after killing it).
pub fn run_watched(env: &TestEnv, args: &[&str], input: &[u8], close_stdout: bool) -> Watched {
    let rss = tempfile::NamedTempFile::new().expect("temp file for GNU time");
    let mut cmd = env.command(GNU_TIME);
    cmd.args(["-f", "%M", "-o"])
        .arg(rss.path())
        .arg(helper_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("run the helper under GNU time");
    let stdout = child.stdout.take().expect("piped stdout");
    let stdout = if close_stdout {
        drop(stdout);
        None
    } else {
        Some(stdout)
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    let data = input.to_vec();
    // From threads: the helper may stop reading early (that is the point of the limits), and
    // both output pipes must be drained while it runs.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out_reader = stdout.map(|mut s| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            buf
        })
    });
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + TIME_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the helper") {
            break status;
        }
        if Instant::now() > deadline {
            let group = format!("-{}", child.id());
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &group])
                .status();
            let _ = child.wait();
            panic!("the helper hung: still running after {TIME_LIMIT:?} ({args:?})");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = feeder.join();
    let stdout = out_reader
        .map(|r| r.join().expect("stdout reader"))
        .unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    let stderr = match stderr.strip_prefix("Joined session keyring: ") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, r)| r).to_owned(),
        None => stderr,
    };
    let report = std::fs::read_to_string(rss.path()).expect("GNU time's report");
    let max_rss_kib = report
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in GNU time's report: {report:?}"));
    Watched {
        status,
        stdout,
        stderr,
        max_rss_kib,
    }
}
