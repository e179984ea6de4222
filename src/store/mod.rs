//! Where tokens live: one seam, many keychains.
//!
//! The seam is the keyring project's `CredentialStoreApi` (keyring-core): every backend —
//! platform keychains from the keyring store crates, and our own Secret Service, file and
//! in-memory stores — is an `Arc<CredentialStore>`. [`Keychain`] is the only thing the rest of
//! the program sees: get/set/delete a [`Token`] by [`EntryKey`], with errors that say what
//! happened and never carry the secret (keyring-core's own errors can hold secret bytes, so
//! they are translated here and never formatted with `{:?}`).

pub mod map_store;

pub mod file;
mod file_checks;
mod file_format;
mod file_lookup;
mod listing;
pub mod lock;
pub mod memory;
mod naming;
pub mod private_files;

#[cfg(target_os = "linux")]
mod dbus;
#[cfg(target_os = "linux")]
mod item_paths;
#[cfg(target_os = "linux")]
pub mod keyutils;
#[cfg(target_os = "linux")]
pub mod secret_service;
#[cfg(target_os = "linux")]
mod session_bus;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "windows")]
mod windows;

pub use listing::Listed;

use std::path::PathBuf;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

use crate::policy::HostKey;
use crate::token::Token;

/// What to tell a person once, when a token was stored in keyutils.
pub fn keyutils_note() -> &'static str {
    "the token is in the kernel keyring (keyutils): it lasts until the machine reboots or goes \
     unused for a few days. To keep it across reboots on a headless server, use `--store file` \
     (a 0600 file) instead."
}

/// The keychain `service` under which every entry of this helper is filed.
pub const SERVICE: &str = "git-credential-bitbucket";

/// What the user asked for with `--store` or `GIT_CREDENTIAL_BITBUCKET_STORE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreChoice {
    /// The platform keychain; on Linux the Secret Service if it answers unlocked, else keyutils.
    Auto,
    /// Linux Secret Service (GNOME Keyring, KeePassXC, KWallet) over D-Bus.
    SecretService,
    /// Linux kernel key retention (persistent keyring): survives logouts, not reboots.
    Keyutils,
    /// One plaintext file, mode 0600, for headless servers that must survive reboots.
    File,
    /// macOS Keychain.
    Keychain,
    /// Windows Credential Manager.
    Wincred,
}

/// The backend actually in use, after `auto` was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    SecretService,
    Keyutils,
    File,
    Keychain,
    Wincred,
    Memory,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::SecretService => "secret-service",
            Backend::Keyutils => "keyutils",
            Backend::File => "file",
            Backend::Keychain => "keychain",
            Backend::Wincred => "wincred",
            Backend::Memory => "memory",
        }
    }
}

/// Names one stored token: a host entry, or a workspace entry under a host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryKey {
    pub host: HostKey,
    pub workspace: Option<String>,
}

impl EntryKey {
    pub fn host(host: HostKey) -> Self {
        Self {
            host,
            workspace: None,
        }
    }

    pub fn workspace(host: HostKey, workspace: String) -> Self {
        Self {
            host,
            workspace: Some(workspace),
        }
    }

    /// The keychain `user` field: `bitbucket.org` or `bitbucket.org/workspace`.
    pub fn account(&self) -> String {
        match &self.workspace {
            Some(ws) => format!("{}/{ws}", self.host.as_str()),
            None => self.host.as_str().to_owned(),
        }
    }
}

impl std::fmt::Display for EntryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.workspace {
            Some(ws) => write!(f, "workspace {ws} on {}", self.host.as_str()),
            None => write!(f, "{}", self.host.as_str()),
        }
    }
}

/// A keychain failure, described without any secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the {} store is not available: {reason}", backend.name())]
    Unavailable { backend: Backend, reason: String },
    #[error("the {} store is locked; unlock it (e.g. log in to the desktop) or choose another with --store", backend.name())]
    Locked { backend: Backend },
    #[error("the {} store failed: {reason}", backend.name())]
    Failed { backend: Backend, reason: String },
    #[error("--store {0} is not available on this operating system")]
    NotOnThisPlatform(&'static str),
}

/// Where the file store and other per-user data live.
#[derive(Debug, Clone)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    /// The user data directory (`$XDG_DATA_HOME/git-credential-bitbucket` on Linux).
    pub fn for_user() -> Option<DataDir> {
        directories::ProjectDirs::from("", "", SERVICE).map(|d| DataDir(d.data_dir().to_owned()))
    }
}

impl DataDir {
    /// The user's writer lock ([`lock`]), waiting at most [`lock::WAIT`] for another writer.
    pub fn lock(&self) -> Result<lock::WriterLock, lock::LockError> {
        lock::WriterLock::acquire(&self.0, lock::WAIT)
    }

    /// The writer lock for a writer that removes tokens (`deleting`) or only adds them. Another
    /// writer holding it past the wait is always an error; a lock that cannot be made at all
    /// (read-only or unusable data directory) is one only for a writer that deletes, so nothing
    /// is deleted unlocked, while one that only adds goes on without it (`Ok(None)`).
    pub fn writer_lock(&self, deleting: bool) -> Result<Option<lock::WriterLock>, lock::LockError> {
        match self.lock() {
            Ok(lock) => Ok(Some(lock)),
            Err(e @ lock::LockError::Busy { .. }) => Err(e),
            Err(e) if deleting => Err(e),
            Err(lock::LockError::Unavailable { .. }) => Ok(None),
        }
    }

    /// The lock only if it is free now: for `get`, which never waits to note a warning.
    pub fn lock_if_free(&self) -> Option<lock::WriterLock> {
        lock::WriterLock::acquire(&self.0, std::time::Duration::ZERO).ok()
    }
}

/// An open keychain: the backend in use and its store.
pub struct Keychain {
    backend: Backend,
    store: Arc<CredentialStore>,
    /// The file store itself, for what only it can do (whole-file reads and batch changes).
    file: Option<Arc<file::FileMapStore>>,
    /// Why `auto` did not pick the Secret Service, when it fell back to keyutils.
    pub fallback_reason: Option<String>,
}

impl Keychain {
    /// Wraps an existing store (tests use the in-memory one).
    pub fn from_store(backend: Backend, store: Arc<CredentialStore>) -> Self {
        Self {
            backend,
            store,
            file: None,
            fallback_reason: None,
        }
    }

    /// The file store in `dir`.
    pub fn file_store(dir: &std::path::Path) -> Self {
        let file = file::FileStore::new(dir);
        let mut keychain = Self::from_store(Backend::File, file.clone());
        keychain.file = Some(file);
        keychain
    }

    /// What the store found wrong on the way (damaged lines of the tokens file), by place.
    pub fn damage(&self) -> Vec<String> {
        self.file
            .as_ref()
            .map(|f| f.backing().damage())
            .unwrap_or_default()
    }

    /// Opens the store the user chose. Only called once a request is known to be ours.
    pub fn open(choice: StoreChoice, data_dir: Option<&DataDir>) -> Result<Self, StoreError> {
        match choice {
            StoreChoice::File => {
                let dir = data_dir.ok_or_else(|| StoreError::Unavailable {
                    backend: Backend::File,
                    reason: "no home directory to keep the file in".into(),
                })?;
                Ok(Self::file_store(&dir.0))
            }
            StoreChoice::Auto => open_platform_default(data_dir),
            StoreChoice::SecretService => open_secret_service(false, data_dir),
            StoreChoice::Keyutils => open_keyutils(),
            StoreChoice::Keychain => open_macos(),
            StoreChoice::Wincred => open_windows(),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn entry(&self, key: &EntryKey) -> Result<Entry, StoreError> {
        naming::entry(self.store.as_ref(), self.backend, key).map_err(|e| self.translate(e))
    }

    /// The token stored under `key`, if any.
    pub fn get(&self, key: &EntryKey) -> Result<Option<Token>, StoreError> {
        match self.entry(key)?.get_secret() {
            Ok(bytes) => Token::from_bytes(bytes)
                .map(Some)
                .ok_or(StoreError::Failed {
                    backend: self.backend,
                    reason: format!("the entry for {key} is not text"),
                }),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.translate(e)),
        }
    }

    /// Stores `token` under `key`, replacing what was there.
    pub fn set(&self, key: &EntryKey, token: &Token) -> Result<(), StoreError> {
        self.entry(key)?
            .set_secret(token.expose().as_bytes())
            .map_err(|e| self.translate(e))
    }

    /// Removes the entry; `Ok(false)` if there was none.
    pub fn delete(&self, key: &EntryKey) -> Result<bool, StoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.translate(e)),
        }
    }

    /// keyring-core errors, rewritten so that no variant's payload (which may be the secret,
    /// as in `BadEncoding`) reaches a message.
    pub(super) fn translate(&self, error: keyring_core::Error) -> StoreError {
        use keyring_core::Error as E;
        let backend = self.backend;
        let failed = |reason: String| StoreError::Failed { backend, reason };
        match error {
            E::NoStorageAccess(e) if e.to_string().contains("locked") => {
                StoreError::Locked { backend }
            }
            E::NoStorageAccess(e) => StoreError::Unavailable {
                backend,
                reason: e.to_string(),
            },
            E::PlatformFailure(e) => failed(e.to_string()),
            E::NoEntry => failed("no such entry".into()),
            E::BadEncoding(_) | E::BadDataFormat(..) => failed("a stored entry is not text".into()),
            E::BadStoreFormat(why) => failed(format!("the store is damaged: {why}")),
            E::TooLong(what, max) => failed(format!("{what} is longer than {max}")),
            E::Invalid(what, why) => failed(format!("{what} {why}")),
            E::Ambiguous(entries) => failed(format!("{} entries match", entries.len())),
            E::NoDefaultStore => failed("no store".into()),
            E::NotSupportedByStore(why) => failed(why),
            _ => failed("unexpected keychain error".into()),
        }
    }
}

#[cfg(target_os = "linux")]
fn open_platform_default(data_dir: Option<&DataDir>) -> Result<Keychain, StoreError> {
    match open_secret_service(true, data_dir) {
        Ok(keychain) => Ok(keychain),
        Err(why) => {
            let mut keychain = open_keyutils()?;
            keychain.fallback_reason = Some(why.to_string());
            Ok(keychain)
        }
    }
}

#[cfg(target_os = "macos")]
fn open_platform_default(_: Option<&DataDir>) -> Result<Keychain, StoreError> {
    open_macos()
}

#[cfg(target_os = "windows")]
fn open_platform_default(_: Option<&DataDir>) -> Result<Keychain, StoreError> {
    open_windows()
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn open_platform_default(_: Option<&DataDir>) -> Result<Keychain, StoreError> {
    Err(StoreError::NotOnThisPlatform("auto"))
}

/// `check_now`: check the default collection while connecting (`auto` falls back on a locked
/// one) rather than when a search finds no unlocked item (saves a round trip per `get`).
#[cfg(target_os = "linux")]
fn open_secret_service(
    check_now: bool,
    data_dir: Option<&DataDir>,
) -> Result<Keychain, StoreError> {
    let paths = data_dir.map(|dir| item_paths::ItemPaths::new(&dir.0));
    let store = if check_now {
        secret_service::SecretServiceStore::connect(paths)
    } else {
        secret_service::SecretServiceStore::connect_deferred(paths)
    };
    store.map(|store| Keychain::from_store(Backend::SecretService, store))
}

#[cfg(not(target_os = "linux"))]
fn open_secret_service(_check_now: bool, _: Option<&DataDir>) -> Result<Keychain, StoreError> {
    Err(StoreError::NotOnThisPlatform("secret-service"))
}

#[cfg(target_os = "linux")]
fn open_keyutils() -> Result<Keychain, StoreError> {
    keyutils::open().map(|store| Keychain::from_store(Backend::Keyutils, store))
}

#[cfg(not(target_os = "linux"))]
fn open_keyutils() -> Result<Keychain, StoreError> {
    Err(StoreError::NotOnThisPlatform("keyutils"))
}

#[cfg(target_os = "macos")]
fn open_macos() -> Result<Keychain, StoreError> {
    macos::open().map(|store| Keychain::from_store(Backend::Keychain, store))
}

#[cfg(not(target_os = "macos"))]
fn open_macos() -> Result<Keychain, StoreError> {
    Err(StoreError::NotOnThisPlatform("keychain"))
}

#[cfg(target_os = "windows")]
fn open_windows() -> Result<Keychain, StoreError> {
    windows::open().map(|store| Keychain::from_store(Backend::Wincred, store))
}

#[cfg(not(target_os = "windows"))]
fn open_windows() -> Result<Keychain, StoreError> {
    Err(StoreError::NotOnThisPlatform("wincred"))
}
