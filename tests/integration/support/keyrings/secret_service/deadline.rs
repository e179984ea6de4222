//! Running a client of a Secret Service with a deadline.
//!
//! Why: some providers never answer on purpose here (KeePassXC's unlock dialog and a stand-in
//! prompter told to stay silent are invisible headless), so a client such as `secret-tool` can
//! wait forever. Tests must both prove such a hang and never hang themselves: every client run
//! has a deadline, after which it is killed (with its process group) and the caller told.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::git::Output;

/// Longer than any honest answer on a loaded machine; a client past it is taken to hang.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(30);

/// Runs `cmd` with `stdin` as its whole input; `None` if it had not finished after `limit`
/// (it is then killed, with anything it started).
pub fn run_within(cmd: &mut Command, stdin: &str, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()));
    let mut input = child.stdin.take().expect("piped stdin");
    let data = stdin.as_bytes().to_vec();
    // From threads: a child may exit or answer before it has read everything, and a full pipe
    // must not stall it while we wait.
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out_reader = drain(child.stdout.take().expect("piped stdout"));
    let err_reader = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        // The whole group: the readers' pipes close only once every writer is gone.
        let pgid = child.id().to_string();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = child.kill();
        let _ = child.wait();
        let _ = (feeder.join(), out_reader.join(), err_reader.join());
        return None;
    };
    let _ = feeder.join();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Some(Output {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// [`run_within`] with [`CLIENT_DEADLINE`], for a client expected to answer: panics with `what`
/// if it hangs.
#[track_caller]
pub fn run_answered(cmd: &mut Command, stdin: &str, what: &str) -> Output {
    run_within(cmd, stdin, CLIENT_DEADLINE).unwrap_or_else(|| {
        panic!(
            "{what}: no answer within {}s (killed)",
            CLIENT_DEADLINE.as_secs()
        )
    })
}
