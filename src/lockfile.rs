//! git's lockfile protocol (lockfile.c), for the files we rewrite that git also writes:
//! `FILE.lock` is created exclusively, the new content written into it, and it is renamed
//! over `FILE` to commit — or removed. A git holding the lock is waited for, up to a deadline.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// How long to wait for another git holding the lock (`git credential-store` waits 1 s).
pub const DEADLINE: Duration = Duration::from_secs(2);

/// `FILE.lock`, as git's lockfile.c makes it: created exclusively; renamed over the file to
/// commit, removed otherwise.
pub struct Lock {
    path: PathBuf,
    target: PathBuf,
    file: Option<std::fs::File>,
}

impl Lock {
    /// Takes the lock of `target` (a resolved path, not a symlink), waiting up to `wait`.
    pub fn take(target: &Path, wait: Duration) -> anyhow::Result<Lock> {
        let mut name = target.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(5);
        loop {
            match crate::private_file::private_options()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(Lock {
                        path,
                        target: target.to_owned(),
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if Instant::now() >= deadline {
                        anyhow::bail!(
                            "{} is locked by another git process ({} exists); try again, or \
                             remove that file if no git is running",
                            target.display(),
                            path.display()
                        );
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", path.display()));
                }
            }
        }
    }

    /// Writes `bytes` as the new content of the target, with the target's permissions
    /// ([`crate::private_file::commit`]: synced, renamed over it, or removed on failure).
    pub fn commit(mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let file = self.file.take().expect("an open lock");
        if let Ok(meta) = std::fs::metadata(&self.target) {
            let _ = file.set_permissions(meta.permissions());
        }
        let path = std::mem::take(&mut self.path);
        crate::private_file::commit(file, &path, &self.target, bytes).with_context(|| {
            format!(
                "cannot replace {} through {}",
                self.target.display(),
                path.display()
            )
        })
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
