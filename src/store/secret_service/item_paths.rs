//! Where the Secret Service keeps each of our items: a hint that spares `get` a search.
//!
//! gnome-keyring's `SearchItems` compares the attributes of every item in the keychain, so a
//! `get` that searches grows with everything the user keeps there (docs/performance.md). So
//! the store remembers, per entry, the object path of the item it last found or created, in
//! one small file each under the data directory (`secret-service-items/`), and `get` asks for
//! the secret there first: one `GetSecret`, no search.
//!
//! The file is only a hint and is never trusted. Beside the path it keeps a digest of the
//! entry's name and the secret the item held (HMAC-SHA-256 under a random key of this user's,
//! `secret-service-items/key`, 0600); the secret read at the path is handed out only if it has
//! exactly that digest, so the hint can only ever give back the very token this entry stored
//! there. A file planted or changed in the data directory cannot make `get` hand out another
//! item's secret (forging the digest needs that secret and the key; another entry's digest
//! names another entry), nor can an item replaced since: any mismatch, a missing or unreadable
//! item, or a damaged file means a search, as before, and the secret read is dropped (zeroed)
//! unused. Because the digest is keyed, a copy of the hint files alone cannot confirm a guessed
//! token offline. Checking the secret rather than the item's attributes saves a call that, in
//! gnome-keyring, scans every item again. Writing is best effort (temp file and rename, no
//! lock: the last writer wins and every reader checks); a failure to write changes nothing but
//! speed, and without a key there are no hints at all.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::private_file::read_regular;

/// A file longer than this is not ours.
const MAX_FILE: u64 = 4096;
/// The digest key's length and file name.
const KEY_BYTES: usize = 32;
const KEY_FILE: &str = "key";

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

    /// The user's digest key: read, or made (random, 0600) when there is none. `None` when it
    /// can be neither read nor made: then no hint is used or written.
    fn key(&self, make: bool) -> Option<Zeroizing<[u8; KEY_BYTES]>> {
        let path = self.dir.join(KEY_FILE);
        if let Some(key) = read_regular(&path, KEY_BYTES as u64 + 1)
            .filter(|bytes| bytes.len() == KEY_BYTES)
        {
            let mut out = Zeroizing::new([0u8; KEY_BYTES]);
            out.copy_from_slice(&key);
            return Some(out);
        }
        if !make {
            return None;
        }
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        fs::File::open("/dev/urandom")
            .and_then(|mut random| random.read_exact(&mut key[..]))
            .ok()?;
        crate::private_file::create_private_dir(&self.dir).ok()?;
        let temp = self.dir.join(format!("{KEY_FILE}.tmp{}", std::process::id()));
        crate::private_file::replace(&temp, &path, &key[..]).ok()?;
        // Another process may have made its own meanwhile: the one on disk is the key.
        self.key(false)
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

    /// The remembered item for `service`/`username`, if the file names exactly that entry.
    /// Only a regular file is read: no symlink is followed, and a FIFO planted there is opened
    /// without waiting for a writer (it would hold `get` forever), then left.
    pub fn lookup(&self, service: &str, username: &str) -> Option<Hint> {
        let bytes = read_regular(&self.file(service, username), MAX_FILE)?;
        let text = String::from_utf8(bytes.to_vec()).ok()?;
        let mut lines = text.split('\n');
        let fields = (
            lines.next(),
            lines.next(),
            lines.next(),
            lines.next(),
            lines.next(),
        );
        let (Some(s), Some(u), Some(path), Some(digest), Some("")) = fields else {
            return None;
        };
        if s != service || u != username || lines.next().is_some() {
            return None;
        }
        Some(Hint {
            path: path.to_owned(),
            digest: from_hex(digest)?,
            key: self.key(false)?,
        })
    }

    /// Remembers that the item at `path` holds `secret` for the entry (best effort).
    pub fn remember(&self, service: &str, username: &str, path: &str, secret: &[u8]) {
        if [service, username, path].iter().any(|s| s.contains('\n')) {
            return;
        }
        let Some(key) = self.key(true) else {
            return;
        };
        let digest = digest(&key, service, username, secret);
        let _ = self.write(service, username, path, &digest);
    }

    fn write(
        &self,
        service: &str,
        username: &str,
        path: &str,
        digest: &[u8; 32],
    ) -> std::io::Result<()> {
        crate::private_file::create_private_dir(&self.dir)?;
        let target = self.file(service, username);
        let temp = target.with_extension(format!("tmp{}", std::process::id()));
        let hex = crate::hex::encode(digest);
        let text = format!("{service}\n{username}\n{path}\n{hex}\n");
        crate::private_file::replace(&temp, &target, text.as_bytes())
    }

    /// Forgets the entry's item (best effort).
    pub fn forget(&self, service: &str, username: &str) {
        let _ = fs::remove_file(self.file(service, username));
    }
}

/// A remembered item: where it is, and the digest of what it held.
pub struct Hint {
    pub path: String,
    digest: [u8; 32],
    key: Zeroizing<[u8; KEY_BYTES]>,
}

impl Hint {
    /// `secret` is what this entry stored at this path (compared in constant time).
    pub fn holds(&self, service: &str, username: &str, secret: &[u8]) -> bool {
        let mut mac = keyed(&self.key, service, username);
        mac.update(secret);
        mac.verify_slice(&self.digest).is_ok()
    }
}

/// The MAC of the entry's name, domain-separated from any other use, ready for the secret.
fn keyed(key: &[u8; KEY_BYTES], service: &str, username: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"git-credential-bitbucket secret-service item hint\0");
    mac.update(service.as_bytes());
    mac.update(&[0]);
    mac.update(username.as_bytes());
    mac.update(&[0]);
    mac
}

/// HMAC-SHA-256 of the entry's name and its secret under the user's key.
fn digest(key: &[u8; KEY_BYTES], service: &str, username: &str, secret: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key, service, username);
    mac.update(secret);
    mac.finalize().into_bytes().into()
}

fn from_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(bytes.chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const PATH: &str = "/org/freedesktop/secrets/collection/login/7";

    #[test]
    fn a_hint_gives_back_only_the_secret_its_entry_stored() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("data");
        let paths = ItemPaths::new(&dir);
        assert!(paths.lookup("svc", "bitbucket.org").is_none());
        paths.remember("svc", "bitbucket.org", PATH, b"token-a");
        let hint = paths.lookup("svc", "bitbucket.org").expect("remembered");
        assert_eq!(hint.path, PATH);
        assert!(hint.holds("svc", "bitbucket.org", b"token-a"), "control");
        assert!(!hint.holds("svc", "bitbucket.org", b"token-b"));
        assert!(!hint.holds("svc", "bitbucket.org/acme", b"token-a"));
        assert!(!hint.holds("other", "bitbucket.org", b"token-a"));
        assert!(paths.lookup("svc", "bitbucket.org/acme").is_none());
        for private in [&paths.dir, &dir] {
            let mode = fs::metadata(private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", private.display());
        }

        // Another entry's hint copied under this entry's name is a miss: it names that entry.
        paths.remember("svc", "bitbucket.org/acme", "/x", b"token-b");
        let acme = fs::read_to_string(paths.file("svc", "bitbucket.org/acme")).unwrap();
        let file = paths.file("svc", "bitbucket.org");
        fs::write(&file, &acme).unwrap();
        assert!(paths.lookup("svc", "bitbucket.org").is_none());
        // Renamed to this entry, its digest still belongs to the other entry's name.
        fs::write(&file, acme.replace("bitbucket.org/acme", "bitbucket.org")).unwrap();
        let hint = paths.lookup("svc", "bitbucket.org").expect("well-formed");
        assert!(!hint.holds("svc", "bitbucket.org", b"token-b"));

        // Damaged files are misses: no digest, a short one, a line too many, no final LF.
        let good = format!("svc\nbitbucket.org\n{PATH}\n{}\n", "ab".repeat(32));
        for damaged in [
            format!("svc\nbitbucket.org\n{PATH}\n"),
            format!("svc\nbitbucket.org\n{PATH}\n{}\n", "ab".repeat(31)),
            format!("{good}extra\n"),
            good.trim_end().to_owned(),
            good.replace("ab", "zz"),
        ] {
            fs::write(&file, &damaged).unwrap();
            assert!(
                paths.lookup("svc", "bitbucket.org").is_none(),
                "{damaged:?}"
            );
        }
        fs::write(&file, &good).unwrap();
        assert!(paths.lookup("svc", "bitbucket.org").is_some(), "control");

        // A symlink is not followed.
        fs::remove_file(&file).unwrap();
        let elsewhere = dir.join("elsewhere");
        fs::write(&elsewhere, &good).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
        assert!(paths.lookup("svc", "bitbucket.org").is_none());
        fs::remove_file(&file).unwrap();
        // A FIFO is a miss at once, not a wait for a writer (looked up apart: a hang fails).
        crate::private_file::make_fifo(&file);
        let (sender, receiver) = std::sync::mpsc::channel();
        let looking = paths.clone();
        std::thread::spawn(move || sender.send(looking.lookup("svc", "bitbucket.org").is_some()));
        let found = receiver.recv_timeout(std::time::Duration::from_secs(30));
        assert_eq!(found, Ok(false), "a FIFO held the lookup");
        fs::remove_file(&file).unwrap();

        // The digest is keyed: another key (a copy of the hints alone, or a key replaced)
        // confirms nothing, and without the key no hint is used.
        paths.remember("svc", "bitbucket.org", PATH, b"token-a");
        let key_file = paths.dir.join(KEY_FILE);
        let key = fs::read(&key_file).unwrap();
        assert_eq!(key.len(), KEY_BYTES);
        assert_eq!(fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(paths.lookup("svc", "bitbucket.org").unwrap().holds("svc", "bitbucket.org", b"token-a"), "control");
        fs::write(&key_file, [7u8; KEY_BYTES]).unwrap();
        assert!(!paths.lookup("svc", "bitbucket.org").unwrap().holds("svc", "bitbucket.org", b"token-a"));
        fs::remove_file(&key_file).unwrap();
        assert!(paths.lookup("svc", "bitbucket.org").is_none());

        paths.remember("svc", "bitbucket.org", "/y", b"t");
        paths.forget("svc", "bitbucket.org");
        assert!(paths.lookup("svc", "bitbucket.org").is_none());
        // Nothing with a newline is written.
        paths.remember("svc", "bitbucket.org", "/y\n/z", b"t");
        assert!(paths.lookup("svc", "bitbucket.org").is_none());
    }
}
