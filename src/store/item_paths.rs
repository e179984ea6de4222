//! Where the Secret Service keeps each of our items: a hint that spares `get` a search.
//!
//! gnome-keyring's `SearchItems` compares the attributes of every item in the keychain, so a
//! `get` that searches grows with everything the user keeps there (11 ms with 2,000 items,
//! against 2 ms with one: docs/performance.md). Reading an item by its object path is an
//! indexed lookup. So the store remembers, per entry, the path of the item it last found or
//! created, in one small file each under the data directory (`secret-service-items/`), and
//! `get` reads the item there first.
//!
//! The file is only a hint and is never trusted: the path is used only if it is a valid
//! object path and the item there carries exactly our `service` and `username` attributes
//! (read from the Secret Service itself, in the same round trip as `OpenSession`). So a file
//! planted or changed in the data directory can point only at an item the search would also
//! have found; anything else — a missing, stale, unreadable or foreign entry — means a search,
//! as before. Writing is best effort (temp file and rename, no lock: the last writer wins and
//! every reader checks); a failure to write changes nothing but speed.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A file longer than this is not ours.
const MAX_FILE: u64 = 4096;

#[derive(Debug, Clone)]
pub struct ItemPaths {
    dir: PathBuf,
}

impl ItemPaths {
    pub fn new(data_dir: &Path) -> Self {
        ItemPaths {
            dir: data_dir.join("secret-service-items"),
        }
    }

    /// One file per entry, named by a checksum of its attributes (the name stays short and
    /// safe whatever the host; a collision only means a miss, as the file names its entry).
    fn file(&self, service: &str, username: &str) -> PathBuf {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(service.as_bytes());
        hasher.update(&[0]);
        hasher.update(username.as_bytes());
        self.dir.join(format!("{:08x}", hasher.finalize()))
    }

    /// The remembered path of the item for `service`/`username`, if the file names exactly
    /// that entry.
    pub fn lookup(&self, service: &str, username: &str) -> Option<String> {
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(self.file(service, username))
            .ok()?;
        let mut text = String::new();
        file.take(MAX_FILE).read_to_string(&mut text).ok()?;
        let mut lines = text.split('\n');
        match (lines.next(), lines.next(), lines.next(), lines.next()) {
            (Some(s), Some(u), Some(path), Some("")) if s == service && u == username => {
                Some(path.to_owned())
            }
            _ => None,
        }
    }

    /// Remembers `path` for the entry (best effort).
    pub fn remember(&self, service: &str, username: &str, path: &str) {
        if [service, username, path].iter().any(|s| s.contains('\n')) {
            return;
        }
        if self.lookup(service, username).as_deref() == Some(path) {
            return;
        }
        let _ = self.write(service, username, path);
    }

    fn write(&self, service: &str, username: &str, path: &str) -> std::io::Result<()> {
        super::private_files::create_private_dir(&self.dir)?;
        let target = self.file(service, username);
        let temp = target.with_extension(format!("tmp{}", std::process::id()));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut f| f.write_all(format!("{service}\n{username}\n{path}\n").as_bytes()));
        match written.and_then(|()| fs::rename(&temp, &target)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err(e)
            }
        }
    }

    /// Forgets the entry's item (best effort).
    pub fn forget(&self, service: &str, username: &str) {
        let _ = fs::remove_file(self.file(service, username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn remembers_forgets_and_ignores_files_that_name_another_entry() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("data");
        let dir = &dir;
        let paths = ItemPaths::new(dir);
        assert_eq!(paths.lookup("svc", "bitbucket.org"), None);
        paths.remember(
            "svc",
            "bitbucket.org",
            "/org/freedesktop/secrets/collection/login/7",
        );
        assert_eq!(
            paths.lookup("svc", "bitbucket.org").as_deref(),
            Some("/org/freedesktop/secrets/collection/login/7")
        );
        assert_eq!(paths.lookup("svc", "bitbucket.org/acme"), None);
        for dir in [&paths.dir, dir] {
            let mode = fs::metadata(dir).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
        }

        // A file under the entry's name that names another entry, or is damaged, is a miss.
        let file = paths.file("svc", "bitbucket.org");
        fs::write(&file, "svc\nother.org\n/x\n").unwrap();
        assert_eq!(paths.lookup("svc", "bitbucket.org"), None);
        fs::write(&file, "svc\nbitbucket.org\n/x").unwrap();
        assert_eq!(paths.lookup("svc", "bitbucket.org"), None);
        // A symlink is not followed.
        fs::remove_file(&file).unwrap();
        let elsewhere = dir.join("elsewhere");
        fs::write(&elsewhere, "svc\nbitbucket.org\n/x\n").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        assert_eq!(paths.lookup("svc", "bitbucket.org"), None);

        fs::remove_file(&file).unwrap();
        paths.remember("svc", "bitbucket.org", "/y");
        paths.forget("svc", "bitbucket.org");
        assert_eq!(paths.lookup("svc", "bitbucket.org"), None);
        // Nothing with a newline is written.
        paths.remember("svc", "bitbucket.org", "/y\n/z");
        assert_eq!(paths.lookup("svc", "bitbucket.org"), None);
    }
}
