//! The keyutils half of [`super`]: named kernel session keyrings.
//!
//! Why this way: the helper's keyutils store uses the session keyring, which a process inherits
//! from its parent. Running git under `keyctl session NAME` gives git, and the helper it starts,
//! a keyring shared by the test's runs and by nobody else.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::skip_or_panic;
use crate::support::git::Output;

/// A named kernel session keyring shared by every process run under `keyctl session NAME`.
///
/// A keyring lives only while something references it, and `keyctl session NAME` joins an
/// existing one only if the user may search it, so a holder process joins it first, grants the
/// user search permission, and waits on a pipe we hold: the keyring goes away with `self`.
pub struct KeyutilsSession {
    name: String,
    holder: Option<(Child, ChildStdin)>,
}

impl KeyutilsSession {
    /// Can this machine run `keyctl session`? (Checked once.)
    pub fn available() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| {
            Command::new("keyctl")
                .args(["session", "-", "true"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// A new session keyring `gcb-test-<pid>-<n>`, or skip/panic per [`skip_or_panic`].
    #[track_caller]
    pub fn new_or_skip() -> Option<KeyutilsSession> {
        if Self::available() {
            Some(Self::new())
        } else {
            skip_or_panic("keyutils", "`keyctl session - true` failed");
            None
        }
    }

    /// A new session keyring `gcb-test-<pid>-<n>`. Panics if keyctl does not work.
    pub fn new() -> KeyutilsSession {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("gcb-test-{}-{n}", std::process::id());
        let mut child = Command::new("keyctl")
            .args(["session", &name, "sh", "-c"])
            .arg("keyctl setperm @s 0x3f3f0000 && echo ready && exec cat >/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run keyctl");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line);
        assert_eq!(
            line.trim(),
            "ready",
            "keyctl could not set up session keyring {name}"
        );
        let stdin = child.stdin.take().expect("piped stdin");
        KeyutilsSession {
            name,
            holder: Some((child, stdin)),
        }
    }

    /// The keyring's name (its description in `/proc/keys`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `keyctl session NAME program`: add the program's args and run it inside the keyring.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("keyctl");
        cmd.arg("session").arg(&self.name).arg(program);
        cmd
    }

    /// Runs `keyctl ARGS` inside the session (e.g. `["show", "@s"]`, `["add", "user", …, "@s"]`).
    pub fn keyctl(&self, args: &[&str]) -> Output {
        Output::run(self.command("keyctl").args(args), "")
    }
}

impl Drop for KeyutilsSession {
    fn drop(&mut self) {
        if let Some((mut child, stdin)) = self.holder.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}
