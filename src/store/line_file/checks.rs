//! What a line file is checked for before it trusts a file it finds: the directory and the file
//! must be the user's and not writable by others (a secret file not readable by them either),
//! the file must be a regular file reached without following a symlink (so a write never
//! leaves a copy behind at a link's target, and a FIFO or device never blocks a read), and it
//! must be of a sane size. Each refusal says what is wrong and the command that fixes it.

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use super::{LineFileError, Result, io_at as platform_at};
use crate::private_file::{FinalSymlink, open_without_waiting};

/// Who may read the file besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// Secrets: no access at all for group or others.
    Secret,
    /// Non-secret facts: readable, but writable by the owner only.
    Public,
}

/// The largest file read: 5,000 entries take about 1.3 MB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The file's bytes, or `None` when there is no file; refuses anything it should not trust.
pub(super) fn read_checked(
    dir: &Path,
    path: &Path,
    privacy: Privacy,
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let Some((mut file, length)) = open_checked(dir, path, privacy)? else {
        return Ok(None);
    };
    // Sized once: a buffer that grew would leave copies of the tokens in freed memory.
    let room = usize::try_from(length.min(MAX_FILE_BYTES)).unwrap_or(0);
    let mut bytes = Zeroizing::new(Vec::with_capacity(room.saturating_add(1)));
    (&mut file)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| platform_at("read", path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(path));
    }
    Ok(Some(bytes))
}

/// The file opened for reading, with its length when opened, or `None` when there is none;
/// refuses anything it should not trust (all but the size, which the reader checks as it
/// reads).
pub(super) fn open_checked(
    dir: &Path,
    path: &Path,
    privacy: Privacy,
) -> Result<Option<(File, u64)>> {
    let file = match open_without_waiting(path, FinalSymlink::Refuse) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) if is_symlink(path) => {
            return Err(refused(
                path,
                "it is a symbolic link; replace it with the file itself",
            ));
        }
        Err(e) => return Err(platform_at("read", path, e)),
    };
    let length = check_owner(dir, path, &file, privacy)?;
    Ok(Some((file, length)))
}

/// The refusal of a file larger than [`MAX_FILE_BYTES`].
pub(super) fn too_large(path: &Path) -> LineFileError {
    refused(
        path,
        &format!("it is larger than {} MiB", MAX_FILE_BYTES >> 20),
    )
}

fn refused(path: &Path, why: &str) -> LineFileError {
    LineFileError::Refused(format!("{} is not used: {why}", path.display()))
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The directory and the open file must be the user's and not writable by others; a secret
/// file must also be unreadable by them, and a regular file.
#[cfg(unix)]
fn check_owner(dir: &Path, path: &Path, file: &File, privacy: Privacy) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let meta = file
        .metadata()
        .map_err(|e| platform_at("inspect", path, e))?;
    if !meta.file_type().is_file() {
        return Err(refused(path, "it is not a regular file"));
    }
    if meta.uid() != me {
        return Err(refused(
            path,
            &format!("it belongs to uid {}, not to you (uid {me})", meta.uid()),
        ));
    }
    let forbidden = match privacy {
        Privacy::Secret => 0o077,
        Privacy::Public => 0o022,
    };
    if meta.mode() & forbidden != 0 {
        return Err(refused(
            path,
            &format!(
                "its mode is {:o}; run `chmod {} {}`",
                meta.mode() & 0o777,
                if privacy == Privacy::Secret { 600 } else { 644 },
                path.display()
            ),
        ));
    }
    let dir_meta = fs::metadata(dir).map_err(|e| platform_at("inspect", dir, e))?;
    if dir_meta.uid() != me || dir_meta.mode() & 0o022 != 0 {
        return Err(refused(
            path,
            &format!(
                "its directory belongs to uid {} with mode {:o}; it must be yours and writable \
                 only by you (`chmod 700 {}`)",
                dir_meta.uid(),
                dir_meta.mode() & 0o777,
                dir.display()
            ),
        ));
    }
    Ok(meta.len())
}

#[cfg(not(unix))]
fn check_owner(_: &Path, path: &Path, file: &File, _: Privacy) -> Result<u64> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| platform_at("inspect", path, e))
}
