//! Which Secret Service provider a session runs, and what each needs.
//!
//! Why an enum: a test that must hold on every provider loops over [`Provider::ALL`]; one that
//! is about one provider's quirk names it. Shared sessions are kept per variant.

use std::fmt;

/// Which program serves `org.freedesktop.secrets`, and how it is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// gnome-keyring-daemon, its `login` collection (alias `default`) unlocked.
    GnomeKeyring,
    /// KeePassXC with one database, unlocked, one group exposed, confirmations off.
    /// `unlock_before_search` is its setting of that name (its default is `true`).
    KeePassXc { unlock_before_search: bool },
    /// kwalletd5 with the wallet `kdewallet` (alias `default`), as a login leaves it: opened
    /// with an empty password, and its collection Locked until a client calls `Unlock`.
    KWallet,
}

impl Provider {
    /// Every provider, each in its default setup: run a flow on each of these.
    pub const ALL: [Provider; 3] = [
        Provider::GnomeKeyring,
        Provider::KeePassXc {
            unlock_before_search: true,
        },
        Provider::KWallet,
    ];

    /// A short name for messages: `gnome-keyring`, `keepassxc`, `kwallet`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::GnomeKeyring => "gnome-keyring",
            Provider::KeePassXc { .. } => "keepassxc",
            Provider::KWallet => "kwallet",
        }
    }

    /// The programs it needs on PATH (beside dbus-daemon, dbus-send, secret-tool and sh).
    pub(super) fn programs(self) -> &'static [&'static str] {
        match self {
            Provider::GnomeKeyring => &["gnome-keyring-daemon"],
            Provider::KeePassXc { .. } => &["keepassxc", "keepassxc-cli"],
            Provider::KWallet => &["kwalletd5"],
        }
    }

    pub(super) fn index(self) -> usize {
        match self {
            Provider::GnomeKeyring => 0,
            Provider::KeePassXc {
                unlock_before_search: true,
            } => 1,
            Provider::KeePassXc {
                unlock_before_search: false,
            } => 2,
            Provider::KWallet => 3,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::KeePassXc {
                unlock_before_search: false,
            } => f.write_str("keepassxc (UnlockBeforeSearch=false)"),
            other => f.write_str(other.name()),
        }
    }
}
