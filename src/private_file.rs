//! Files only this user may read, replacing a file's content all at once, and opening a file
//! found on disk to read without waiting on it.
//!
//! The user data directory holds the file store's `tokens` beside the facts file, the writer
//! lock and the Secret Service hints, so whoever creates it makes it 0700, and a file that may
//! hold a secret is created 0600 from its first byte rather than chmod-ed after it was written.
//! On Unix the modes are given at creation; on other platforms the defaults are kept.
//!
//! Every file we rewrite is replaced, never edited in place: the new bytes go to a temporary
//! file beside it, are synced, and the temporary is renamed over the target, so a reader sees
//! the old content or the new, never half of either, and a failure (a full disk) removes the
//! temporary and leaves the old file as it was. The file store, the facts file, the Secret
//! Service hints and git's lockfile protocol (`lockfile.rs`) all write through [`commit`].
//!
//! A file someone else may have put where we read (the file store, the Secret Service hints, a
//! token file) may be a FIFO, whose open waits for a writer that never comes, or a terminal:
//! [`open_without_waiting`] opens it without either, and the caller checks the descriptor
//! before reading a byte.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// A regular file's bytes (at most `limit`), read with [`open_without_waiting`] (no final
/// symlink followed, a FIFO opened without waiting and then left) into one buffer sized to
/// the file, zeroed when dropped: a small file we read on every `get`.
pub fn read_regular(path: &Path, limit: u64) -> Option<zeroize::Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let file = open_without_waiting(path, FinalSymlink::Refuse).ok()?;
    let length = file.metadata().ok().filter(|m| m.is_file())?.len();
    let room = usize::try_from(length.min(limit)).ok()?.saturating_add(1);
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(room));
    file.take(limit).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// Options that create a file readable and writable by its owner only (0600).
#[cfg(unix)]
pub fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

#[cfg(not(unix))]
pub fn private_options() -> OpenOptions {
    OpenOptions::new()
}

/// What [`open_without_waiting`] does with a final symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalSymlink {
    /// Open the file it leads to (a Kubernetes secret is a symlink into `..data/`).
    Follow,
    /// Fail (`ELOOP`): a write through it would leave a copy at the link's target.
    Refuse,
}

/// Opens `path` for reading without waiting for a FIFO's writer (`O_NONBLOCK`) and without
/// making a terminal the controlling one (`O_NOCTTY`). Check the descriptor's type before
/// reading: this opens anything.
#[cfg(unix)]
pub fn open_without_waiting(path: &Path, symlink: FinalSymlink) -> std::io::Result<File> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt;
    let mut flags = OFlags::NONBLOCK | OFlags::NOCTTY;
    if symlink == FinalSymlink::Refuse {
        flags |= OFlags::NOFOLLOW;
    }
    OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
pub fn open_without_waiting(path: &Path, _: FinalSymlink) -> std::io::Result<File> {
    File::open(path)
}

/// A FIFO at `path`, for tests of the readers (rustix makes them on Linux only).
#[cfg(all(test, target_os = "linux"))]
pub fn make_fifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("make a FIFO");
}

/// Creates `dir` and any missing parents, accessible by their owner only (0700).
#[cfg(unix)]
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

/// Replaces `target`'s content with `bytes` through `temporary` (created 0600, exclusively: a
/// file already there is an error, not overwritten).
pub fn replace(temporary: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let file = private_options()
        .write(true)
        .create_new(true)
        .open(temporary)?;
    commit(file, temporary, target, bytes)
}

/// Writes `bytes` into `file` (open at `temporary`), syncs it, renames it over `target` and
/// syncs the directory; on any failure the temporary is removed and `target` left as it was.
pub fn commit(
    mut file: File,
    temporary: &Path,
    target: &Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| {
            drop(file);
            fs::rename(temporary, target)
        })
        .and_then(|()| sync_dir(target.parent().unwrap_or(Path::new("."))));
    if written.is_err() {
        let _ = fs::remove_file(temporary);
    }
    written
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> std::io::Result<()> {
    Ok(())
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
