//! The Secret Service half of [`super`]: a real provider of `org.freedesktop.secrets` on a
//! private D-Bus, started headless: gnome-keyring, KeePassXC or KWallet (kwalletd5).
//!
//! Why several: the helper must work with what users run, and the providers differ where it
//! matters (docs/testing.md has the details): gnome-keyring answers writes at once but is often
//! locked and then needs a prompt; KeePassXC answers every write and delete with a prompt; KWallet
//! starts locked and hands out empty secrets while locked. One [`SecretServiceSession`] type
//! drives all of them, so a test can run the same flow on each ([`Provider::ALL`]).
//!
//! Each session runs in a [`sandbox`]: its own HOME, XDG directories and TMPDIR, a bus with no
//! service directories (nothing can be auto-started behind the test's back), and a watchdog
//! that kills the daemons and deletes the directory even if the test process dies.

mod bus;
mod deadline;
mod gnome_keyring;
mod keepassxc;
mod kwallet;
mod prompter;
mod prompts;
mod provider;
mod sandbox;
mod secret_tool;
mod startup;

use std::ffi::OsStr;
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

pub use prompter::PrompterMode;
pub use prompts::PromptOutcome;
pub use provider::Provider;

use super::{on_path, skip_or_panic};
use bus::object_paths;
use sandbox::Sandbox;
use startup::start_daemons;

const SERVICE: &str = "/org/freedesktop/secrets";
const DEFAULT_ALIAS: &str = "/org/freedesktop/secrets/aliases/default";
/// How long a provider may take to come up or change state on a loaded machine.
const STATE_DEADLINE: Duration = Duration::from_secs(15);

/// A Secret Service provider on a private session bus. Use [`shared_or_skip`](Self::shared_or_skip)
/// (or [`shared_provider`](Self::shared_provider)) unless the test locks or disturbs it.
pub struct SecretServiceSession {
    provider: Provider,
    bus_address: String,
    dbus: Mutex<Child>,
    daemon: Mutex<Child>,
    /// The stand-in prompter (gnome-keyring only), when one is on the bus.
    prompter: Mutex<Option<Child>>,
    /// Last: dropped after [`Drop`] stopped the daemons, it deletes their directory.
    sandbox: Sandbox,
}

impl SecretServiceSession {
    /// The gnome-keyring session shared by the whole test process, started on first use, or
    /// skip/panic per [`skip_or_panic`] (`None` means "skip"). Well-behaved tests never lock it.
    #[track_caller]
    pub fn shared_or_skip() -> Option<&'static SecretServiceSession> {
        Self::shared_provider_or_skip(Provider::GnomeKeyring)
    }

    /// A private gnome-keyring session, stopped on drop: for tests that lock or disturb it; or
    /// `None` after saying why (see [`skip_or_panic`]).
    #[track_caller]
    pub fn start_or_skip() -> Option<SecretServiceSession> {
        Self::start_provider_or_skip(Provider::GnomeKeyring)
    }

    /// The session of `provider` shared by the whole test process, started on first use.
    /// A shared KWallet may be locked or unlocked: its first client unlocks it for everyone.
    pub fn shared_provider(provider: Provider) -> Option<&'static SecretServiceSession> {
        Self::shared_result(provider).ok()
    }

    /// [`shared_provider`](Self::shared_provider), or skip/panic per [`skip_or_panic`].
    #[track_caller]
    pub fn shared_provider_or_skip(provider: Provider) -> Option<&'static SecretServiceSession> {
        match Self::shared_result(provider) {
            Ok(s) => Some(s),
            Err(e) => {
                skip_or_panic(&format!("Secret Service ({provider})"), e);
                None
            }
        }
    }

    fn shared_result(provider: Provider) -> Result<&'static SecretServiceSession, &'static str> {
        type Slot = OnceLock<Result<SecretServiceSession, String>>;
        static SHARED: [Slot; 4] = [const { OnceLock::new() }; 4];
        SHARED[provider.index()]
            .get_or_init(|| {
                SecretServiceSession::start_provider(provider).inspect_err(|e| {
                    eprintln!("Secret Service test session ({provider}) unavailable: {e}");
                })
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// [`start_provider`](Self::start_provider), or `None` after saying why.
    #[track_caller]
    pub fn start_provider_or_skip(provider: Provider) -> Option<SecretServiceSession> {
        Self::start_provider(provider)
            .inspect_err(|e| {
                skip_or_panic(&format!("Secret Service ({provider})"), e);
            })
            .ok()
    }

    /// A private session of `provider`, stopped on drop, ready: a `secret-tool` store, lookup
    /// and clear went through before it is returned.
    pub fn start_provider(provider: Provider) -> Result<SecretServiceSession, String> {
        let common = ["dbus-daemon", "dbus-send", "secret-tool", "sh", "kill"];
        if let Some(p) = common
            .iter()
            .chain(provider.programs())
            .find(|p| !on_path(p))
        {
            return Err(format!("`{p}` is not on PATH"));
        }
        if provider == Provider::KWallet && !std::path::Path::new(prompts::SYSTEM_PYTHON).is_file()
        {
            // The wallet key is derived with Python's hashlib.
            return Err(format!("{} is missing", prompts::SYSTEM_PYTHON));
        }
        let sandbox = Sandbox::new()?;
        let (dbus, bus_address, daemon) =
            start_daemons(provider, &sandbox, true).map_err(|e| sandbox.with_logs(&e))?;
        let session = SecretServiceSession {
            provider,
            bus_address,
            dbus: Mutex::new(dbus),
            daemon: Mutex::new(daemon),
            prompter: Mutex::new(None),
            sandbox,
        };
        let ready = session.prepare_first_start().and_then(|()| session.probe());
        match ready {
            Ok(()) => Ok(session),
            Err(e) => Err(session.sandbox.with_logs(&e)),
        }
    }

    /// Which provider this is.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The bus to give the helper as DBUS_SESSION_BUS_ADDRESS.
    pub fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// The bus's socket (for a relay in front of it).
    pub fn bus_socket(&self) -> std::path::PathBuf {
        self.sandbox.path("bus")
    }

    /// The pid of dbus-daemon (to stop it with SIGSTOP or kill it in a fault test).
    pub fn dbus_pid(&self) -> u32 {
        lock(&self.dbus).id()
    }

    /// The pid of the provider's daemon (to stop it with SIGSTOP in a fault test).
    pub fn keyring_pid(&self) -> u32 {
        lock(&self.daemon).id()
    }

    /// A command with this session's environment (HOME, XDG_*, TMPDIR, DBUS_SESSION_BUS_ADDRESS)
    /// and nothing else: a client on this bus.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = self.sandbox.command(program);
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address);
        cmd
    }

    /// The object path the `default` alias points at (each provider names it differently).
    pub fn default_collection(&self) -> String {
        let out = self.secrets_call(SERVICE, "Service.ReadAlias", &["string:default"]);
        object_paths(&out.stdout)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no default collection: {out:?}"))
    }

    /// Is the `default` collection locked? Panics if the service does not answer.
    pub fn is_locked(&self) -> bool {
        self.locked_state()
            .unwrap_or_else(|| panic!("{} did not answer for Locked", self.provider))
    }

    /// Locks the `default` collection, as a screen lock or a timeout would (no-op if it already
    /// is: KWallet refuses to lock twice). Affects every test using this session: lock only a
    /// private one. KeePassXC answers `Lock` with a prompt, which this follows.
    pub fn lock_collection(&self) {
        self.try_lock_collection()
            .unwrap_or_else(|e| panic!("{}", self.diagnostics_with(&e)));
    }

    pub(super) fn try_lock_collection(&self) -> Result<(), String> {
        match self.locked_state() {
            Some(true) => return Ok(()),
            Some(false) => {}
            None => return Err(format!("{} did not answer for Locked", self.provider)),
        }
        let out = self.secrets_call(
            SERVICE,
            "Service.Lock",
            &[&format!("array:objpath:{DEFAULT_ALIAS}")],
        );
        if !out.success() {
            return Err(format!("Lock failed: {out:?}"));
        }
        // The prompt is the last path of the reply; "/" when none is needed.
        if let Some(prompt) = object_paths(&out.stdout).last().filter(|p| *p != "/") {
            let prompted = self.secrets_call(prompt, "Prompt.Prompt", &["string:"]);
            if !prompted.success() {
                return Err(format!("the Lock prompt failed: {prompted:?}"));
            }
        }
        self.wait_until(|s| s.locked_state() == Some(true), "a locked collection")
    }

    /// Unlocks the `default` collection without anyone at a prompt: gnome-keyring is replaced by
    /// a daemon started with `--replace --unlock` (items survive on disk; clients connected
    /// meanwhile may see the service vanish; also brings back a killed daemon); KeePassXC opens
    /// its database again with the password; KWallet completes its `Unlock` prompt silently.
    pub fn unlock_collection(&self) {
        match self.provider {
            Provider::GnomeKeyring => self.replace_keyring(),
            Provider::KeePassXc { .. } => self.reopen_database(),
            Provider::KWallet => {
                let outcome = self.unlock_through_prompt(STATE_DEADLINE);
                assert_eq!(
                    outcome,
                    PromptOutcome::Completed { dismissed: false },
                    "{}",
                    self.diagnostics()
                );
            }
        }
        self.wait_until(
            |s| s.locked_state() == Some(false),
            "an unlocked collection",
        )
        .unwrap_or_else(|e| panic!("{}", self.diagnostics_with(&e)));
    }

    /// Kills every daemon (as a crash of the bus would) and starts new ones on the same files:
    /// items survive, on disk. The bus address changes (its guid); a stand-in prompter comes
    /// back on the new bus in its last mode. Private sessions only. KWallet is stopped with its
    /// D-Bus `quit` first: killed, its last writes may be lost.
    pub fn restart(&mut self) {
        if self.provider == Provider::KWallet {
            self.quit_kwallet();
        }
        let had_prompter = self.stop_prompter();
        for child in [&self.daemon, &self.dbus] {
            sandbox::kill(&mut lock(child));
        }
        let (dbus, bus_address, daemon) = start_daemons(self.provider, &self.sandbox, false)
            .unwrap_or_else(|e| panic!("{}", self.sandbox.with_logs(&e)));
        self.bus_address = bus_address;
        *lock(&self.dbus) = dbus;
        *lock(&self.daemon) = daemon;
        self.wait_ready()
            .unwrap_or_else(|e| panic!("restart: {}", self.diagnostics_with(&e)));
        if had_prompter {
            self.spawn_prompter()
                .unwrap_or_else(|e| panic!("restart: {}", self.diagnostics_with(&e)));
        }
    }

    /// Kills the provider's daemon (SIGKILL), as a crash would; its items stay on disk.
    /// For gnome-keyring, [`unlock_collection`](Self::unlock_collection) starts a new one.
    pub fn kill_keyring(&self) {
        sandbox::kill(&mut lock(&self.daemon));
    }

    /// The daemons' logs and whether the provider is still running, for a failure message.
    pub fn diagnostics(&self) -> String {
        self.diagnostics_with("")
    }

    pub(super) fn diagnostics_with(&self, error: &str) -> String {
        let alive = match lock(&self.daemon).try_wait() {
            Ok(None) => format!("{} is running", self.provider),
            Ok(Some(status)) => format!("{} exited: {status}", self.provider),
            Err(e) => format!("{}: {e}", self.provider),
        };
        self.sandbox.with_logs(&format!("{error}\n{alive}"))
    }
}

impl Drop for SecretServiceSession {
    fn drop(&mut self) {
        self.stop_prompter();
        for child in [&self.daemon, &self.dbus] {
            sandbox::kill(&mut lock(child));
        }
        // `sandbox` is dropped next and deletes the directory.
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
