//! One per-user lock for every writer: `store`, `erase`, `login`, `logout`, `migrate` and every
//! metadata or file-store update take the same `operations.lock` in the user data directory.
//!
//! Keychains have no compare-and-delete, so a writer reads, compares and writes under this lock;
//! one lock for everything means no writer's change can land between another's read and its
//! write, whichever command it comes from. The lock is re-entrant within a thread (the helper
//! holds it around a keychain write and the metadata update inside it), and every wait is
//! bounded: a writer that cannot get it in time gives up with a message that says so, and
//! callers never delete anything without it.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::private_file::{create_private_dir, private_options};

/// How long a writer waits for another to finish. Writers hold the lock for milliseconds (a
/// keychain round trip or a file rewrite); a Secret Service call is bounded by its own timeout.
pub const WAIT: Duration = Duration::from_secs(10);

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "operations.lock";

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock file cannot be made or locked (read-only or foreign data directory).
    #[error("cannot take the lock {}: {reason}", path.display())]
    Unavailable { path: PathBuf, reason: String },
    /// Another process held it for the whole wait.
    #[error(
        "another git-credential-bitbucket process held the lock {} for {} s",
        path.display(),
        waited.as_secs()
    )]
    Busy { path: PathBuf, waited: Duration },
}

/// A lock file, per thread that holds it.
type HeldKey = (PathBuf, ThreadId);

/// Locks held by this process: the open file and how many guards share it.
static HELD: Mutex<Option<HashMap<HeldKey, (File, usize)>>> = Mutex::new(None);

/// Held while alive; the last guard of a thread releases the lock.
#[derive(Debug)]
pub struct WriterLock {
    key: HeldKey,
}

impl WriterLock {
    /// Takes the lock in `dir` (created 0700 if missing), waiting at most `wait`.
    pub fn acquire(dir: &Path, wait: Duration) -> Result<WriterLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let key = (path.clone(), std::thread::current().id());
        {
            let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, count)) = held.get_or_insert_with(HashMap::new).get_mut(&key) {
                *count += 1;
                return Ok(WriterLock { key });
            }
        }
        let unavailable = |e: std::io::Error| LockError::Unavailable {
            path: path.clone(),
            reason: e.to_string(),
        };
        create_private_dir(dir).map_err(unavailable)?;
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(unavailable)?;
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(unavailable(e)),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LockError::Busy { path, waited: wait });
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(25));
        }
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        held.get_or_insert_with(HashMap::new)
            .insert(key.clone(), (file, 1));
        Ok(WriterLock { key })
    }
}

impl Drop for WriterLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        let Some(map) = held.as_mut() else { return };
        if let Some((_, count)) = map.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.key); // closing the file releases the lock
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_reentrant_in_a_thread_and_exclusive_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let outer = WriterLock::acquire(dir.path(), WAIT).unwrap();
        let inner = WriterLock::acquire(dir.path(), Duration::ZERO).unwrap();
        drop(inner);
        let path = dir.path().to_owned();
        let other = std::thread::spawn(move || WriterLock::acquire(&path, Duration::ZERO));
        assert!(matches!(other.join().unwrap(), Err(LockError::Busy { .. })));
        drop(outer);
        let path = dir.path().to_owned();
        let other = std::thread::spawn(move || WriterLock::acquire(&path, Duration::ZERO).is_ok());
        assert!(other.join().unwrap(), "released when the last guard went");
    }

    #[test]
    fn a_directory_that_cannot_hold_the_lock_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let error = WriterLock::acquire(&file, WAIT).unwrap_err();
        assert!(matches!(error, LockError::Unavailable { .. }), "{error}");
        assert!(error.to_string().contains("operations.lock"), "{error}");
    }
}
