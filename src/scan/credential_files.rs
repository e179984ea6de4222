//! git-credential-store's files: finding Bitbucket lines in them and taking lines out the way
//! git itself writes them.
//!
//! The files are the ones git reads: `~/.git-credentials` and
//! `$XDG_CONFIG_HOME/git/credentials`, where an unset *or empty* `XDG_CONFIG_HOME` means
//! `~/.config` (never a path relative to the current directory, which a cloned repository
//! could plant). A line that is not UTF-8 is kept as it is and hides nothing after it.
//! Rewriting holds git's own lock (`FILE.lock`, created exclusively, renamed over the file),
//! removes lines by their content — not their number, which a concurrent
//! `git credential-store` may have shifted — and edits the target of a symlink, which stays.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use zeroize::Zeroizing;

use super::secrets::{self, EmbeddedSecret};
use crate::lockfile::Lock;
use crate::policy::ServedHosts;

/// The git-credentials files that exist, in git's order.
pub fn paths() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
    else {
        return Vec::new();
    };
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|x| !x.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    [
        home.join(".git-credentials"),
        config_home.join("git/credentials"),
    ]
    .into_iter()
    .filter(|p| p.is_file())
    .collect()
}

/// A Bitbucket line of a credentials file.
pub struct Line {
    /// Numbered from 1, for people; rewriting goes by `text`.
    pub number: usize,
    pub text: Zeroizing<Vec<u8>>,
    pub secret: EmbeddedSecret,
}

/// The lines of `path` for a served host, with their secrets.
pub fn bitbucket_lines(path: &Path, hosts: &ServedHosts) -> Vec<Line> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let bytes = Zeroizing::new(bytes);
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter_map(|(i, raw)| {
            let text = std::str::from_utf8(raw).ok()?.trim();
            Some(Line {
                number: i + 1,
                secret: secrets::in_url(text, hosts)?,
                text: Zeroizing::new(trim_bytes(raw).to_vec()),
            })
        })
        .collect()
}

fn trim_bytes(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// Removes every line whose content is one of `lines` from `path` (the symlink's target),
/// under git's lock. Returns how many lines went.
pub fn remove_lines(path: &Path, lines: &[&[u8]]) -> anyhow::Result<usize> {
    remove_lines_waiting(path, lines, crate::lockfile::DEADLINE)
}

fn remove_lines_waiting(path: &Path, lines: &[&[u8]], wait: Duration) -> anyhow::Result<usize> {
    let target = std::fs::canonicalize(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    let lock = Lock::take(&target, wait)?;
    let original = Zeroizing::new(
        std::fs::read(&target).with_context(|| format!("cannot read {}", target.display()))?,
    );
    let mut kept = Zeroizing::new(Vec::with_capacity(original.len()));
    let mut removed = 0;
    let mut pieces = original.split(|b| *b == b'\n').peekable();
    while let Some(piece) = pieces.next() {
        let last = pieces.peek().is_none();
        if last && piece.is_empty() {
            break; // the newline that ended the file
        }
        if lines.contains(&trim_bytes(piece)) {
            removed += 1;
            continue;
        }
        kept.extend_from_slice(piece);
        kept.push(b'\n');
    }
    lock.commit(&kept)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_by_content_and_the_rest_stays_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds");
        std::fs::write(
            &path,
            b"https://a:1@h\n\xff\xfe odd\nhttps://b:2@bitbucket.org\nlast",
        )
        .unwrap();
        let removed = remove_lines(&path, &[b"https://b:2@bitbucket.org"]).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"https://a:1@h\n\xff\xfe odd\nlast\n"
        );
        assert!(!dir.path().join("creds.lock").exists());
    }

    #[test]
    fn a_held_lock_is_waited_for_then_refused_without_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds");
        std::fs::write(&path, "https://b:2@bitbucket.org\n").unwrap();
        std::fs::write(dir.path().join("creds.lock"), "").unwrap();
        let line: &[u8] = b"https://b:2@bitbucket.org";
        let err = remove_lines_waiting(&path, &[line], Duration::from_millis(20)).unwrap_err();
        assert!(format!("{err:#}").contains("locked"), "{err:#}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "https://b:2@bitbucket.org\n"
        );
        assert!(dir.path().join("creds.lock").exists(), "not ours to remove");
    }
}
