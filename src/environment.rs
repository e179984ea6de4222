//! What the process's environment tells every layer: the token it gives (a variable, a file or
//! a systemd credential: `token_source`), the store variable and the tests' git deadline.
//!
//! Both the protocol operations (in `cli`) and the commands for people read these, and `git`
//! children must be started without the token, so they live below all of them.

pub mod token_file;
pub mod token_source;

pub use token_source::{EnvironmentToken, TOKEN_ENV};

/// The environment variable naming the store when `--store` is not given.
pub const STORE_ENV: &str = "GIT_CREDENTIAL_BITBUCKET_STORE";

/// Seconds that lower (never raise) every git child's deadline (`git::Bound`): for tests, so
/// that a hung git is found out in seconds.
pub const GIT_DEADLINE_ENV: &str = "GIT_CREDENTIAL_BITBUCKET_GIT_DEADLINE";

/// True in a CI job (`CI` set, as GitHub Actions, GitLab CI, Bitbucket Pipelines, Jenkins' and
/// most others' runners set it): nobody is there to answer git's prompt.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// True in a desktop session (a display to show a keyring's dialog on): not a headless
/// server, where other advice fits.
pub fn desktop_session() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Seconds to wait for a person to unlock the keychain when `--unlock-timeout` is not given
/// (`0`: never ask).
pub const UNLOCK_TIMEOUT_ENV: &str = "GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT";
