//! Directories one run of the suite makes for itself and shares between its tests: the Wine
//! template prefix, the release artifacts. Statics are never dropped, so a run cannot delete
//! them when it ends; the next run removes those whose owner is gone.
//!
//! "Gone" is told by a lock, not a pid: each directory `PREFIX-RANDOM` has a file
//! `PREFIX-RANDOM.lock` beside it, on which its run holds an `flock` until the process ends
//! (the kernel drops it then, however the process ends). A pid says nothing to a run in another
//! PID namespace (a container, `unshare`), where the same number is another process, or none;
//! a lock on a shared file means the same thing to both.
//!
//! The lock file is made and locked before its directory exists, and only directories are
//! looked at, so a run that is just starting is never taken for a finished one.

use std::fs::File;
use std::path::{Path, PathBuf};

/// A directory of this run's own, kept until the process ends (and removed by a later run).
pub struct RunDir {
    path: PathBuf,
    /// Held for the life of the process: the proof that this run still uses `path`.
    _lock: File,
}

impl RunDir {
    /// Removes the `PREFIX-*` directories under `parent` whose run has ended, then makes a new
    /// one for this run.
    pub fn new(parent: &Path, prefix: &str) -> Result<RunDir, String> {
        remove_finished(parent, prefix);
        let (lock, lock_path) = tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .suffix(".lock")
            .tempfile_in(parent)
            .map_err(|e| format!("cannot make a lock file in {}: {e}", parent.display()))?
            .keep()
            .map_err(|e| format!("cannot keep a lock file: {e}"))?;
        lock.lock()
            .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
        let path = lock_path.with_extension("");
        std::fs::create_dir(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        Ok(RunDir { path, _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes every `PREFIX-*` directory under `parent` whose lock file nobody holds.
fn remove_finished(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let prefix = format!("{prefix}-");
    for entry in entries.flatten() {
        let dir = entry.path();
        let ours = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(&prefix) && !name.ends_with(".lock"));
        if !ours || !dir.is_dir() {
            continue;
        }
        let lock_path = dir.with_extension("lock");
        let Ok(lock) = File::open(&lock_path) else {
            continue; // not one of ours, or made by hand: left alone
        };
        if lock.try_lock().is_ok() {
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::remove_file(&lock_path);
        }
    }
}
