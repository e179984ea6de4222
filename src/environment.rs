//! What the process's environment tells every layer: the CI token, the store variable and the
//! tests' git deadline.
//!
//! Both the protocol operations (in `cli`) and the commands for people read these, and `git`
//! children must be started without the token, so they live below all of them.

use crate::token::Token;

/// The environment variable naming the store when `--store` is not given.
pub const STORE_ENV: &str = "GIT_CREDENTIAL_BITBUCKET_STORE";

/// Seconds that lower (never raise) every git child's deadline (`git::Bound`): for tests, so
/// that a hung git is found out in seconds.
pub const GIT_DEADLINE_ENV: &str = "GIT_CREDENTIAL_BITBUCKET_GIT_DEADLINE";

/// Seconds to wait for a person to unlock the keychain when `--unlock-timeout` is not given
/// (`0`: never ask).
pub const UNLOCK_TIMEOUT_ENV: &str = "GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT";

/// The environment variable holding a token for CI; read by `get`, never written anywhere.
pub const TOKEN_ENV: &str = "BITBUCKET_API_TOKEN";

/// `BITBUCKET_API_TOKEN`, trimmed (CI secrets often end in a newline); empty means unset.
pub fn env_token() -> Option<Token> {
    let value = std::env::var(TOKEN_ENV).ok()?;
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| Token::new(trimmed.to_owned()))
}
