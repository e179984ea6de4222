//! gnome-keyring-daemon, headless.
//!
//! Why this way: started with `--unlock` and a password on stdin it creates (or opens) an
//! unlocked `login` collection, alias `default`, with no GUI. Started again with `--replace
//! --unlock` it takes over the bus name with the collection unlocked, which is how a test
//! unlocks it with nobody at a prompt; prompts themselves go to the stand-in of [`super::prompter`].

use std::process::Child;
use std::time::{Duration, Instant};

use super::bus::object_paths;
use super::sandbox::{self, Sandbox};
use super::{SERVICE, SecretServiceSession, lock};

/// Password of the test `login` collection (a fixture, not a secret).
pub(super) const KEYRING_PASSWORD: &str = "test";

/// Starts `gnome-keyring-daemon --unlock` (optionally `--replace`) with the password on stdin.
pub(super) fn spawn(sandbox: &Sandbox, bus_address: &str, replace: bool) -> Result<Child, String> {
    let mut cmd = sandbox.command("gnome-keyring-daemon");
    cmd.args(["--foreground", "--unlock", "--components=secrets"])
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address);
    if replace {
        cmd.arg("--replace");
    }
    let mut child = sandbox.spawn(&mut cmd, "gnome-keyring.log", true)?;
    Sandbox::feed(&mut child, KEYRING_PASSWORD)
        .map_err(|e| format!("cannot give gnome-keyring its password: {e}"))?;
    Ok(child)
}

impl SecretServiceSession {
    /// Replaces the daemon with one started with `--replace --unlock`: the collection comes
    /// back unlocked (items survive, on disk).
    pub(super) fn replace_keyring(&self) {
        let new = spawn(&self.sandbox, &self.bus_address, true).expect("restart gnome-keyring");
        let mut old = std::mem::replace(&mut *lock(&self.daemon), new);
        // The old daemon hands over and exits; only then is the new one surely the owner.
        let deadline = Instant::now() + Duration::from_secs(10);
        while old.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        sandbox::kill(&mut old);
    }

    /// gnome-keyring started with `--unlock` creates `login` and points `default` at it; if the
    /// alias is missing anyway, point it there ourselves.
    pub(super) fn ensure_default_alias(&self) -> Result<(), String> {
        let alias = self.secrets_call(SERVICE, "Service.ReadAlias", &["string:default"]);
        if alias.success()
            && object_paths(&alias.stdout)
                .iter()
                .any(|p| p.contains("/collection/"))
        {
            return Ok(());
        }
        let set = self.secrets_call(
            SERVICE,
            "Service.SetAlias",
            &[
                "string:default",
                "objpath:/org/freedesktop/secrets/collection/login",
            ],
        );
        if set.success() {
            Ok(())
        } else {
            Err(format!(
                "no default collection and SetAlias failed: {set:?}"
            ))
        }
    }
}
