//! The keyutils half of [`super`]: named kernel session keyrings, each in a user namespace of
//! its own.
//!
//! Why this way: the helper's keyutils store uses the session keyring, which a process inherits
//! from its parent. Running git under `keyctl session NAME` gives git, and the helper it starts,
//! a keyring shared by the test's runs. That alone is not private: the store links the user's
//! *persistent* keyring into the session (as a login session's keys should outlive it), and a
//! search of the session reaches every key in it. Before each session got its own user
//! namespace, a test read the token another test run had stored for a reused port, and a run
//! as root read and deleted a real `bitbucket.org` token. A user namespace has a persistent
//! keyring of its own, which dies with the namespace; `the_outer_keyring_is_untouched` in
//! tests/integration/hermetic.rs checks it.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::skip_or_panic;
use crate::support::output::Output;

/// A named kernel session keyring shared by every process run under `keyctl session NAME`.
///
/// A keyring lives only while something references it, and `keyctl session NAME` joins an
/// existing one only if the user may search it, so a holder process joins it first, grants the
/// user search permission, and waits on a pipe we hold: the keyring goes away with `self`.
pub struct KeyutilsSession {
    name: String,
    holder: Option<(Child, ChildStdin)>,
    /// The holder's pid: it runs in the user namespace of its own (see [`Self::new_or_skip`]).
    userns: u32,
}

impl KeyutilsSession {
    /// Can this machine make a user namespace and run `keyctl session` in it? (Checked once.)
    pub fn available() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| {
            Command::new("unshare")
                .args([
                    "--user",
                    "--map-root-user",
                    "keyctl",
                    "session",
                    "-",
                    "true",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
    }

    /// A session keyring `gcb-test-<pid>-<n>` in a user namespace of its own, which has its
    /// own persistent keyring: keys stored here (even for `bitbucket.org`) are seen by no other
    /// test or test run and never reach the user's real persistent keyring. Skips/panics per
    /// [`skip_or_panic`] without user namespaces. The only way tests get a keyutils store.
    ///
    /// Run as root, the namespace maps uids and gids 0–65535 onto themselves (as
    /// [`super::run_as_namespace_root`] does), so a file another uid owns is still that uid's
    /// inside; otherwise the user is root of the namespace (`--map-root-user`).
    #[track_caller]
    pub fn new_or_skip() -> Option<KeyutilsSession> {
        if Self::available() {
            Some(Self::start())
        } else {
            skip_or_panic(
                "keyutils in a user namespace",
                "`unshare --user --map-root-user keyctl session - true` failed",
            );
            None
        }
    }

    fn start() -> KeyutilsSession {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("gcb-test-{}-{n}", std::process::id());
        let holder = format!(
            "keyctl session {name} sh -c \
             'keyctl setperm @s 0x3f3f0000 && echo ready && exec cat >/dev/null'"
        );
        let identity_map = super::is_root();
        let mut unshare = Command::new("unshare");
        if identity_map {
            // The map is written from outside once the namespace exists, then `go`.
            unshare
                .args(["--user", "--", "sh", "-c"])
                .arg(format!("echo mapme; read go; exec {holder}"));
        } else {
            unshare
                .args(["--user", "--map-root-user", "sh", "-c"])
                .arg(format!("exec {holder}"));
        }
        let mut child = unshare
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run unshare");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        if identity_map {
            let _ = stdout.read_line(&mut line);
            assert_eq!(line.trim(), "mapme", "unshare --user did not start");
            for map in ["uid_map", "gid_map"] {
                std::fs::write(format!("/proc/{}/{map}", child.id()), "0 0 65536\n")
                    .expect("map ids");
            }
            writeln!(stdin, "go").expect("go");
            line.clear();
        }
        let _ = stdout.read_line(&mut line);
        assert_eq!(
            line.trim(),
            "ready",
            "keyctl could not set up session keyring {name}"
        );
        // unshare, sh and keyctl exec what they run: the holder keeps the child's pid.
        let userns = child.id();
        KeyutilsSession {
            name,
            holder: Some((child, stdin)),
            userns,
        }
    }

    /// `keyctl session NAME program`: add the program's args and run it inside the keyring.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let prefix = self.prefix();
        let mut cmd = Command::new(&prefix[0]);
        cmd.args(&prefix[1..]).arg(program);
        cmd
    }

    /// The words put before a program to run it in this keyring: `keyctl session NAME`,
    /// behind `nsenter` into its user namespace.
    pub fn prefix(&self) -> Vec<OsString> {
        let pid = self.userns.to_string();
        let mut words: Vec<OsString> = ["nsenter", "-t", &pid, "-U", "--preserve-credentials"]
            .map(Into::into)
            .to_vec();
        words.extend(["keyctl", "session", &self.name].map(Into::into));
        words
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
