//! The user's data directory (`$XDG_DATA_HOME/git-credential-bitbucket` on Linux): the file
//! store's tokens, the facts file, the Secret Service hints and the writer lock that every
//! writer takes.

use std::path::PathBuf;
use std::time::Duration;

use super::SERVICE;
use super::lock::{self, LockError, WriterLock};

/// Where the file store and other per-user data live.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// The user data directory, if there is a home directory.
    pub fn for_user() -> Option<DataDir> {
        directories::ProjectDirs::from("", "", SERVICE).map(|d| DataDir(d.data_dir().to_owned()))
    }

    /// The user's writer lock ([`lock`]), waiting at most [`lock::WAIT`] for another writer.
    pub fn lock(&self) -> Result<WriterLock, LockError> {
        WriterLock::acquire(&self.0, lock::WAIT)
    }

    /// The writer lock for a writer that removes tokens (`deleting`) or only adds them. Another
    /// writer holding it past the wait is always an error; a lock that cannot be made at all
    /// (read-only or unusable data directory) is one only for a writer that deletes, so nothing
    /// is deleted unlocked, while one that only adds goes on without it (`Ok(None)`).
    pub fn writer_lock(&self, deleting: bool) -> Result<Option<WriterLock>, LockError> {
        match self.lock() {
            Ok(lock) => Ok(Some(lock)),
            Err(e @ LockError::Busy { .. }) => Err(e),
            Err(e) if deleting => Err(e),
            Err(LockError::Unavailable { .. }) => Ok(None),
        }
    }

    /// The lock only if it is free now: for `get`, which never waits to note a warning.
    pub fn lock_if_free(&self) -> Option<WriterLock> {
        WriterLock::acquire(&self.0, Duration::ZERO).ok()
    }
}
