//! Reading a token from a file a platform put there: a Docker or Kubernetes secret named by
//! `BITBUCKET_API_TOKEN_FILE`, or a systemd credential (docs/servers-and-ci.md).
//!
//! The file is read afresh on every call, so a rotated secret is used at the next git operation.
//! Nothing about it is trusted before it is read:
//!
//! - a final symlink **is followed**: Kubernetes mounts each secret as `NAME -> ..data/NAME`,
//!   with `..data` itself a symlink swapped on every rotation. What is checked is the file
//!   reached, through the descriptor opened (`fstat`), so the check and the read are of the
//!   same file;
//! - it must be a regular file: a FIFO or a device is opened without blocking (`O_NONBLOCK`,
//!   and no controlling terminal) and refused, never read;
//! - it must not be writable by group or others (another user could swap the token). Being
//!   readable by them is allowed, as Kubernetes' default mode 0644 is (`status` and `doctor`
//!   say so). Its owner is not checked: platforms mount secrets owned by root;
//! - it is read up to [`MAX_TOKEN_FILE_BYTES`], no further;
//! - one trailing line end (`\n` or `\r\n`, what `echo` and editors add) is dropped; anything
//!   else that is not printable ASCII (a second line, a space, a byte-order mark) is refused
//!   rather than sent: no Bitbucket secret contains it.
//!
//! Errors name the file and what to change, never its content.

use std::io::Read;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::private_file::{FinalSymlink, open_without_waiting};
use crate::token::Token;

/// The largest token file read. A token is about 200 characters; a file far larger is not one.
pub const MAX_TOKEN_FILE_BYTES: usize = 4096;

/// A token read from a file, with the file's permission bits (Unix only).
#[derive(Debug)]
pub struct TokenFile {
    pub token: Token,
    pub mode: Option<u32>,
}

/// Why a token file gives no token. Names the file, never what is in it.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("{} is not an absolute path; name the file by its full path", .0.display())]
    Relative(PathBuf),
    #[error("{} does not exist", .0.display())]
    Missing(PathBuf),
    #[error("cannot read {}: {error}", path.display())]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not a regular file (a FIFO, device or directory is never read)", .0.display())]
    NotRegular(PathBuf),
    #[error(
        "{} can be written by other users (mode {mode:o}): run `chmod go-w {}`",
        path.display(),
        path.display()
    )]
    WritableByOthers { path: PathBuf, mode: u32 },
    #[error("{} is larger than {MAX_TOKEN_FILE_BYTES} bytes, so it is not a token file", .0.display())]
    TooLarge(PathBuf),
    #[error("{} is empty", .0.display())]
    Empty(PathBuf),
    #[error(
        "{} holds more than a token (a second line, a space, or a character that is not \
         printable ASCII, such as a byte-order mark); put the token alone in it",
        .0.display()
    )]
    NotOneToken(PathBuf),
}

/// The token in `path`, checked as the module says.
pub fn read(path: &Path) -> Result<TokenFile, TokenFileError> {
    if !path.is_absolute() {
        return Err(TokenFileError::Relative(path.to_owned()));
    }
    let unreadable = |error: std::io::Error| match error.kind() {
        std::io::ErrorKind::NotFound => TokenFileError::Missing(path.to_owned()),
        _ => TokenFileError::Unreadable {
            path: path.to_owned(),
            error,
        },
    };
    let mut file = open_without_waiting(path, FinalSymlink::Follow).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if !meta.file_type().is_file() {
        return Err(TokenFileError::NotRegular(path.to_owned()));
    }
    let mode = mode_of(&meta);
    if let Some(mode) = mode.filter(|m| m & 0o022 != 0) {
        return Err(TokenFileError::WritableByOthers {
            path: path.to_owned(),
            mode,
        });
    }
    // One buffer as large as the most it may read, zeroed when dropped: no reallocation
    // leaves a copy behind.
    let limit = MAX_TOKEN_FILE_BYTES + 1;
    let mut buffer = Zeroizing::new(Vec::with_capacity(limit));
    (&mut file)
        .take(limit as u64)
        .read_to_end(&mut buffer)
        .map_err(unreadable)?;
    if buffer.len() > MAX_TOKEN_FILE_BYTES {
        return Err(TokenFileError::TooLarge(path.to_owned()));
    }
    let token = one_token(&buffer, path)?;
    Ok(TokenFile { token, mode })
}

/// The token in `bytes` (the file `path`'s content) without one trailing line end.
fn one_token(bytes: &[u8], path: &Path) -> Result<Token, TokenFileError> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok("") => Err(TokenFileError::Empty(path.to_owned())),
        Ok(text) if text.bytes().all(|b| b.is_ascii_graphic()) => Ok(Token::new(text.to_owned())),
        _ => Err(TokenFileError::NotOneToken(path.to_owned())),
    }
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.mode() & 0o7777)
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> Option<u32> {
    None
}

#[cfg(all(test, unix))]
#[path = "token_file_tests.rs"]
mod tests;
