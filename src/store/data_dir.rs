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

/// The XDG rule the `directories` crate follows on Linux (`$XDG_DATA_HOME` when absolute, else
/// `$HOME/.local/share`), read from two variables only: `ProjectDirs` works out every directory
/// of a project (cache, config, state, ...), about 26,000 instructions of a `get` that needs
/// one. Without `HOME` it is `None`, and the crate looks the home directory up.
#[cfg(target_os = "linux")]
fn xdg_data_dir(
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let data_home = match xdg_data_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(dir) => dir,
        None => PathBuf::from(home.filter(|h| !h.is_empty())?).join(".local/share"),
    };
    Some(data_home.join(SERVICE))
}

impl DataDir {
    /// The user data directory, if there is a home directory.
    pub fn for_user() -> Option<DataDir> {
        #[cfg(target_os = "linux")]
        if let Some(dir) = xdg_data_dir(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
        {
            return Some(DataDir(dir));
        }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_data_directory_follows_the_xdg_rule_as_the_directories_crate_does() {
        let dir = |xdg: Option<&str>, home: Option<&str>| {
            xdg_data_dir(xdg.map(Into::into), home.map(Into::into))
        };
        let ours = |p: &str| Some(PathBuf::from(p).join(SERVICE));
        assert_eq!(dir(Some("/x/data"), Some("/home/a")), ours("/x/data"));
        assert_eq!(
            dir(Some("relative"), Some("/home/a")),
            ours("/home/a/.local/share")
        );
        assert_eq!(dir(Some(""), Some("/home/a")), ours("/home/a/.local/share"));
        assert_eq!(dir(None, Some("/home/a")), ours("/home/a/.local/share"));
        assert_eq!(dir(None, Some("")), None);
        assert_eq!(dir(None, None), None);
        // The process's own environment: the same directory the crate names.
        let crate_dir =
            directories::ProjectDirs::from("", "", SERVICE).map(|d| d.data_dir().to_owned());
        if std::env::var_os("HOME").is_some_and(|h| !h.is_empty()) {
            assert_eq!(DataDir::for_user().map(|d| d.0), crate_dir);
        }
    }
}
