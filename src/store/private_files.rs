//! Files and directories only this user may read: how they are made, and how private a file
//! found again must be.
//!
//! The user data directory holds the file store's `tokens` beside the metadata file and the
//! writer lock, so whoever creates it (the writer lock, before anything is written there) makes
//! it 0700, and a secret file is created 0600 from its first byte rather than chmod-ed after
//! it has been written. On Unix the modes are given at creation; on other platforms the
//! defaults are kept. [`Privacy`] is what the checks of a file found on disk hold it to, and
//! `platform_at` names the file an I/O failure was on. These helpers sit apart from the file
//! store, its checks and the lock, which all use them, so each of those depends on this module
//! and none on another's internals; both sides of every `cfg(unix)` pair are here.

use std::fs::{self, OpenOptions};
use std::path::Path;

use keyring_core::Error;

/// Who may read the file besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// Secrets: no access at all for group or others.
    Secret,
    /// Non-secret facts: readable, but writable by the owner only.
    Public,
}

/// An I/O error naming what was done to which file (paths are not secrets), so a person can
/// tell a full disk from a read-only directory from a permission problem.
pub(super) fn platform_at(what: &str, path: &Path, error: std::io::Error) -> Error {
    let message = format!("cannot {what} {}: {error}", path.display());
    Error::PlatformFailure(Box::new(std::io::Error::new(error.kind(), message)))
}

/// Options that create a file readable and writable by its owner only (0600).
#[cfg(unix)]
pub(super) fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

#[cfg(not(unix))]
pub(super) fn private_options() -> OpenOptions {
    OpenOptions::new()
}

/// Creates `dir` and any missing parents, accessible by their owner only (0700).
#[cfg(unix)]
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn directories_and_files_are_made_for_their_owner_alone() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("a/b");
        create_private_dir(&dir).unwrap();
        let file = dir.join("secret");
        private_options()
            .write(true)
            .create_new(true)
            .open(&file)
            .unwrap();
        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        // Control: what the defaults make here is readable by others.
        let open = base.path().join("default");
        fs::write(&open, "").unwrap();
        assert_ne!(
            mode(&open),
            0o600,
            "the umask alone would have made it private"
        );
    }
}
