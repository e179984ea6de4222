//! The opt-in plaintext file store, for headless servers whose tokens must survive reboots.
//!
//! One file, `tokens` in the user data directory, mode 0600 in a 0700 directory. Every change
//! is read-modify-write under an exclusive lock on a sibling lock file, written to a temporary
//! file, synced and renamed over the old one: a reader sees the old file or the new one, never
//! half of either, and a full disk leaves the old file as it was. A file we cannot parse is
//! never overwritten.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyring_core::api::CredentialPersistence;
use keyring_core::{Error, Result};
use zeroize::Zeroizing;

use super::map_store::{Backing, MapStore, SecretMap};

const TOKENS_HEADER: &str =
    "# git-credential-bitbucket tokens: plaintext, keep this file private (0600)\n";

/// The warning shown whenever a token is written here.
pub const PLAINTEXT_WARNING: &str = "the token was saved in a plaintext file (--store file), \
readable by anyone who can read your files as you or as root. Prefer the system keychain \
where there is one.";

/// A map kept in one file; the token store and the metadata file (non-secret) both use it.
pub struct FileBacking {
    dir: PathBuf,
    name: &'static str,
    header: &'static str,
}

impl FileBacking {
    /// The map in `dir/name`, whose first line is `header` (a `#` comment).
    pub fn new(dir: &Path, name: &'static str, header: &'static str) -> Self {
        Self {
            dir: dir.to_owned(),
            name,
            header,
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(self.name)
    }

    fn lock(&self) -> Result<File> {
        create_private_dir(&self.dir).map_err(|e| platform_at("create", &self.dir, e))?;
        let path = self.dir.join(format!("{}.lock", self.name));
        let lock = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| platform_at("open", &path, e))?;
        lock.lock().map_err(|e| platform_at("lock", &path, e))?;
        Ok(lock)
    }

    fn write(&self, map: &SecretMap) -> Result<()> {
        let mut text = Zeroizing::new(Vec::with_capacity(4096));
        text.extend_from_slice(self.header.as_bytes());
        for ((service, user), secret) in map {
            for field in [service.as_bytes(), user.as_bytes(), secret.as_slice()] {
                if field.iter().any(|b| matches!(b, b'\t' | b'\n' | b'\r' | 0)) {
                    return Err(Error::Invalid(
                        "entry".into(),
                        "contains a tab or line break".into(),
                    ));
                }
            }
            text.extend_from_slice(service.as_bytes());
            text.push(b'\t');
            text.extend_from_slice(user.as_bytes());
            text.push(b'\t');
            text.extend_from_slice(secret);
            text.push(b'\n');
        }
        let temporary = self
            .dir
            .join(format!("{}.tmp.{}", self.name, std::process::id()));
        let written = write_synced(&temporary, &text)
            .and_then(|()| fs::rename(&temporary, self.path()))
            .and_then(|()| sync_dir(&self.dir));
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map_err(|e| platform_at("write", &self.path(), e))
    }
}

impl Backing for FileBacking {
    fn load(&self) -> Result<SecretMap> {
        let mut bytes = Zeroizing::new(Vec::new());
        match File::open(self.path()) {
            Ok(mut file) => file
                .read_to_end(&mut bytes)
                .map_err(|e| platform_at("read", &self.path(), e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SecretMap::new()),
            Err(e) => return Err(platform_at("read", &self.path(), e)),
        };
        parse(&bytes)
    }

    fn update(&self, change: &mut dyn FnMut(&mut SecretMap) -> Result<()>) -> Result<()> {
        let _lock = self.lock()?; // released when dropped
        let mut map = self.load()?;
        change(&mut map)?;
        self.write(&map)
    }

    fn persistence(&self) -> CredentialPersistence {
        CredentialPersistence::UntilDelete
    }

    fn vendor(&self) -> &'static str {
        "git-credential-bitbucket file store"
    }
}

fn parse(bytes: &[u8]) -> Result<SecretMap> {
    let mut map = SecretMap::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let mut fields = line.splitn(3, |&b| b == b'\t');
        let (Some(service), Some(user), Some(secret)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return Err(Error::BadStoreFormat(format!(
                "line {} of the token file is not service<TAB>user<TAB>token",
                index + 1
            )));
        };
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
        let (Some(service), Some(user)) = (text(service), text(user)) else {
            return Err(Error::BadStoreFormat(format!(
                "line {} of the token file is not UTF-8",
                index + 1
            )));
        };
        map.insert((service, user), Zeroizing::new(secret.to_vec()));
    }
    Ok(map)
}

/// An I/O error naming what was done to which file (paths are not secrets), so a person can
/// tell a full disk from a read-only directory from a permission problem.
fn platform_at(what: &str, path: &Path, error: std::io::Error) -> Error {
    let message = format!("cannot {what} {}: {error}", path.display());
    Error::PlatformFailure(Box::new(std::io::Error::new(error.kind(), message)))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = private_options().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

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

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The file store in `dir`.
pub struct FileStore;

impl FileStore {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dir: &Path) -> Arc<MapStore<FileBacking>> {
        MapStore::new(FileBacking::new(dir, "tokens", TOKENS_HEADER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyring_core::api::CredentialStoreApi;

    #[test]
    fn round_trips_and_keeps_the_file_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(&dir.path().join("data"));
        let entry = store.build("svc", "bitbucket.org", None).unwrap();
        assert!(matches!(entry.get_secret(), Err(Error::NoEntry)));
        entry.set_secret(b"ATATT=x").unwrap();
        assert_eq!(entry.get_secret().unwrap(), b"ATATT=x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = fs::metadata(dir.path().join("data/tokens")).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
            let meta = fs::metadata(dir.path().join("data")).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        }
        entry.delete_credential().unwrap();
        assert!(matches!(entry.delete_credential(), Err(Error::NoEntry)));
    }

    #[test]
    fn a_damaged_file_is_reported_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("tokens"), "garbage without tabs\n").unwrap();
        let store = FileStore::new(dir.path());
        let entry = store.build("svc", "h", None).unwrap();
        assert!(matches!(
            entry.set_secret(b"x"),
            Err(Error::BadStoreFormat(_))
        ));
        let kept = fs::read_to_string(dir.path().join("tokens")).unwrap();
        assert_eq!(kept, "garbage without tabs\n");
    }

    #[test]
    fn secrets_with_line_breaks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let entry = store.build("svc", "h", None).unwrap();
        assert!(entry.set_secret(b"a\nsvc\th\tb").is_err());
        assert!(!dir.path().join("tokens").exists());
    }

    #[test]
    fn a_failed_write_names_what_failed_on_which_path() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("data");
        fs::write(&not_a_dir, "a file where the directory should be").unwrap();
        let entry = FileStore::new(&not_a_dir).build("svc", "h", None).unwrap();
        let Err(Error::PlatformFailure(e)) = entry.set_secret(b"x") else {
            panic!("expected a platform failure");
        };
        let text = e.to_string();
        assert!(text.starts_with("cannot create "), "{text}");
        assert!(text.contains(&not_a_dir.display().to_string()), "{text}");
    }

    #[test]
    fn a_delete_never_removes_a_value_another_process_wrote_after_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let (eraser, rotator) = (FileStore::new(dir.path()), FileStore::new(dir.path()));
        let entry = eraser.build("svc", "h", None).unwrap();
        entry.set_secret(b"rejected").unwrap();
        assert_eq!(entry.get_secret().unwrap(), b"rejected");
        // Between the eraser's read and its delete, another process rotates the token.
        let other = rotator.build("svc", "h", None).unwrap();
        other.set_secret(b"rotated").unwrap();
        assert!(matches!(entry.delete_credential(), Err(Error::NoEntry)));
        assert_eq!(other.get_secret().unwrap(), b"rotated");
        // Control: once the eraser has seen the new value, it removes it.
        assert_eq!(entry.get_secret().unwrap(), b"rotated");
        entry.delete_credential().unwrap();
        assert!(matches!(other.get_secret(), Err(Error::NoEntry)));
        // And a delete with no read before it removes whatever is there.
        other.set_secret(b"again").unwrap();
        let fresh = FileStore::new(dir.path()).build("svc", "h", None).unwrap();
        fresh.delete_credential().unwrap();
        assert!(matches!(other.get_secret(), Err(Error::NoEntry)));
    }
}
