//! Where tokens live: one seam, one folder per keychain, and one face for a stored token.
//!
//! - [`TokenStore`] is what the rest of the program sees: a stored token together with the
//!   facts about it (when it was saved, when it expires, where it worked), read together and
//!   written together under the user's writer lock. No caller coordinates the keychain and the
//!   facts file by hand.
//! - [`Keychain`] is the seam each backend implements (get, set, delete one token by its
//!   [`EntryKey`]; list, where the keychain can). Every backend lives in a folder of its own
//!   and is the only code that knows its keychain; the keyring crates are used only there.
//! - The table in `backends!` (below) names every backend once: its `--store` name, its folder and
//!   the platforms that have it. Adding a store is a folder plus one row
//!   (ARCHITECTURE.md has the checklist).
//!
//! Errors say what happened without any secret: each backend translates its own failures into
//! [`StoreError`] (keyring-core's errors can hold secret bytes, so they are never formatted).

mod choice;
mod data_dir;
mod error;
mod facts;
mod key;
mod keychain;
#[cfg(any(target_os = "linux", target_os = "macos", windows))]
mod keyring_crate;
mod line_file;
pub mod lock;
pub mod memory;
#[cfg(any(target_os = "macos", windows, test))]
mod naming;
mod prompts;
mod tokens;

pub use choice::{Passed, Place, Target};
pub use data_dir::DataDir;
pub use error::StoreError;
pub use facts::{EntryFacts, NO_PATH, WARN_DAYS};
pub use key::EntryKey;
pub use keychain::{Keychain, Listed, stored_token};
pub use prompts::PROMPT_WINDOW;
pub use tokens::{OnRemove, Stored, TokenStore, Writer};

use std::sync::Arc;
use std::time::Duration;

/// The keychain `service` under which every entry of this helper is filed.
pub const SERVICE: &str = "git-credential-bitbucket";

/// What opening a keychain may use besides the choice.
#[derive(Clone, Default)]
pub struct Opening<'a> {
    /// The user's data directory (the file store's home, the Secret Service hints).
    pub data_dir: Option<&'a DataDir>,
    /// Whether and how long to wait for a person to unlock a locked keychain.
    pub unlock: Unlock,
}

/// How long a locked keychain may wait for a person to unlock it (the Secret Service shows its
/// own dialog on the desktop), and how the person is told.
#[derive(Clone)]
pub struct Unlock {
    /// Zero: never ask (servers, CI).
    pub patience: Duration,
    /// Says at once (on stderr) what the helper waits for, while it waits.
    pub announce: Option<Announce>,
}

/// The longest wait for an unlock that may be asked for (`--unlock-timeout`, in seconds): an
/// hour.
pub const MAX_UNLOCK_TIMEOUT: u64 = 3600;

/// Something that tells the person a line, at once.
pub type Announce = Arc<dyn Fn(&str) + Send + Sync>;

/// How long a person has to unlock the keychain, unless told otherwise.
pub const UNLOCK_PATIENCE: Duration = Duration::from_secs(60);

impl Default for Unlock {
    fn default() -> Self {
        Unlock {
            patience: UNLOCK_PATIENCE,
            announce: None,
        }
    }
}

impl Unlock {
    /// Tells the person `message`, if there is someone to tell.
    pub fn say(&self, message: &str) {
        if let Some(announce) = &self.announce {
            announce(message);
        }
    }
}

/// The backends: one row each, `Variant = "store-name", folder, cfg(platforms);`. The row
/// makes the `--store` value, the [`Backend`] and its name, the folder's `mod` (compiled only
/// where the platform has it) and the arm of [`open_backend`] that calls `folder::open`; on
/// other platforms that arm says the store is not available there.
macro_rules! backends {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal, $folder:ident, cfg($($cfg:tt)*); )*) => {
        $( #[cfg($($cfg)*)] mod $folder; )*

        /// What the user asked for with `--store` or `GIT_CREDENTIAL_BITBUCKET_STORE`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
        pub enum StoreChoice {
            /// The platform keychain; on Linux the Secret Service when one answers, else keyutils.
            Auto,
            $( $(#[doc = $doc])* #[value(name = $name)] $variant, )*
        }

        /// The backend actually in use, after `auto` was resolved.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Backend {
            $( $variant, )*
            /// In memory, for unit tests and the fuzz target.
            Memory,
        }

        impl Backend {
            /// The name `--store` and messages use.
            pub fn name(self) -> &'static str {
                match self {
                    $( Backend::$variant => $name, )*
                    Backend::Memory => "memory",
                }
            }
        }

        impl StoreChoice {
            /// The backend this choice names; `None` for `auto`.
            pub fn backend(self) -> Option<Backend> {
                match self {
                    StoreChoice::Auto => None,
                    $( StoreChoice::$variant => Some(Backend::$variant), )*
                }
            }
        }

        /// Opens one backend, where this platform has it.
        fn open_backend(backend: Backend, opening: &Opening) -> Result<Box<dyn Keychain>, StoreError> {
            match backend {
                $( Backend::$variant => {
                    #[cfg($($cfg)*)]
                    let opened = $folder::open(opening);
                    #[cfg(not($($cfg)*))]
                    let opened = { let _ = opening; Err(StoreError::NotOnThisPlatform($name)) };
                    opened
                } )*
                Backend::Memory => Err(StoreError::NotOnThisPlatform("memory")),
            }
        }
    };
}

backends! {
    /// Linux Secret Service (GNOME Keyring, KeePassXC, KWallet) over D-Bus.
    SecretService = "secret-service", secret_service, cfg(target_os = "linux");
    /// Linux kernel key retention (persistent keyring): survives logouts, not reboots.
    Keyutils = "keyutils", keyutils, cfg(target_os = "linux");
    /// One plaintext file, mode 0600, for headless servers that must survive reboots.
    File = "file", file, cfg(all());
    /// macOS Keychain.
    Keychain = "keychain", macos, cfg(target_os = "macos");
    /// Windows Credential Manager.
    Wincred = "wincred", windows, cfg(windows);
}

/// An opened keychain, and for `auto`, what else it should know.
pub struct Opened {
    pub keychain: Box<dyn Keychain>,
    /// Why `auto` did not pick the Secret Service, when it fell back to keyutils.
    pub fallback: Option<Fallback>,
    /// `auto` on the Secret Service: the store it falls back to when the Secret Service is
    /// locked (opened only if asked). A token saved there meanwhile is found, and moved.
    pub stray: Option<Backend>,
}

/// Why `auto` fell back from the platform keychain.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub reason: String,
    /// The keychain is there but locked (and was not unlocked): tokens saved now land in the
    /// fallback store until it is unlocked.
    pub locked: bool,
}

/// Opens the store the user chose. Only called once a request is known to be ours.
pub fn open(choice: StoreChoice, opening: &Opening) -> Result<Opened, StoreError> {
    match choice.backend() {
        Some(backend) => Ok(Opened {
            keychain: open_backend(backend, opening)?,
            fallback: None,
            stray: None,
        }),
        None => open_platform_default(opening),
    }
}

/// `auto`: the Secret Service when one answers (and is unlocked, or unlocked by the person
/// when asked), else the kernel keyring.
#[cfg(target_os = "linux")]
fn open_platform_default(opening: &Opening) -> Result<Opened, StoreError> {
    match secret_service::open_for_auto(opening) {
        Ok(keychain) => Ok(Opened {
            keychain,
            fallback: None,
            stray: Some(Backend::Keyutils),
        }),
        Err(why) => Ok(Opened {
            keychain: open_backend(Backend::Keyutils, opening)?,
            fallback: Some(Fallback {
                locked: why.is_locked(),
                reason: why.to_string(),
            }),
            stray: None,
        }),
    }
}

#[cfg(target_os = "macos")]
fn open_platform_default(opening: &Opening) -> Result<Opened, StoreError> {
    open(StoreChoice::Keychain, opening)
}

#[cfg(windows)]
fn open_platform_default(opening: &Opening) -> Result<Opened, StoreError> {
    open(StoreChoice::Wincred, opening)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn open_platform_default(_: &Opening) -> Result<Opened, StoreError> {
    Err(StoreError::NotOnThisPlatform("auto"))
}
