//! Which real store a test runs on, and how a test HOME is pointed at it.
//!
//! Why one place: the rig ([`crate::rig`]) and [`PrivateStore`](super::PrivateStore) both start
//! stores for a HOME. With a copy of this match each, one of them once started GNOME Keyring
//! for every Secret Service store, so tests named for KeePassXC and KWallet ran on GNOME
//! Keyring.

use super::git::TestEnv;
use super::keyrings::{KeyutilsSession, Provider, SecretServiceSession};
use super::wine::Wine;

/// The real stores the flows run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreUnderTest {
    /// The Secret Service served by GNOME Keyring.
    SecretService,
    /// The Secret Service served by KeePassXC (it prompts on every change; its search waits
    /// while it is locked).
    KeePassXc,
    /// The Secret Service served by KWallet (its collection starts locked).
    KWallet,
    Keyutils,
    File,
    /// The Windows build under Wine, with Wine's Credential Manager.
    Wincred,
}

/// Whose Secret Service provider a HOME's store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// One of its own, stopped when the HOME is dropped: for tests that lock, list, clear or
    /// break it.
    Own,
    /// The one of that provider shared by the whole test process.
    Shared,
    /// None is started: the test points the HOME at a bus of its choosing (a missing one, a
    /// wedged one). Stores that are not a Secret Service start as with [`Daemon::Own`].
    NotStarted,
}

/// What keeps a HOME's store alive: hold it as long as the HOME is used.
pub struct StoreSessions {
    /// The HOME's own Secret Service ([`Daemon::Own`]).
    pub secret_service: Option<SecretServiceSession>,
    /// Its keyutils session (always its own: each is in a user namespace of its own).
    pub keyutils: Option<KeyutilsSession>,
}

impl StoreUnderTest {
    /// The Secret Service provider behind this store, if it is one.
    pub fn provider(self) -> Option<Provider> {
        match self {
            StoreUnderTest::SecretService => Some(Provider::GnomeKeyring),
            StoreUnderTest::KeePassXc => Some(Provider::KeePassXc {
                unlock_before_search: true,
            }),
            StoreUnderTest::KWallet => Some(Provider::KWallet),
            _ => None,
        }
    }

    pub fn flag(self) -> &'static str {
        match self {
            StoreUnderTest::SecretService | StoreUnderTest::KeePassXc | StoreUnderTest::KWallet => {
                "secret-service"
            }
            StoreUnderTest::Keyutils => "keyutils",
            StoreUnderTest::File => "file",
            StoreUnderTest::Wincred => "wincred",
        }
    }

    /// Points `env` at this store, starting what it needs (a Secret Service provider per
    /// `daemon`, a keyutils session, a Wine prefix), or `None` when the store is missing and
    /// skipping is allowed (see [`skip_or_panic`](super::skip_or_panic)).
    #[track_caller]
    pub fn attach(self, env: &mut TestEnv, daemon: Daemon) -> Option<StoreSessions> {
        let mut sessions = StoreSessions {
            secret_service: None,
            keyutils: None,
        };
        if let Some(provider) = self.provider() {
            match daemon {
                Daemon::Own => {
                    let session = SecretServiceSession::start_provider_or_skip(provider)?;
                    env.use_secret_service(&session);
                    sessions.secret_service = Some(session);
                }
                Daemon::Shared => {
                    env.use_secret_service(SecretServiceSession::shared_provider_or_skip(
                        provider,
                    )?);
                }
                Daemon::NotStarted => {}
            }
            return Some(sessions);
        }
        match self {
            StoreUnderTest::Keyutils => {
                let session = KeyutilsSession::new_or_skip()?;
                env.use_keyutils(&session);
                sessions.keyutils = Some(session);
            }
            StoreUnderTest::Wincred => env.use_windows_helper(Wine::shared_or_skip()?),
            _ => {}
        }
        Some(sessions)
    }
}
