//! A map kept in one text file: a `#` header, then one `service<TAB>user<TAB>value` line per
//! entry. The file store keeps tokens this way (`tokens`, private) and the facts about them
//! live the same way (`facts`, readable); this module is the format and its safe handling,
//! which both use and neither owns.
//!
//! Every change is read-modify-write under the user's writer lock ([`super::lock`]), replaced
//! atomically ([`crate::private_file::commit`]): a reader sees the old file or the new one, and
//! a full disk leaves the old file as it was. A line we cannot read is kept as it is and
//! reported by number ([`mod@format`]); it never blocks the other entries. Nothing found on disk is
//! trusted ([`checks`]). Temporary files are removed under the lock before every write, so one
//! left by a crash neither keeps a secret on disk past the next write nor blocks that write.

mod checks;
mod format;
mod lookup;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

pub use checks::{MAX_FILE_BYTES, Privacy};

use super::lock::{self, WriterLock};
use crate::private_file::private_options;

/// The map: `(service, user)` to value bytes, zeroed when dropped (values may be secrets).
pub type LineMap = BTreeMap<(String, String), Zeroizing<Vec<u8>>>;

/// Why a line file could not be read or written; never holds a value.
#[derive(Debug, thiserror::Error)]
pub enum LineFileError {
    /// The file or its directory is not to be trusted (owner, mode, symlink, size): the
    /// message names it and the command that fixes it.
    #[error("{0}")]
    Refused(String),
    /// Reading or writing failed: what was done to which file, and why.
    #[error("{0}")]
    Io(String),
    /// A value with a tab or line break cannot be a line.
    #[error("an entry contains a tab or line break")]
    Unwritable,
}

pub type Result<T> = std::result::Result<T, LineFileError>;

/// An I/O error naming what was done to which file (paths are not secrets), so a person can
/// tell a full disk from a read-only directory from a permission problem.
fn io_at(what: &str, path: &Path, error: std::io::Error) -> LineFileError {
    LineFileError::Io(format!("cannot {what} {}: {error}", path.display()))
}

/// One line file.
pub struct LineFile {
    dir: PathBuf,
    name: &'static str,
    header: &'static str,
    privacy: Privacy,
    /// What the last read found wrong with single lines (file and line number only).
    damage: Mutex<BTreeSet<String>>,
    /// Lookups check the lines before the entry for damage (see [`LineFile::index`]).
    checks_lines_on_lookup: bool,
}

impl LineFile {
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
    /// index such as the facts file, whose damage `get` never reports (a whole read, before
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

    /// Every entry that reads as one.
    pub fn load(&self) -> Result<LineMap> {
        self.read().map(|parsed| parsed.map)
    }

    fn read(&self) -> Result<format::Parsed> {
        let Some(bytes) = checks::read_checked(&self.dir, &self.path(), self.privacy)? else {
            return Ok(format::Parsed::default());
        };
        let parsed = format::parse(&bytes);
        self.note_damage(&parsed.damaged);
        Ok(parsed)
    }

    fn note_damage(&self, damaged: &[format::DamagedLine]) {
        if !damaged.is_empty() {
            let mut damage = self.damage.lock().unwrap_or_else(|p| p.into_inner());
            *damage = damaged.iter().map(|d| d.describe(&self.path())).collect();
        }
    }

    /// The value of one entry, reading only as far as it is ([`lookup`]), with the checks of
    /// a whole read.
    pub fn find(&self, (service, user): (&str, &str)) -> Result<Option<Zeroizing<Vec<u8>>>> {
        let path = self.path();
        let Some((mut file, length)) = checks::open_checked(&self.dir, &path, self.privacy)? else {
            return Ok(None);
        };
        let mut damaged = Vec::new();
        let checked = self.checks_lines_on_lookup.then_some(&mut damaged);
        let found = lookup::find(&mut file, length, (service, user), MAX_FILE_BYTES, checked)
            .map_err(|e| io_at("read", &path, e))?;
        self.note_damage(&damaged);
        match found {
            lookup::Lookup::Found(value) => Ok(Some(value)),
            lookup::Lookup::Missing => Ok(None),
            lookup::Lookup::TooLarge => Err(checks::too_large(&path)),
        }
    }

    /// Reads, changes and writes the map as one step under the writer lock; writes nothing
    /// when `change` leaves the map as it was. `change` may refuse (its error is returned and
    /// nothing is written).
    pub fn update<E: From<LineFileError>>(
        &self,
        change: &mut dyn FnMut(&mut LineMap) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let _lock = WriterLock::acquire(&self.dir, lock::WAIT).map_err(|e| {
            LineFileError::Io(match e {
                lock::LockError::Unavailable { path, reason } => {
                    format!("cannot lock {}: {reason}", path.display())
                }
                busy => busy.to_string(),
            })
        })?;
        let parsed = self.read()?;
        let mut map = parsed.map.clone();
        change(&mut map)?;
        if map == parsed.map {
            // Nothing changed: the file is not rewritten, but a crash's leftovers still go.
            self.remove_stale_temporaries();
            return Ok(());
        }
        let written = format::changed_keys(&parsed.map, &map);
        let text = format::encode(self.header, &map, &parsed.damaged, &written)?;
        Ok(self.write(&text)?)
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
        let file = private_options()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| io_at("write", &self.path(), e))?;
        crate::private_file::commit(file, &temporary, &self.path(), text)
            .map_err(|e| io_at("write", &self.path(), e))
    }
}
