//! The Secret Service half of [`super`]: gnome-keyring on a private D-Bus session bus.
//!
//! Why this way: gnome-keyring is the Secret Service most Linux desktops and CI images have; run
//! with `--unlock` and a password on stdin it creates an unlocked `login` collection (alias
//! `default`) with no GUI. The bus config has no service directories, so nothing can be
//! auto-started behind the test's back. See [`super`] for how the daemons are cleaned up.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::{on_path, skip_or_panic};
use crate::support::git::Output;

/// Password of the test `login` collection.
const KEYRING_PASSWORD: &str = "test";
const DEFAULT_ALIAS: &str = "/org/freedesktop/secrets/aliases/default";

/// A gnome-keyring Secret Service with an unlocked `login` collection (alias `default`), on a
/// private session bus. Use [`SecretServiceSession::shared`] unless the test locks the keychain.
pub struct SecretServiceSession {
    dir: PathBuf,
    bus_address: String,
    dbus: Mutex<Child>,
    keyring: Mutex<Child>,
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
}

impl SecretServiceSession {
    /// The session shared by the whole test process, started on first use; `None` (with the reason
    /// on stderr) if it cannot start. It is never locked by well-behaved tests.
    pub fn shared() -> Option<&'static SecretServiceSession> {
        Self::shared_result().ok()
    }

    fn shared_result() -> Result<&'static SecretServiceSession, &'static str> {
        static SHARED: OnceLock<Result<SecretServiceSession, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                SecretServiceSession::start()
                    .inspect_err(|e| eprintln!("Secret Service test session unavailable: {e}"))
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// [`shared`](Self::shared), or skip/panic per [`skip_or_panic`]. `None` means "skip".
    #[track_caller]
    pub fn shared_or_skip() -> Option<&'static SecretServiceSession> {
        match Self::shared_result() {
            Ok(s) => Some(s),
            Err(e) => {
                skip_or_panic("Secret Service (gnome-keyring)", e);
                None
            }
        }
    }

    /// [`SecretServiceSession::start`], or `None` after saying why (see `skip_or_panic`).
    pub fn start_or_skip() -> Option<SecretServiceSession> {
        Self::start()
            .inspect_err(|e| {
                skip_or_panic("Secret Service (gnome-keyring)", e);
            })
            .ok()
    }

    /// A private session, stopped on drop: for tests that lock or otherwise disturb the keychain.
    pub fn start() -> Result<SecretServiceSession, String> {
        for p in [
            "dbus-daemon",
            "gnome-keyring-daemon",
            "dbus-send",
            "secret-tool",
            "sh",
        ] {
            if !on_path(p) {
                return Err(format!("`{p}` is not on PATH"));
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("gcb-secret-service-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?
            .keep();
        // The watchdog comes first so that nothing started after it can be left behind.
        let watchdog = spawn_watchdog(&dir).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&dir);
        })?;
        // On any error below, the logs are read before the watchdog (dropped on return) or
        // the session's Drop cleans up.
        let (dbus, bus_address, keyring) = start_daemons(&dir).map_err(|e| with_logs(&dir, &e))?;
        let session = SecretServiceSession {
            dir: dir.clone(),
            bus_address,
            dbus: Mutex::new(dbus),
            keyring: Mutex::new(keyring),
            watchdog: Mutex::new(Some(watchdog)),
        };
        let ready = session
            .wait_until(|s| s.name_has_owner(), "org.freedesktop.secrets on the bus")
            .and_then(|()| session.ensure_default_alias())
            .and_then(|()| session.probe());
        match ready {
            Ok(()) => Ok(session),
            Err(e) => Err(with_logs(&dir, &e)),
        }
    }

    /// The bus to give the helper as DBUS_SESSION_BUS_ADDRESS.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// The bus's socket (for a relay in front of it).
    pub fn bus_socket(&self) -> PathBuf {
        self.dir.join("bus")
    }

    /// The pid of dbus-daemon (to stop it with SIGSTOP or kill it in a fault test).
    pub fn dbus_pid(&self) -> u32 {
        self.dbus
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .id()
    }

    /// Kills both daemons (as a crash of the bus would) and starts new ones on the same files:
    /// items survive, on disk. The bus address changes (its guid). Private sessions only.
    pub fn restart(&mut self) {
        for child in [&self.keyring, &self.dbus] {
            let mut child = child.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = child.kill();
            let _ = child.wait();
        }
        let (dbus, bus_address, keyring) =
            start_daemons(&self.dir).unwrap_or_else(|e| panic!("{}", with_logs(&self.dir, &e)));
        self.bus_address = bus_address;
        *self.dbus.lock().unwrap_or_else(PoisonError::into_inner) = dbus;
        *self.keyring.lock().unwrap_or_else(PoisonError::into_inner) = keyring;
        self.wait_until(
            |s| s.locked_state() == Some(false),
            "an unlocked collection",
        )
        .expect("restart");
    }

    /// A command with this session's environment (HOME, XDG_*, DBUS_SESSION_BUS_ADDRESS).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(base_env(&self.dir))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address);
        cmd
    }

    /// Runs `secret-tool ARGS` on this session with `stdin` (where `store` reads the secret).
    pub fn secret_tool(&self, args: &[&str], stdin: &str) -> Output {
        Output::run(self.command("secret-tool").args(args), stdin)
    }

    /// Runs `dbus-send --session --print-reply --dest=org.freedesktop.secrets PATH METHOD ARGS`.
    fn secrets_call(&self, path: &str, method: &str, args: &[&str]) -> Output {
        let mut cmd = self.command("dbus-send");
        cmd.args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            path,
            method,
        ]);
        Output::run(cmd.args(args), "")
    }

    fn name_has_owner(&self) -> bool {
        let mut cmd = self.command("dbus-send");
        cmd.args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ]);
        Output::run(&mut cmd, "").stdout.contains("boolean true")
    }

    fn wait_until(&self, ok: impl Fn(&Self) -> bool, what: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ok(self) {
            let mut keyring = self.keyring.lock().unwrap_or_else(PoisonError::into_inner);
            if let Ok(Some(status)) = keyring.try_wait() {
                return Err(format!(
                    "gnome-keyring-daemon exited ({status}) before {what}"
                ));
            }
            drop(keyring);
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// gnome-keyring started with `--unlock` creates `login` and points `default` at it; if the
    /// alias is missing anyway, point it there ourselves.
    fn ensure_default_alias(&self) -> Result<(), String> {
        let svc = "/org/freedesktop/secrets";
        let alias = self.secrets_call(
            svc,
            "org.freedesktop.Secret.Service.ReadAlias",
            &["string:default"],
        );
        if alias.success() && alias.stdout.contains("/collection/") {
            return Ok(());
        }
        let set = self.secrets_call(
            svc,
            "org.freedesktop.Secret.Service.SetAlias",
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

    /// Stores, reads back and clears an item, as the helper will.
    fn probe(&self) -> Result<(), String> {
        let attrs = ["service", "gcb-probe", "username", "probe"];
        let mut store = vec!["store", "--label=gcb probe"];
        store.extend(attrs);
        let stored = self.secret_tool(&store, "probe-secret");
        let lookup = self.secret_tool(&[&["lookup"][..], &attrs].concat(), "");
        let cleared = self.secret_tool(&[&["clear"][..], &attrs].concat(), "");
        if stored.success() && lookup.stdout == "probe-secret" && cleared.success() {
            Ok(())
        } else {
            Err(format!(
                "secret-tool probe failed: {stored:?}\n{lookup:?}\n{cleared:?}"
            ))
        }
    }

    /// Is the `default` collection locked? Panics if the service does not answer.
    pub fn is_locked(&self) -> bool {
        self.locked_state()
            .expect("Secret Service did not answer for the Locked property")
    }

    /// `Some(locked)`, or `None` if the service did not answer (e.g. while being replaced).
    fn locked_state(&self) -> Option<bool> {
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

    /// Locks the `default` collection (as a screen lock or timeout would). Affects every test
    /// using this session: lock only a private one from [`start`](Self::start).
    pub fn lock_collection(&self) {
        let out = self.secrets_call(
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &[&format!("array:objpath:{DEFAULT_ALIAS}")],
        );
        out.assert_success();
        assert!(self.is_locked(), "collection still unlocked after Lock");
    }

    /// The pid of the running gnome-keyring-daemon (to stop it with SIGSTOP in a fault test).
    pub fn keyring_pid(&self) -> u32 {
        self.keyring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .id()
    }

    /// The daemons' logs and whether gnome-keyring is still running, for a failure message.
    pub fn diagnostics(&self) -> String {
        let alive = self
            .keyring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_wait()
            .map(|status| match status {
                None => "gnome-keyring-daemon is running".to_owned(),
                Some(status) => format!("gnome-keyring-daemon exited: {status}"),
            })
            .unwrap_or_else(|e| format!("gnome-keyring-daemon: {e}"));
        with_logs(&self.dir, &alive)
    }

    /// Kills gnome-keyring-daemon (SIGKILL), as a crash would; its items stay on disk and
    /// [`unlock_collection`](Self::unlock_collection) starts a new daemon. Private sessions only.
    pub fn kill_keyring(&self) {
        let mut keyring = self.keyring.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = keyring.kill();
        let _ = keyring.wait();
    }

    /// Unlocks the `default` collection. Unlocking over D-Bus needs a GUI prompter, so this
    /// replaces the daemon with a new one started with `--replace --unlock` and the password;
    /// items survive (they are on disk). Clients connected meanwhile may see the service vanish.
    pub fn unlock_collection(&self) {
        let new = spawn_keyring(&self.dir, &self.bus_address, true).expect("restart gnome-keyring");
        let mut old = std::mem::replace(
            &mut *self.keyring.lock().unwrap_or_else(PoisonError::into_inner),
            new,
        );
        // The old daemon hands over and exits; only then is the new one surely the owner.
        let deadline = Instant::now() + Duration::from_secs(10);
        while old.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = old.kill();
        let _ = old.wait();
        self.wait_until(
            |s| s.locked_state() == Some(false),
            "an unlocked collection",
        )
        .expect("unlock");
    }
}

impl Drop for SecretServiceSession {
    fn drop(&mut self) {
        for child in [&self.keyring, &self.dbus] {
            let mut child = child.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = child.kill();
            let _ = child.wait();
        }
        // Nothing left to kill: empty the list, then let the watchdog delete the directory.
        let _ = std::fs::write(self.dir.join("pids"), "");
        if let Some((mut child, stdin)) = self
            .watchdog
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// Starts dbus-daemon (returning it and its address) and gnome-keyring-daemon in `dir`.
fn start_daemons(dir: &Path) -> Result<(Child, String, Child), String> {
    for sub in ["home", "data", "config", "cache", "runtime"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("mkdir: {e}"))?;
    }
    set_mode(&dir.join("runtime"), 0o700)?;
    // A session bus with no service directories: nothing gets auto-started on it.
    let config = format!(
        "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
         \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
         <busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\n\
         <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
         <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
        dir.join("bus").display()
    );
    std::fs::write(dir.join("bus.conf"), config).map_err(|e| format!("bus.conf: {e}"))?;
    let mut dbus = Command::new("dbus-daemon")
        .arg("--nofork")
        .arg("--print-address")
        .arg(format!("--config-file={}", dir.join("bus.conf").display()))
        .env_clear()
        .envs(base_env(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(dir, "dbus-daemon.log")?)
        .spawn()
        .map_err(|e| format!("cannot start dbus-daemon: {e}"))?;
    record_pid(dir, dbus.id())?;
    let mut line = String::new();
    let stdout = dbus.stdout.take().expect("piped stdout");
    let _ = BufReader::new(stdout).read_line(&mut line);
    let bus_address = line.trim().to_owned();
    if bus_address.is_empty() {
        return Err("dbus-daemon printed no address".to_owned());
    }
    let keyring = spawn_keyring(dir, &bus_address, false)?;
    Ok((dbus, bus_address, keyring))
}

/// `error` followed by the daemons' logs, for a start-up failure.
fn with_logs(dir: &Path, error: &str) -> String {
    let mut msg = error.to_owned();
    for log in ["dbus-daemon.log", "gnome-keyring.log"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(log)) {
            msg.push_str(&format!("\n--- {log} ---\n{}", text.trim_end()));
        }
    }
    msg
}

/// HOME, XDG_* and PATH for the daemons and clients of one session, all inside `dir`.
fn base_env(dir: &Path) -> Vec<(&'static str, std::ffi::OsString)> {
    vec![
        ("PATH", std::env::var_os("PATH").unwrap_or_default()),
        ("HOME", dir.join("home").into()),
        ("XDG_DATA_HOME", dir.join("data").into()),
        ("XDG_CONFIG_HOME", dir.join("config").into()),
        ("XDG_CACHE_HOME", dir.join("cache").into()),
        ("XDG_RUNTIME_DIR", dir.join("runtime").into()),
        ("LANG", "C".into()),
    ]
}

fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

fn log_file(dir: &Path, name: &str) -> Result<std::fs::File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))
        .map_err(|e| format!("{name}: {e}"))
}

fn record_pid(dir: &Path, pid: u32) -> Result<(), String> {
    let mut f = log_file(dir, "pids")?;
    writeln!(f, "{pid}").map_err(|e| format!("pids: {e}"))
}

/// `sh` that waits for EOF on its stdin, then kills every pid in `DIR/pids` and removes DIR.
fn spawn_watchdog(dir: &Path) -> Result<(Child, ChildStdin), String> {
    let script = r#"trap '' INT HUP TERM; cat >/dev/null
pids=$(cat "$1/pids" 2>/dev/null)
if [ -n "$pids" ]; then kill $pids 2>/dev/null; sleep 0.2; fi
rm -rf "$1""#;
    let mut child = Command::new("sh")
        .args(["-c", script, "gcb-keyring-watchdog"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the cleanup watchdog: {e}"))?;
    let stdin = child.stdin.take().expect("piped stdin");
    Ok((child, stdin))
}

/// Starts `gnome-keyring-daemon --unlock` (optionally `--replace`) with the password on stdin.
fn spawn_keyring(dir: &Path, bus_address: &str, replace: bool) -> Result<Child, String> {
    let mut cmd = Command::new("gnome-keyring-daemon");
    cmd.args(["--foreground", "--unlock", "--components=secrets"]);
    if replace {
        cmd.arg("--replace");
    }
    let mut child = cmd
        .env_clear()
        .envs(base_env(dir))
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(log_file(dir, "gnome-keyring.log")?)
        .spawn()
        .map_err(|e| format!("cannot start gnome-keyring-daemon: {e}"))?;
    record_pid(dir, child.id())?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(KEYRING_PASSWORD.as_bytes())
        .map_err(|e| format!("cannot give gnome-keyring its password: {e}"))?;
    Ok(child)
}
