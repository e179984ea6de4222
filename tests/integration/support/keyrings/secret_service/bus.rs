//! The harness's own calls on a session's bus: `dbus-send` for the calls that need no prompt,
//! and polling for a state with a deadline.
//!
//! Why `dbus-send`: it is libdbus's plain client, independent of both the helper's own D-Bus
//! code and libsecret, so what the harness checks (a name's owner, `Locked`) is not seen through
//! the code under test.

use std::time::{Duration, Instant};

use super::deadline::run_answered;
use super::{DEFAULT_ALIAS, STATE_DEADLINE, SecretServiceSession, lock};
use crate::support::output::Output;

impl SecretServiceSession {
    /// `Some(locked)`, or `None` if the service did not answer (e.g. while being replaced).
    pub(super) fn locked_state(&self) -> Option<bool> {
        let out = self.secrets_call(
            DEFAULT_ALIAS,
            "org.freedesktop.DBus.Properties.Get",
            &["string:org.freedesktop.Secret.Collection", "string:Locked"],
        );
        if out.stdout.contains("boolean true") {
            Some(true)
        } else if out.stdout.contains("boolean false") {
            Some(false)
        } else {
            None
        }
    }

    /// Polls `ok` every 20 ms until [`STATE_DEADLINE`]; fails early if the daemon exits.
    pub(super) fn wait_until(&self, ok: impl Fn(&Self) -> bool, what: &str) -> Result<(), String> {
        let deadline = Instant::now() + STATE_DEADLINE;
        while !ok(self) {
            if let Ok(Some(status)) = lock(&self.daemon).try_wait() {
                return Err(format!("{} exited ({status}) before {what}", self.provider));
            }
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// `dbus-send` to `org.freedesktop.secrets`; a `method` without a dot is taken to be in
    /// `org.freedesktop.Secret.`.
    pub(super) fn secrets_call(&self, path: &str, method: &str, args: &[&str]) -> Output {
        let method = if method.starts_with("org.") {
            method.to_owned()
        } else {
            format!("org.freedesktop.Secret.{method}")
        };
        self.bus_call("org.freedesktop.secrets", path, &method, args)
    }

    /// `dbus-send --print-reply` with a 5 s reply timeout.
    pub(super) fn bus_call(&self, dest: &str, path: &str, method: &str, args: &[&str]) -> Output {
        let mut cmd = self.command("dbus-send");
        cmd.args(["--session", "--print-reply", "--reply-timeout=5000"])
            .arg(format!("--dest={dest}"))
            .args([path, method])
            .args(args);
        run_answered(&mut cmd, "", "dbus-send")
    }

    pub(super) fn name_has_owner(&self, name: &str) -> bool {
        self.bus_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            &[&format!("string:{name}")],
        )
        .stdout
        .contains("boolean true")
    }

    /// The pid of the process that owns `name` on this bus, if any.
    pub(super) fn name_owner_pid(&self, name: &str) -> Option<u32> {
        let out = self.bus_call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            &[&format!("string:{name}")],
        );
        out.stdout
            .split_once("uint32 ")
            .and_then(|(_, pid)| pid.trim().parse().ok())
    }
}

/// The object paths in a `dbus-send --print-reply` answer, in order.
pub(super) fn object_paths(reply: &str) -> Vec<String> {
    reply
        .lines()
        .filter_map(|l| l.trim().strip_prefix("object path \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(str::to_owned)
        .collect()
}
