//! The private world one Secret Service provider runs in: a temp directory holding its HOME,
//! XDG directories and TMPDIR, a D-Bus session bus that can start nothing, and the watchdog
//! that cleans up after it.
//!
//! Why: every provider (gnome-keyring, KeePassXC, kwalletd5) finds its files through HOME and
//! the XDG variables, KeePassXC keeps its single-instance socket in TMPDIR, and each would be
//! auto-started by a bus that has service directories. Giving each session all of these inside
//! one directory keeps it away from the user's keychains and from every other test, and lets
//! the watchdog remove everything at once. See [`super::super`] for how the watchdog works.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, PoisonError};

/// One session's directory and watchdog. Dropping it (after the daemons were stopped) lets the
/// watchdog delete the directory.
pub(super) struct Sandbox {
    dir: PathBuf,
    watchdog: Mutex<Option<(Child, ChildStdin)>>,
}

impl Sandbox {
    /// A fresh directory with its subdirectories, watched from the start.
    pub(super) fn new() -> Result<Sandbox, String> {
        let dir = tempfile::Builder::new()
            .prefix("gcb-secret-service-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?
            .keep();
        // The watchdog comes first so that nothing started after it can be left behind.
        let watchdog = spawn_watchdog(&dir).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&dir);
        })?;
        let sandbox = Sandbox {
            dir,
            watchdog: Mutex::new(Some(watchdog)),
        };
        for sub in ["home", "data", "config", "cache", "runtime", "tmp"] {
            std::fs::create_dir_all(sandbox.path(sub)).map_err(|e| format!("mkdir: {e}"))?;
        }
        set_mode(&sandbox.path("runtime"), 0o700)?;
        Ok(sandbox)
    }

    /// `rel` inside the session directory.
    pub(super) fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// HOME, XDG_*, TMPDIR, PATH and LANG for the daemons and clients of this session.
    pub(super) fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("PATH", std::env::var_os("PATH").unwrap_or_default()),
            ("HOME", self.path("home").into()),
            ("XDG_DATA_HOME", self.path("data").into()),
            ("XDG_CONFIG_HOME", self.path("config").into()),
            ("XDG_CACHE_HOME", self.path("cache").into()),
            ("XDG_RUNTIME_DIR", self.path("runtime").into()),
            ("TMPDIR", self.path("tmp").into()),
            ("LANG", "C".into()),
        ]
    }

    /// A command with exactly this session's environment and nothing else.
    pub(super) fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear().envs(self.env());
        cmd
    }

    /// Starts a daemon: output to `log` in the session directory, stdin piped (for a password)
    /// or null, its pid given to the watchdog.
    pub(super) fn spawn(
        &self,
        cmd: &mut Command,
        log: &str,
        piped_stdin: bool,
    ) -> Result<Child, String> {
        let stdin = if piped_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let out = self.log_file(log)?;
        let err = out.try_clone().map_err(|e| format!("{log}: {e}"))?;
        let child = cmd
            .stdin(stdin)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
        self.record_pid(child.id())?;
        Ok(child)
    }

    /// Writes `input` to a child's stdin and closes it (a password for `--unlock`,
    /// `--pw-stdin` or a client's prompt).
    pub(super) fn feed(child: &mut Child, input: &str) -> Result<(), String> {
        let mut stdin = child.stdin.take().ok_or("stdin is not piped")?;
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| format!("cannot write to {}: {e}", child.id()))
    }

    /// Starts a dbus-daemon with no service directories (nothing can be auto-started on it)
    /// and returns it with its address.
    pub(super) fn start_bus(&self) -> Result<(Child, String), String> {
        let config = format!(
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
             <busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>\n\
             <policy context=\"default\"><allow send_destination=\"*\" eavesdrop=\"true\"/>\
             <allow eavesdrop=\"true\"/><allow own=\"*\"/></policy></busconfig>\n",
            self.path("bus").display()
        );
        let conf = self.path("bus.conf");
        std::fs::write(&conf, config).map_err(|e| format!("bus.conf: {e}"))?;
        let mut dbus = self
            .command("dbus-daemon")
            .arg("--nofork")
            .arg("--print-address")
            .arg(format!("--config-file={}", conf.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(self.log_file("dbus-daemon.log")?)
            .spawn()
            .map_err(|e| format!("cannot start dbus-daemon: {e}"))?;
        self.record_pid(dbus.id())?;
        let mut line = String::new();
        let stdout = dbus.stdout.take().expect("piped stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        let address = line.trim().to_owned();
        if address.is_empty() {
            return Err("dbus-daemon printed no address".to_owned());
        }
        Ok((dbus, address))
    }

    /// `error` followed by every log of this session, for a failure message.
    pub(super) fn with_logs(&self, error: &str) -> String {
        let mut msg = error.to_owned();
        let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
            .collect();
        logs.sort();
        for log in logs {
            if let Ok(text) = std::fs::read_to_string(&log) {
                let name = log.file_name().unwrap_or_default().to_string_lossy();
                msg.push_str(&format!("\n--- {name} ---\n{}", text.trim_end()));
            }
        }
        msg
    }

    pub(super) fn log_file(&self, name: &str) -> Result<std::fs::File, String> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .map_err(|e| format!("{name}: {e}"))
    }

    fn record_pid(&self, pid: u32) -> Result<(), String> {
        let mut f = self.log_file("pids")?;
        writeln!(f, "{pid}").map_err(|e| format!("pids: {e}"))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The session stopped its daemons: empty the list, then let the watchdog delete the
        // directory.
        let _ = std::fs::write(self.path("pids"), "");
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

/// Stops a child for good: SIGKILL, then reaps it. KeePassXC ignores SIGTERM while a dialog
/// (invisible here) is open, so nothing gentler is reliable.
pub(super) fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

pub(super) fn set_mode(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// `sh` that waits for EOF on its stdin, then kills every pid in `DIR/pids` and removes DIR.
/// SIGTERM first, then SIGKILL for what ignored it (KeePassXC with a dialog open does).
fn spawn_watchdog(dir: &Path) -> Result<(Child, ChildStdin), String> {
    let script = r#"trap '' INT HUP TERM; cat >/dev/null
pids=$(cat "$1/pids" 2>/dev/null)
if [ -n "$pids" ]; then kill $pids 2>/dev/null; sleep 0.2; kill -9 $pids 2>/dev/null; fi
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
