//! Putting a program on disk for a test to run: a stand-in script, a hook, a copy of the helper.
//!
//! Why through a child process: a file this process holds open for writing is inherited by
//! every child another test thread forks meanwhile, until that child execs; running the file
//! in that moment fails with ETXTBSY ("Text file busy"), and under load it did. Written by
//! `sh` or `cp`, the file is never open in the test process, so no fork can carry it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes `contents` to a new program at `path` with `mode` (e.g. `"700"`).
pub fn write_executable(path: &Path, contents: impl AsRef<[u8]>, mode: &str) {
    let mut child = Command::new("/bin/sh")
        .args([
            "-c",
            "umask 077 && cat > \"$1\" && chmod \"$2\" \"$1\"",
            "sh",
        ])
        .arg(path)
        .arg(mode)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run sh");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(contents.as_ref())
        .expect("write the program");
    drop(stdin);
    let status = child.wait().expect("wait for sh");
    assert!(
        status.success(),
        "cannot write {}: {status}",
        path.display()
    );
}

/// Copies the program `from` to `to`, keeping it executable.
pub fn copy_executable(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cannot copy {} to {}",
        from.display(),
        to.display()
    );
}
