//! A private mount namespace for fault tests: a tiny tmpfs (a full disk) or a read-only bind
//! mount laid over the file store's directory, seen only by the processes run through it.
//!
//! Why: the tests run as root, which ignores permission bits, so "the directory is read-only"
//! and "the disk is full" must be made real with mounts. Mounting in the test's own namespace
//! would leave mounts behind if the test process died; here a holder process (`unshare
//! --mount`) owns the namespace and exits when we close its stdin (or when we die), and the
//! kernel drops every mount in it.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;

use super::git::TestEnv;
use super::keyrings::skip_or_panic;
use super::output::Output;

pub struct MountNamespace {
    holder: Option<(Child, ChildStdin)>,
    pid: u32,
}

impl MountNamespace {
    /// Can this machine make a mount namespace and mount a tmpfs in it? (Checked once.)
    pub fn available() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| {
            let probe = "d=$(mktemp -d) && mount -t tmpfs -o size=16k gcb-probe \"$d\" && \
                         umount \"$d\" && rmdir \"$d\"";
            Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c", probe])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// A new namespace, or skip/panic per [`skip_or_panic`] (mounting needs root).
    #[track_caller]
    pub fn new_or_skip() -> Option<MountNamespace> {
        if !Self::available() {
            skip_or_panic(
                "a private mount namespace",
                "`unshare --mount` with a tmpfs mount failed (needs root)",
            );
            return None;
        }
        let mut child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("echo ready && exec cat >/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run unshare");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        assert_eq!(line.trim(), "ready", "unshare --mount did not start");
        let stdin = child.stdin.take().expect("piped stdin");
        // unshare execs sh, which execs cat: the holder keeps the child's pid.
        let pid = child.id();
        Some(MountNamespace {
            holder: Some((child, stdin)),
            pid,
        })
    }

    /// `program` run by `env` inside the namespace, in `env`'s HOME (entering a mount
    /// namespace moves a process to its root, so nsenter is told where to go back to).
    pub fn command(&self, env: &TestEnv, program: impl AsRef<OsStr>) -> Command {
        let mut wd = std::ffi::OsString::from("--wd=");
        wd.push(env.home());
        let pid = self.pid.to_string();
        let nsenter = [
            "nsenter".as_ref(),
            "-t".as_ref(),
            pid.as_ref(),
            "-m".as_ref(),
            wd.as_os_str(),
            "--".as_ref(),
        ]
        .map(std::ffi::OsStr::to_owned);
        env.command_behind(&nsenter, program)
    }

    /// Runs `sh -c SCRIPT` inside the namespace, as root, with `dir` as `$1`.
    pub fn sh(&self, script: &str, dir: &Path) -> Output {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.pid.to_string(), "-m", "--wd=/", "--"])
            .args(["sh", "-c", script, "sh"])
            .arg(dir);
        Output::run(&mut cmd, "")
    }

    /// Mounts a tmpfs of `size` (e.g. `16k`) on `dir`, mode 0700.
    pub fn mount_tmpfs(&self, dir: &Path, size: &str) {
        let script = format!("mount -t tmpfs -o size={size},mode=0700 gcb-test-tmpfs \"$1\"");
        self.sh(&script, dir).assert_success();
    }

    /// Makes `dir` read-only (a read-only bind mount of itself).
    pub fn make_read_only(&self, dir: &Path) {
        self.sh(
            "mount --bind \"$1\" \"$1\" && mount -o remount,bind,ro \"$1\"",
            dir,
        )
        .assert_success();
    }
}

impl Drop for MountNamespace {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.holder.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}
