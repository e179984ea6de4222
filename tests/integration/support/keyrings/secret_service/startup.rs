//! Bringing a provider up: its files, its bus and daemon, and the checks that it serves.
//!
//! Why a probe: a provider that starts but cannot store (no exposed group in KeePassXC, no
//! wallet in KWallet, a missing crypto plugin) would otherwise fail inside some later test with
//! a misleading message. Each start ends with a `secret-tool` store, lookup and clear, and on
//! failure the error carries every daemon's log.

use std::process::Child;

use super::deadline::CLIENT_DEADLINE;
use super::sandbox::{self, Sandbox};
use super::{Provider, SecretServiceSession, gnome_keyring, keepassxc, kwallet, lock};
use crate::support::output::Output;

impl SecretServiceSession {
    /// What a new daemon needs before it serves: KWallet makes its wallet, then starts again.
    pub(super) fn prepare_first_start(&self) -> Result<(), String> {
        if self.provider == Provider::KWallet {
            self.create_wallet()?;
        }
        self.wait_ready()
    }

    /// Waits until the provider serves its `default` collection in its starting state.
    pub(super) fn wait_ready(&self) -> Result<(), String> {
        match self.provider {
            Provider::GnomeKeyring => {
                self.wait_until(
                    |s| s.name_has_owner("org.freedesktop.secrets"),
                    "the service",
                )?;
                self.ensure_default_alias()?;
                self.wait_until(
                    |s| s.locked_state() == Some(false),
                    "an unlocked collection",
                )
            }
            Provider::KeePassXc { .. } => {
                let pid = lock(&self.daemon).id();
                self.wait_until(
                    |s| s.name_owner_pid("org.freedesktop.secrets") == Some(pid),
                    "KeePassXC owning org.freedesktop.secrets",
                )?;
                self.wait_until(|s| s.locked_state() == Some(false), "an unlocked database")
            }
            Provider::KWallet => {
                self.wait_until(|s| s.locked_state().is_some(), "the wallet's collection")
            }
        }
    }

    /// Stores, reads back and clears an item with `secret-tool`, as the helper will. KWallet is
    /// then locked again: that is how a login leaves it.
    pub(super) fn probe(&self) -> Result<(), String> {
        let attrs = ["service", "gcb-probe", "username", "probe"];
        let mut store = vec!["store", "--label=gcb probe"];
        store.extend(attrs);
        let run = |args: &[&str], stdin: &str| self.run_secret_tool(args, stdin, CLIENT_DEADLINE);
        let stored = run(&store, "probe-secret");
        let lookup = run(&[&["lookup"][..], &attrs].concat(), "");
        let cleared = run(&[&["clear"][..], &attrs].concat(), "");
        let ok = |o: &Option<Output>| o.as_ref().is_some_and(Output::success);
        if !(ok(&stored)
            && ok(&cleared)
            && lookup.as_ref().is_some_and(|o| o.stdout == "probe-secret"))
        {
            return Err(format!(
                "secret-tool probe failed (None: no answer): {stored:?}\n{lookup:?}\n{cleared:?}"
            ));
        }
        if self.provider == Provider::KWallet {
            self.try_lock_collection()?;
        }
        Ok(())
    }
}

/// Starts the bus and the provider's daemon in `sandbox`; `first` on a new sandbox.
pub(super) fn start_daemons(
    provider: Provider,
    sandbox: &Sandbox,
    first: bool,
) -> Result<(Child, String, Child), String> {
    if first {
        match provider {
            Provider::GnomeKeyring => {}
            Provider::KeePassXc {
                unlock_before_search,
            } => keepassxc::prepare(sandbox, unlock_before_search)?,
            Provider::KWallet => kwallet::prepare(sandbox)?,
        }
    }
    let (dbus, address) = sandbox.start_bus()?;
    let daemon = match provider {
        Provider::GnomeKeyring => gnome_keyring::spawn(sandbox, &address, false),
        Provider::KeePassXc { .. } => keepassxc::spawn(sandbox, &address),
        Provider::KWallet => kwallet::spawn(sandbox, &address),
    };
    match daemon {
        Ok(daemon) => Ok((dbus, address, daemon)),
        Err(e) => {
            let mut dbus = dbus;
            sandbox::kill(&mut dbus);
            Err(e)
        }
    }
}
