//! Which entries git is prompting a person for: a short-lived note per entry, so that `store`
//! keeps only a token git got from a person.
//!
//! git calls `store` with whatever password worked, wherever it came from: typed at its
//! prompt, but also taken from a URL's `user:password@` (a submodule of someone else's
//! project) or from another helper. Only the first is the person's choice. git prompts exactly
//! when this helper's `get` answered without a password, so that `get` leaves a note here for
//! the request: the entry it uses first, and the repository it is for (two fetches in one
//! workspace, one prompting and one handed a token, keep apart). A `store` of a new token for
//! that request within [`PROMPT_WINDOW`] takes the note (one prompt, one token) and may save;
//! any other new token is refused. A `get` that hands out a token removes the note (no prompt
//! follows), and so does an `erase` (the typed token was refused). The note holds only the time
//! of the prompt, never a secret.
//!
//! One small file per entry and repository in `prompts/` under the data directory, named by the
//! backend and the two (hex), written by replacing it and removed by unlinking it: no lock is needed, so
//! `get` never waits for a writer. Reading opens only a regular file, without following a
//! symlink or waiting on a FIFO.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Backend, Target};

/// How long after `get` answered without a password a new token may be saved: the time a
/// person takes to paste a token at git's prompt, plus git's request with it (git calls `store`
/// after the first request that succeeds, not at the end of a clone).
pub const PROMPT_WINDOW: u64 = 5 * 60;

/// A note from a clock a few seconds ahead (another process, the same second) still counts.
const CLOCK_SLACK: u64 = 5;

/// A note longer than this is not ours.
const MAX_NOTE: u64 = 64;

/// Where the notes are kept.
enum Kept {
    Dir(PathBuf),
    /// For unit tests and the fuzz target: shared by every store opened on the same memory.
    Memory(Arc<Mutex<BTreeMap<String, u64>>>),
}

/// The pending prompts of one user.
pub(super) struct Prompts {
    kept: Kept,
}

impl Prompts {
    /// Notes kept in `prompts/` under the data directory.
    pub fn in_dir(data_dir: &Path) -> Self {
        Self {
            kept: Kept::Dir(data_dir.join("prompts")),
        }
    }

    /// Notes kept in memory, shared by everyone holding `map`.
    pub fn shared(map: Arc<Mutex<BTreeMap<String, u64>>>) -> Self {
        Self {
            kept: Kept::Memory(map),
        }
    }

    /// `secret-service-62697462...`: the backend, then the account of the entry the request
    /// uses first and its repository (`*` without a path, nothing for a path that names none)
    /// in hex, so any host name makes a short, safe file name and no two share one.
    fn name(backend: Backend, target: &Target) -> String {
        let place = target.place.mark().unwrap_or_default();
        let hex = crate::hex::encode(format!("{}\n{place}", target.first().account()).as_bytes());
        format!("{}-{hex}", backend.name())
    }

    /// Notes that git is prompting, now, for the token of `target`.
    pub fn note(&self, backend: Backend, target: &Target, now: u64) -> std::io::Result<()> {
        let name = Self::name(backend, target);
        match &self.kept {
            Kept::Memory(map) => {
                lock(map).insert(name, now);
                Ok(())
            }
            Kept::Dir(dir) => {
                crate::private_file::create_private_dir(dir)?;
                let temporary = dir.join(format!("{name}.tmp.{}", std::process::id()));
                let _ = std::fs::remove_file(&temporary); // left by a crash of this pid
                crate::private_file::replace(
                    &temporary,
                    &dir.join(name),
                    now.to_string().as_bytes(),
                )
            }
        }
    }

    /// Forgets the note for `target`, if there is one.
    pub fn clear(&self, backend: Backend, target: &Target) {
        let name = Self::name(backend, target);
        match &self.kept {
            Kept::Memory(map) => {
                lock(map).remove(&name);
            }
            Kept::Dir(dir) => {
                let _ = std::fs::remove_file(dir.join(name));
            }
        }
    }

    /// Takes the note for `target`: true when git prompted for it within [`PROMPT_WINDOW`] of
    /// `now`. The note is gone afterwards either way.
    pub fn take(&self, backend: Backend, target: &Target, now: u64) -> bool {
        let name = Self::name(backend, target);
        let at = match &self.kept {
            Kept::Memory(map) => lock(map).remove(&name),
            Kept::Dir(dir) => {
                let path = dir.join(name);
                let at = read_note(&path);
                let _ = std::fs::remove_file(&path);
                at
            }
        };
        at.is_some_and(|at| at <= now + CLOCK_SLACK && now.saturating_sub(at) <= PROMPT_WINDOW)
    }
}

/// The time in the note at `path`: a regular file holding a number, or nothing.
fn read_note(path: &Path) -> Option<u64> {
    let bytes = crate::private_file::read_regular(path, MAX_NOTE)?;
    std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
}

fn lock(map: &Mutex<BTreeMap<String, u64>>) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
    map.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::HostKey;

    /// A request for bitbucket.org with `path`.
    fn at(path: Option<&str>) -> Target {
        Target::new(HostKey::parse("bitbucket.org").unwrap(), path, false)
    }

    #[test]
    fn a_note_is_taken_once_within_the_window_and_only_for_its_request() {
        let dir = tempfile::tempdir().unwrap();
        for prompts in [Prompts::in_dir(dir.path()), Prompts::shared(Arc::default())] {
            let now = 1_800_000_000;
            let (host, app) = (at(None), at(Some("acme/app.git")));
            prompts.note(Backend::File, &host, now).unwrap();
            assert!(!prompts.take(Backend::File, &app, now), "another entry");
            assert!(
                !prompts.take(Backend::Keyutils, &host, now),
                "another store"
            );
            assert!(prompts.take(Backend::File, &host, now + 60), "control");
            assert!(!prompts.take(Backend::File, &host, now + 61), "taken once");

            // Two repositories of one workspace: one prompts, the other is handed a token.
            prompts.note(Backend::File, &app, now).unwrap();
            prompts.clear(Backend::File, &at(Some("acme/lib.git")));
            assert!(prompts.take(Backend::File, &app, now), "kept apart");

            prompts.note(Backend::File, &host, now).unwrap();
            assert!(
                !prompts.take(Backend::File, &host, now + PROMPT_WINDOW + 1),
                "late"
            );
            prompts.note(Backend::File, &host, now).unwrap();
            prompts.clear(Backend::File, &host);
            assert!(!prompts.take(Backend::File, &host, now), "cleared");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_planted_fifo_or_symlink_is_no_note_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let prompts = Prompts::in_dir(dir.path());
        let now = 1_800_000_000;
        prompts.note(Backend::File, &at(None), now).unwrap();
        let path = dir
            .path()
            .join("prompts")
            .join(Prompts::name(Backend::File, &at(None)));
        std::fs::remove_file(&path).unwrap();
        let fifo = rustix::fs::FileType::Fifo;
        let private = rustix::fs::Mode::from_raw_mode(0o600);
        rustix::fs::mknodat(rustix::fs::CWD, &path, fifo, private, 0).unwrap();
        assert!(!prompts.take(Backend::File, &at(None), now), "a FIFO");
        let real = dir.path().join("real");
        std::fs::write(&real, now.to_string()).unwrap();
        std::os::unix::fs::symlink(&real, &path).unwrap();
        assert!(!prompts.take(Backend::File, &at(None), now), "a symlink");
        let mode = |p: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777
        };
        assert_eq!(mode(&dir.path().join("prompts")), 0o700);
    }
}
