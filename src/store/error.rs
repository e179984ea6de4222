//! What can go wrong with a keychain, said without any secret: each backend translates its own
//! failures into these, so callers match on what happened (locked, unavailable) and never on an
//! error's text.

use super::Backend;

/// A keychain failure, described without any secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The keychain cannot be reached or used at all (no service, no session keyring, a file
    /// that is not to be trusted): `auto` falls back from it.
    #[error("the {} store is not available: {reason}", backend.name())]
    Unavailable { backend: Backend, reason: String },
    /// The keychain is there but locked, and was not unlocked: `how` says what to do.
    #[error("the {} store is locked ({what}); {how}", backend.name())]
    Locked {
        backend: Backend,
        /// What is locked, e.g. `KeePassXC's collection "Passwords"`.
        what: String,
        /// What a person can do about it.
        how: String,
    },
    /// The keychain answered but the operation failed.
    #[error("the {} store failed: {reason}", backend.name())]
    Failed { backend: Backend, reason: String },
    #[error("--store {0} is not available on this operating system")]
    NotOnThisPlatform(&'static str),
}

impl StoreError {
    /// True for a keychain that is there but locked.
    pub fn is_locked(&self) -> bool {
        matches!(self, StoreError::Locked { .. })
    }
}
