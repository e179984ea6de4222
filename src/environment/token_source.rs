//! The token the environment gives, wherever the platform keeps it: the `BITBUCKET_API_TOKEN`
//! variable (CI), a file named by `BITBUCKET_API_TOKEN_FILE` (Docker and Kubernetes secrets), or
//! the systemd credential `bitbucket-api-token` in `$CREDENTIALS_DIRECTORY`. `get` uses it
//! before any store; nothing writes it anywhere.
//!
//! One rule decides, here and nowhere else (docs/reference.md, *Environment*): the variable,
//! then the file, then the systemd credential, then the stores. Setting both the variable and
//! the file is a mistake that is said, not guessed at: neither is used. A source that is set but
//! cannot be used (a file that is missing, writable by others, a FIFO) is said too, and `get`
//! goes on to the stores. Files are read only when a request is ours, and afresh each time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::token_file::{self, TokenFileError};
use crate::token::Token;

/// The environment variable holding a token for CI.
pub const TOKEN_ENV: &str = "BITBUCKET_API_TOKEN";

/// The environment variable naming a file that holds the token.
pub const TOKEN_FILE_ENV: &str = "BITBUCKET_API_TOKEN_FILE";

/// Where systemd puts a service's credentials (`LoadCredential=`, `LoadCredentialEncrypted=`).
pub const CREDENTIALS_DIRECTORY_ENV: &str = "CREDENTIALS_DIRECTORY";

/// The name of the systemd credential holding the token.
pub const CREDENTIAL_NAME: &str = "bitbucket-api-token";

/// What setting both the variable and the file means.
const BOTH_SET: &str = "BITBUCKET_API_TOKEN and BITBUCKET_API_TOKEN_FILE are both set, so \
neither is used: unset one of them";

/// Where a token the environment gives comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `BITBUCKET_API_TOKEN`.
    Variable,
    /// The file `BITBUCKET_API_TOKEN_FILE` names.
    File(PathBuf),
    /// `$CREDENTIALS_DIRECTORY/bitbucket-api-token`.
    SystemdCredential(PathBuf),
}

impl Source {
    /// For people: `BITBUCKET_API_TOKEN`, `BITBUCKET_API_TOKEN_FILE (/run/secrets/x)`, …
    pub fn describe(&self) -> String {
        match self {
            Source::Variable => TOKEN_ENV.to_owned(),
            Source::File(path) => format!("{TOKEN_FILE_ENV} ({})", path.display()),
            Source::SystemdCredential(path) => {
                format!(
                    "the systemd credential {CREDENTIAL_NAME} ({})",
                    path.display()
                )
            }
        }
    }

    /// For scripts (`status --json`): `variable`, `file` or `systemd-credential`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Variable => "variable",
            Source::File(_) => "file",
            Source::SystemdCredential(_) => "systemd-credential",
        }
    }

    /// The file the token is read from, if it is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Variable => None,
            Source::File(path) | Source::SystemdCredential(path) => Some(path),
        }
    }

    /// What a person does to put a new token there.
    pub fn how_to_replace(&self) -> String {
        match self {
            Source::Variable => "update the variable (e.g. your CI secret)".to_owned(),
            Source::File(path) => format!(
                "put the new token in {} (it is read again at every git operation)",
                path.display()
            ),
            Source::SystemdCredential(_) => "put the new token in the file the unit's \
                LoadCredential= reads (or encrypt it for LoadCredentialEncrypted=); the \
                service's next start passes it on"
                .to_owned(),
        }
    }
}

/// A token the environment gives, and where from.
#[derive(Debug, Clone)]
pub struct Given {
    pub token: Token,
    pub source: Source,
    /// The file's permission bits (Unix), for `status` and `doctor`.
    pub mode: Option<u32>,
}

impl Given {
    /// Why Bitbucket would refuse this token (an app password, another kind), or `None`: the
    /// one rule by which `get` uses it and `status` says it is used.
    pub fn refusal(&self) -> Option<&'static str> {
        crate::policy::refusal(crate::token::TokenKind::of_token(&self.token))
    }
}

/// A source that is set but gives no token.
#[derive(Debug)]
pub struct Unreadable {
    pub source: Source,
    pub error: TokenFileError,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not used: {}", self.source.describe(), self.error)
    }
}

/// What one source that is set gave.
pub type Found = Result<Given, Unreadable>;

/// What `get` does with the environment.
#[derive(Debug)]
pub enum Resolved {
    /// No source is set: the stores decide.
    Nothing,
    /// This token, before any store.
    Given(Given),
    /// A source is set but gives no token; why, in words. `get` goes on to the stores.
    Unusable(String),
}

/// Every source that is set, each read, for `status` and `doctor`.
#[derive(Debug)]
pub struct Survey {
    /// In the order they count.
    pub found: Vec<Found>,
    /// What `get` would do with them.
    pub resolved: Resolved,
    /// Both the variable and the file are set (so neither is used).
    pub both_set: bool,
}

/// The sources as the environment sets them; no file is read until asked.
#[derive(Debug, Default)]
pub struct EnvironmentToken {
    variable: Option<Token>,
    file: Option<PathBuf>,
    credentials_directory: Option<PathBuf>,
}

impl EnvironmentToken {
    /// The sources this process's environment sets.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// The sources `lookup` (a variable's value by name) sets. Empty values count as unset;
    /// the variable is trimmed (CI secrets often end in a newline).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Self {
        let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
        // Each copy of the token is zeroed once the next is made.
        let variable = set(TOKEN_ENV)
            .and_then(|v| v.into_string().ok())
            .map(|mut v| {
                let trimmed = Token::new(v.trim().to_owned());
                zeroize::Zeroize::zeroize(&mut v);
                trimmed
            })
            .filter(|t| !t.expose().is_empty());
        Self {
            variable,
            file: set(TOKEN_FILE_ENV).map(PathBuf::from),
            credentials_directory: set(CREDENTIALS_DIRECTORY_ENV).map(PathBuf::from),
        }
    }

    /// Only `BITBUCKET_API_TOKEN`, set to `token` (for tests of the operations).
    pub fn variable(token: Option<Token>) -> Self {
        Self {
            variable: token,
            ..Self::default()
        }
    }

    /// The token `get` uses before any store, read now; a file is opened only when no source
    /// before it is set.
    pub fn resolve(&self) -> Resolved {
        if self.variable.is_some() && self.file.is_some() {
            return Resolved::Unusable(BOTH_SET.to_owned());
        }
        decide(self.first_found().as_ref())
    }

    /// Every source that is set, each read, and what `get` would do.
    pub fn survey(&self) -> Survey {
        let mut found: Vec<Found> = self.variable_found().into_iter().collect();
        found.extend(self.file_found());
        found.extend(self.credential_found());
        let both_set = self.variable.is_some() && self.file.is_some();
        let resolved = match both_set {
            true => Resolved::Unusable(BOTH_SET.to_owned()),
            false => decide(found.first()),
        };
        Survey {
            found,
            resolved,
            both_set,
        }
    }

    /// Whether `store` must keep `password` out of every store: it is the variable's token, or
    /// a token file or credential is set. A file's token may have been replaced between `get`
    /// and `store` (a rotation), so equality with what it holds now proves nothing: while one
    /// is set, the file is where the token lives.
    pub fn keeps_out_of_stores(&self, password: &Token) -> bool {
        self.file.is_some()
            || self.credential_exists()
            || self
                .variable
                .as_ref()
                .is_some_and(|t| t.constant_time_eq(password))
    }

    /// The source that gives exactly `token` now, if any (after a 401, to say what to update).
    pub fn source_of(&self, token: &Token) -> Option<Source> {
        match self.resolve() {
            Resolved::Given(given) if given.token.constant_time_eq(token) => Some(given.source),
            _ => None,
        }
    }

    fn first_found(&self) -> Option<Found> {
        self.variable_found()
            .or_else(|| self.file_found())
            .or_else(|| self.credential_found())
    }

    fn variable_found(&self) -> Option<Found> {
        self.variable.as_ref().map(|token| {
            Ok(Given {
                token: token.clone(),
                source: Source::Variable,
                mode: None,
            })
        })
    }

    fn file_found(&self) -> Option<Found> {
        let path = self.file.as_ref()?;
        Some(read(Source::File(path.clone())))
    }

    /// The credential, if the directory holds one by that name.
    /// Whether the systemd credential is there (anything but "no such file" counts), without
    /// reading it: `store` runs after every fetch and needs only that.
    fn credential_exists(&self) -> bool {
        self.credentials_directory.as_ref().is_some_and(|dir| {
            !matches!(
                std::fs::metadata(dir.join(CREDENTIAL_NAME)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound
            )
        })
    }

    fn credential_found(&self) -> Option<Found> {
        let path = self.credentials_directory.as_ref()?.join(CREDENTIAL_NAME);
        match read(Source::SystemdCredential(path)) {
            Err(Unreadable {
                error: TokenFileError::Missing(_),
                ..
            }) => None,
            found => Some(found),
        }
    }
}

fn read(source: Source) -> Found {
    let path = source.path().expect("a file source");
    match token_file::read(path) {
        Ok(file) => Ok(Given {
            token: file.token,
            source,
            mode: file.mode,
        }),
        Err(error) => Err(Unreadable { source, error }),
    }
}

/// What the first source that is set decides.
fn decide(first: Option<&Found>) -> Resolved {
    match first {
        None => Resolved::Nothing,
        Some(Ok(given)) => Resolved::Given(given.clone()),
        Some(Err(unreadable)) => Resolved::Unusable(unreadable.to_string()),
    }
}

#[cfg(test)]
#[path = "token_source_tests.rs"]
mod tests;
