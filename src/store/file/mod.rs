//! The opt-in plaintext file store, for headless servers whose tokens must survive reboots.
//!
//! One line file, `tokens` in the user data directory, mode 0600 in a 0700 directory
//! ([`super::line_file`]: checked before it is trusted, changed atomically under the writer
//! lock, damaged lines kept and named by number).
//!
//! A delete removes an entry only if it still holds what this store last read from it (or
//! wrote to it). `erase` reads the entry, compares it with the rejected token, then deletes;
//! without this check, another process storing a rotated token between the read and the
//! delete would lose it (found by tests/integration/concurrency.rs). The check runs inside the
//! file's locked update.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::line_file::{LineFile, LineFileError, Privacy};
use super::{Backend, EntryKey, Keychain, Listed, Opening, SERVICE, StoreError, stored_token};
use crate::token::Token;

const TOKENS_HEADER: &str =
    "# git-credential-bitbucket tokens: plaintext, keep this file private (0600)\n";

/// The warning shown whenever a token is written here.
pub const PLAINTEXT_WARNING: &str = "the token was saved in a plaintext file (--store file), \
readable by anyone who can read your files as you or as root. Prefer the system keychain \
where there is one.";

/// Opens the file store in the user data directory.
pub fn open(opening: &Opening) -> Result<Box<dyn Keychain>, StoreError> {
    let dir = opening.data_dir.ok_or_else(|| StoreError::Unavailable {
        backend: Backend::File,
        reason: "no home directory to keep the file in".into(),
    })?;
    Ok(Box::new(FileStore::new(&dir.0)))
}

/// The tokens file.
pub struct FileStore {
    file: LineFile,
    /// What this store last saw in each entry it read or wrote (`None`: no entry).
    seen: Mutex<HashMap<EntryKey, Option<Zeroizing<Vec<u8>>>>>,
}

impl FileStore {
    /// The file store in `dir`.
    pub fn new(dir: &Path) -> FileStore {
        FileStore {
            file: LineFile::new(dir, "tokens", TOKENS_HEADER, Privacy::Secret),
            seen: Mutex::default(),
        }
    }

    fn line_key(key: &EntryKey) -> (String, String) {
        (SERVICE.to_owned(), key.account())
    }

    fn remember(&self, key: &EntryKey, value: Option<&[u8]>) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(key.clone(), value.map(|v| Zeroizing::new(v.to_vec())));
    }

    /// What this store last saw in the entry: `None` if it never looked.
    fn last_seen(&self, key: &EntryKey) -> Option<Option<Zeroizing<Vec<u8>>>> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(key).cloned()
    }

    fn failed(&self, error: LineFileError) -> StoreError {
        match error {
            LineFileError::Refused(reason) => StoreError::Unavailable {
                backend: Backend::File,
                reason,
            },
            other => StoreError::Failed {
                backend: Backend::File,
                reason: other.to_string(),
            },
        }
    }
}

impl Keychain for FileStore {
    fn backend(&self) -> Backend {
        Backend::File
    }

    fn get(&self, key: &EntryKey) -> Result<Option<Token>, StoreError> {
        let (service, user) = Self::line_key(key);
        let value = self.file.find((&service, &user)).map_err(|e| self.failed(e))?;
        self.remember(key, value.as_deref().map(Vec::as_slice));
        value
            .map(|bytes| stored_token(Backend::File, key, bytes.to_vec()))
            .transpose()
    }

    fn set(&self, key: &EntryKey, token: &Token) -> Result<(), StoreError> {
        let line_key = Self::line_key(key);
        let value = token.expose().as_bytes();
        self.file
            .update(&mut |map| {
                map.insert(line_key.clone(), Zeroizing::new(value.to_vec()));
                Ok::<(), LineFileError>(())
            })
            .map_err(|e| self.failed(e))?;
        self.remember(key, Some(value));
        Ok(())
    }

    /// Removes the entry, unless it changed since this store last saw it: then another
    /// process wrote it meanwhile, and its value is not the one the caller meant to remove.
    fn delete(&self, key: &EntryKey) -> Result<bool, StoreError> {
        let line_key = Self::line_key(key);
        let expected = self.last_seen(key);
        let mut removed = false;
        self.file
            .update(&mut |map| {
                let unchanged = match (&expected, map.get(&line_key)) {
                    (None, _) => true,
                    (Some(seen), current) => {
                        seen.as_deref().map(Vec::as_slice) == current.map(|c| c.as_slice())
                    }
                };
                removed = unchanged && map.remove(&line_key).is_some();
                Ok::<(), LineFileError>(())
            })
            .map_err(|e| self.failed(e))?;
        if removed {
            self.remember(key, None);
        }
        Ok(removed)
    }

    fn list(&self) -> Option<Result<Vec<Listed>, StoreError>> {
        Some(self.file.load().map_err(|e| self.failed(e)).map(|map| {
            map.into_iter()
                .filter(|((service, _), _)| service == SERVICE)
                .filter_map(|((_, user), value)| {
                    Some((EntryKey::from_account(&user)?, Token::from_bytes(value.to_vec())))
                })
                .collect()
        }))
    }

    /// One write for all: a whole `logout --all`, which also removes any temporary file a
    /// crash left.
    fn delete_all(&self, keys: &[EntryKey]) -> Result<Vec<EntryKey>, StoreError> {
        let mut removed = Vec::new();
        self.file
            .update(&mut |map| {
                removed = keys
                    .iter()
                    .filter(|k| map.remove(&Self::line_key(k)).is_some())
                    .cloned()
                    .collect();
                Ok::<(), LineFileError>(())
            })
            .map_err(|e| self.failed(e))?;
        Ok(removed)
    }

    fn damage(&self) -> Vec<String> {
        self.file.damage()
    }

    fn storage_note(&self) -> Option<&'static str> {
        Some(PLAINTEXT_WARNING)
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    #[cfg(unix)]
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::policy::HostKey;

    fn key(account: &str) -> EntryKey {
        EntryKey::from_account(account).unwrap()
    }

    fn token(text: &str) -> Token {
        Token::new(text.to_owned())
    }

    fn read(store: &FileStore, account: &str) -> Option<String> {
        store
            .get(&key(account))
            .unwrap()
            .map(|t| t.expose().to_owned())
    }

    #[test]
    fn round_trips_and_keeps_the_file_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(&dir.path().join("data"));
        let host = key("bitbucket.org");
        assert_eq!(store.get(&host).unwrap().map(|t| t.expose().to_owned()), None);
        store.set(&host, &token("ATATT=x")).unwrap();
        assert_eq!(read(&store, "bitbucket.org").as_deref(), Some("ATATT=x"));
        #[cfg(unix)]
        {
            let meta = fs::metadata(dir.path().join("data/tokens")).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
            let meta = fs::metadata(dir.path().join("data")).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        }
        assert!(store.delete(&host).unwrap());
        assert!(!store.delete(&host).unwrap());
    }

    #[test]
    #[cfg(unix)]
    fn a_damaged_line_is_kept_and_named_while_other_entries_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        fs::write(
            &path,
            "garbage without tabs\ngit-credential-bitbucket\tother.example\tkept\r\n",
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let store = FileStore::new(dir.path());
        store.set(&key("h.example"), &token("x")).unwrap();
        let damage = store.damage();
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
        assert_eq!(read(&store, "h.example").as_deref(), Some("x"));
        assert!(store.delete(&key("h.example")).unwrap());
        let kept = fs::read_to_string(&path).unwrap();
        assert!(
            kept.contains(
                "garbage without tabs\ngit-credential-bitbucket\tother.example\tkept\r\n"
            ),
            "{kept}"
        );
    }

    #[cfg(unix)]
    fn refusal(store: &FileStore) -> String {
        match store.get(&key("h.example")) {
            Err(StoreError::Unavailable { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    #[cfg(unix)]
    fn what_is_found_on_disk_is_checked_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let path = dir.path().join("tokens");
        store.set(&key("h.example"), &token("x")).unwrap();
        // Control: the file as we write it is read.
        assert_eq!(read(&store, "h.example").as_deref(), Some("x"));

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
        let write = store.set(&key("h.example"), &token("y"));
        assert!(write.is_err(), "a write through the link is refused too");
        assert!(
            fs::read(&target).unwrap().ends_with(b"h.example\tx\n"),
            "target untouched"
        );
        fs::remove_file(&path).unwrap();

        #[cfg(target_os = "linux")]
        {
            crate::private_file::make_fifo(&path);
            assert!(
                refusal(&store).contains("not a regular file"),
                "no hang on a FIFO"
            );
            fs::remove_file(&path).unwrap();
        }

        let big = vec![b'#'; crate::store::line_file::MAX_FILE_BYTES as usize + 1];
        crate::private_file::private_options()
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
        store.set(&key("h.example"), &token("x")).unwrap();
        assert!(!stale.exists());
    }

    #[test]
    fn secrets_with_line_breaks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let written = store.set(&key("h.example"), &token("a\nsvc\th\tb"));
        assert!(written.is_err());
        assert!(!dir.path().join("tokens").exists());
    }

    #[test]
    fn a_failed_write_names_what_failed_on_which_path() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("data");
        fs::write(&not_a_dir, "a file where the directory should be").unwrap();
        let store = FileStore::new(&not_a_dir);
        let Err(StoreError::Failed { reason, .. }) = store.set(&key("h.example"), &token("x"))
        else {
            panic!("expected a failure");
        };
        assert!(reason.starts_with("cannot lock "), "{reason}");
        assert!(reason.contains(&not_a_dir.display().to_string()), "{reason}");
    }

    #[test]
    fn a_delete_never_removes_a_value_another_process_wrote_after_the_read() {
        let dir = tempfile::tempdir().unwrap();
        let (eraser, rotator) = (FileStore::new(dir.path()), FileStore::new(dir.path()));
        let host = EntryKey::host(HostKey::parse("h.example").unwrap());
        eraser.set(&host, &token("rejected")).unwrap();
        assert_eq!(read(&eraser, "h.example").as_deref(), Some("rejected"));
        // Between the eraser's read and its delete, another process rotates the token.
        rotator.set(&host, &token("rotated")).unwrap();
        assert!(!eraser.delete(&host).unwrap());
        assert_eq!(read(&rotator, "h.example").as_deref(), Some("rotated"));
        // Control: once the eraser has seen the new value, it removes it.
        assert_eq!(read(&eraser, "h.example").as_deref(), Some("rotated"));
        assert!(eraser.delete(&host).unwrap());
        assert_eq!(read(&rotator, "h.example"), None);
        // And a delete with no read before it removes whatever is there.
        rotator.set(&host, &token("again")).unwrap();
        assert!(FileStore::new(dir.path()).delete(&host).unwrap());
        assert_eq!(read(&rotator, "h.example"), None);
    }

    #[test]
    fn the_store_lists_only_our_service_and_clears_in_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path());
        let ws = key("bitbucket.org/acme");
        store.set(&ws, &token("t")).unwrap();
        let path = dir.path().join("tokens");
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("another-service\tbitbucket.org\ttheirs\n");
        fs::write(&path, text).unwrap();
        let listed = store.list().unwrap().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, ws);
        assert_eq!(store.delete_all(std::slice::from_ref(&ws)).unwrap(), [ws]);
        assert!(store.list().unwrap().unwrap().is_empty());
        assert!(fs::read_to_string(&path).unwrap().contains("theirs"));
    }
}
