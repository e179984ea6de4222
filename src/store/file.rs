//! The opt-in plaintext file store, for headless servers whose tokens must survive reboots.
//!
//! One file, `tokens` in the user data directory, mode 0600 in a 0700 directory
//! ([`super::private_files`]). Every change is read-modify-write under the user's writer lock
//! ([`super::lock`]), written to a temporary file, synced and renamed over the old one: a reader
//! sees the old file or the new one, never half of either, and a full disk leaves the old file
//! as it was. A line we cannot read is kept
//! as it is and reported by number ([`super::file_format`]); it never blocks the other entries.
//!
//! Nothing found on disk is trusted: the directory must be the user's and not writable by
//! others, the file the user's, private, a regular file (a symlink is not followed, so no copy
//! is left behind at its target; a FIFO or device is not opened for reading), and of a sane
//! size. Temporary files are removed under the lock before every write, so one left by a crash
//! neither keeps a secret on disk past the next write (or `logout`) nor blocks that write.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use keyring_core::api::CredentialPersistence;
use keyring_core::{Error, Result};
use zeroize::Zeroizing;

use super::file_checks::{MAX_FILE_BYTES, open_checked, read_checked, too_large};
use super::file_format::{self, Parsed};
use super::file_lookup::{self, Lookup};
use super::lock::{self, WriterLock};
use super::map_store::{Backing, MapStore, SecretMap};
use super::private_files::{Privacy, platform_at, private_options};

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
    privacy: Privacy,
    /// What the last read found wrong with single lines (file and line number only).
    damage: Mutex<BTreeSet<String>>,
    /// Lookups check the lines before the entry for damage (see [`FileBacking::index`]).
    checks_lines_on_lookup: bool,
}

impl FileBacking {
    /// The map in `dir/name`, whose first line is `header` (a `#` comment).
    pub fn new(dir: &Path, name: &'static str, header: &'static str, privacy: Privacy) -> Self {
        Self {
            dir: dir.to_owned(),
            name,
            header,
            privacy,
            damage: Mutex::default(),
            checks_lines_on_lookup: true,
        }
    }

    /// A file whose lookups read closely only the lines that begin with their key: for an
    /// index such as the metadata, whose damage `get` never reports (a whole read, before
    /// every write, still keeps and names damaged lines).
    pub fn index(mut self) -> Self {
        self.checks_lines_on_lookup = false;
        self
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(self.name)
    }

    /// The damaged lines seen so far, described by file and line number.
    pub fn damage(&self) -> Vec<String> {
        let damage = self.damage.lock().unwrap_or_else(|p| p.into_inner());
        damage.iter().cloned().collect()
    }

    fn read(&self) -> Result<Parsed> {
        let Some(bytes) = read_checked(&self.dir, &self.path(), self.privacy)? else {
            return Ok(Parsed::default());
        };
        let parsed = file_format::parse(&bytes);
        self.note_damage(&parsed.damaged);
        Ok(parsed)
    }

    fn note_damage(&self, damaged: &[file_format::DamagedLine]) {
        if !damaged.is_empty() {
            let mut damage = self.damage.lock().unwrap_or_else(|p| p.into_inner());
            *damage = damaged.iter().map(|d| d.describe(&self.path())).collect();
        }
    }

    /// Removes `name.tmp.*` left by a writer that died: called under the lock, when no
    /// other writer can be half-way through.
    fn remove_stale_temporaries(&self) {
        let prefix = format!("{}.tmp.", self.name);
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn write(&self, text: &[u8]) -> Result<()> {
        self.remove_stale_temporaries();
        let temporary = self
            .dir
            .join(format!("{}.tmp.{}", self.name, std::process::id()));
        let written = write_synced(&temporary, text)
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
        self.read().map(|parsed| parsed.map)
    }

    /// Reads only as far as the entry (see [`file_lookup`]), with the checks of a whole read.
    fn find(&self, (service, user): &(String, String)) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let path = self.path();
        let Some(mut file) = open_checked(&self.dir, &path, self.privacy)? else {
            return Ok(None);
        };
        let mut damaged = Vec::new();
        let checked = self.checks_lines_on_lookup.then_some(&mut damaged);
        let found = file_lookup::find(&mut file, (service, user), MAX_FILE_BYTES, checked)
            .map_err(|e| platform_at("read", &path, e))?;
        self.note_damage(&damaged);
        match found {
            Lookup::Found(value) => Ok(Some(value)),
            Lookup::Missing => Ok(None),
            Lookup::TooLarge => Err(too_large(&path)),
        }
    }

    fn update(&self, change: &mut dyn FnMut(&mut SecretMap) -> Result<()>) -> Result<()> {
        let _lock = WriterLock::acquire(&self.dir, lock::WAIT).map_err(|e| match e {
            lock::LockError::Unavailable { path, reason } => {
                Error::PlatformFailure(format!("cannot lock {}: {reason}", path.display()).into())
            }
            busy => Error::PlatformFailure(busy.to_string().into()),
        })?;
        let parsed = self.read()?;
        let mut map = parsed.map.clone();
        change(&mut map)?;
        if map == parsed.map {
            // Nothing changed: the file is not rewritten, but a crash's leftovers still go.
            self.remove_stale_temporaries();
            return Ok(());
        }
        let written = file_format::changed_keys(&parsed.map, &map);
        let text = file_format::encode(self.header, &map, &parsed.damaged, &written)?;
        self.write(&text)
    }

    fn persistence(&self) -> CredentialPersistence {
        CredentialPersistence::UntilDelete
    }

    fn vendor(&self) -> &'static str {
        "git-credential-bitbucket file store"
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = private_options().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The file store in `dir`.
pub struct FileStore;

pub type FileMapStore = MapStore<FileBacking>;

impl FileStore {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(dir: &Path) -> Arc<FileMapStore> {
        MapStore::new(FileBacking::new(
            dir,
            "tokens",
            TOKENS_HEADER,
            Privacy::Secret,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyring_core::api::CredentialStoreApi;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

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
            #[cfg(unix)]
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
    #[cfg(unix)]
    fn a_damaged_line_is_kept_and_named_while_other_entries_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        fs::write(&path, "garbage without tabs\nsvc\tother\tkept\r\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let store = FileStore::new(dir.path());
        let entry = store.build("svc", "h", None).unwrap();
        entry.set_secret(b"x").unwrap();
        let damage = store.backing().damage();
        assert_eq!(damage.len(), 2, "{damage:?}");
        assert!(damage[0].starts_with("line 1 of "), "{damage:?}");
        assert!(
            damage[1].contains("line 2") && damage[1].contains("CR"),
            "{damage:?}"
        );
        assert!(
            !damage.concat().contains("kept"),
            "names the line, not its content"
        );
        assert_eq!(entry.get_secret().unwrap(), b"x");
        entry.delete_credential().unwrap();
        let kept = fs::read_to_string(&path).unwrap();
        assert!(
            kept.contains("garbage without tabs\nsvc\tother\tkept\r\n"),
            "{kept}"
        );
    }

    #[cfg(unix)]
    fn refusal(store: &FileMapStore) -> String {
        match store.build("svc", "h", None).unwrap().get_secret() {
            Err(Error::NoStorageAccess(e)) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    #[cfg(unix)]
    fn what_is_found_on_disk_is_checked_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let path = dir.path().join("tokens");
        store
            .build("svc", "h", None)
            .unwrap()
            .set_secret(b"x")
            .unwrap();
        // Control: the file as we write it is read.
        assert_eq!(
            store.build("svc", "h", None).unwrap().get_secret().unwrap(),
            b"x"
        );

        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(refusal(&store).contains("chmod 600"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();

        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
        assert!(refusal(&store).contains("chmod 700"));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();

        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("real");
        fs::rename(&path, &target).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(refusal(&store).contains("symbolic link"));
        let write = store.build("svc", "h", None).unwrap().set_secret(b"y");
        assert!(write.is_err(), "a write through the link is refused too");
        assert!(
            fs::read(&target).unwrap().ends_with(b"h\tx\n"),
            "target untouched"
        );
        fs::remove_file(&path).unwrap();

        #[cfg(target_os = "linux")]
        {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                &path,
                rustix::fs::FileType::Fifo,
                rustix::fs::Mode::from_raw_mode(0o600),
                0,
            )
            .unwrap();
            assert!(
                refusal(&store).contains("not a regular file"),
                "no hang on a FIFO"
            );
            fs::remove_file(&path).unwrap();
        }

        let big = vec![b'#'; super::super::file_checks::MAX_FILE_BYTES as usize + 1];
        private_options()
            .write(true)
            .create(true)
            .open(&path)
            .unwrap()
            .write_all(&big)
            .unwrap();
        assert!(refusal(&store).contains("larger than"));
    }

    #[test]
    #[cfg(unix)]
    fn a_temporary_file_left_by_a_crash_is_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir
            .path()
            .join(format!("tokens.tmp.{}", std::process::id()));
        fs::write(&stale, "svc\th\tsecret-left-by-a-crash\n").unwrap();
        let store = FileStore::new(dir.path());
        store
            .build("svc", "h", None)
            .unwrap()
            .set_secret(b"x")
            .unwrap();
        assert!(!stale.exists());
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
        assert!(text.starts_with("cannot lock "), "{text}");
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
