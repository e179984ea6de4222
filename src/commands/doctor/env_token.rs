//! doctor's checks of the token the environment gives: each source that is set (the variable,
//! the file, the systemd credential), whether `get` can use it, and a file's permissions: one
//! others may write is refused (a FAIL), one every user may read is a WARN. A group that may
//! read it is how Kubernetes' `fsGroup` and shared deploy groups work, so that passes.

use super::{Check, Level, check};
use crate::environment::EnvironmentToken;
use crate::environment::token_file::TokenFileError;
use crate::environment::token_source::{Given, Resolved, Source, TOKEN_ENV, TOKEN_FILE_ENV};
use crate::policy::refusal;
use crate::token::TokenKind;

pub(super) fn checks() -> Vec<Check> {
    let survey = EnvironmentToken::from_env().survey();
    let mut checks = Vec::new();
    let used = match &survey.resolved {
        Resolved::Given(given) => Some(&given.source),
        Resolved::Unusable(why) if survey.both_set => {
            let fix = format!("unset {TOKEN_ENV} or {TOKEN_FILE_ENV}");
            checks.push(check(Level::Fail, why.clone(), Some(&fix)));
            None
        }
        _ => None,
    };
    for found in &survey.found {
        match found {
            Err(unreadable) => {
                let fix = match &unreadable.error {
                    TokenFileError::WritableByOthers { path, .. } => {
                        format!("chmod go-w {}", path.display())
                    }
                    _ => put_token_in(&unreadable.source),
                };
                checks.push(check(Level::Fail, unreadable.to_string(), Some(&fix)));
            }
            Ok(given) => checks.extend(given_checks(given, used)),
        }
    }
    checks
}

/// The kind of what a source holds and, for a file, who else may read it.
fn given_checks(given: &Given, used: Option<&Source>) -> Vec<Check> {
    let kind = TokenKind::of_token(&given.token);
    let what = format!(
        "{} ({}, {})",
        given.source.describe(),
        kind.label(),
        given.token.fingerprint()
    );
    let mut checks = vec![if refusal(kind).is_some() {
        check(
            Level::Fail,
            format!("{what} is not an API token"),
            Some(&put_token_in(&given.source)),
        )
    } else if kind == TokenKind::ApiTokenBadChecksum {
        check(
            Level::Warn,
            format!("{what} looks truncated"),
            Some(&put_token_in(&given.source)),
        )
    } else {
        let note = match used {
            Some(source) if source != &given.source => {
                format!(", but not used: {} comes first", source.describe())
            }
            Some(_) => ": git uses it before any store".to_owned(),
            None => String::new(),
        };
        check(Level::Pass, format!("{what} is set{note}"), None)
    }];
    if let (Some(mode), Some(path)) = (given.mode, given.source.path())
        && mode & 0o004 != 0
    {
        checks.push(check(
            Level::Warn,
            format!(
                "{} is readable by every user (mode {mode:o})",
                path.display()
            ),
            Some(&format!(
                "chmod 600 {}   (a Kubernetes secret: defaultMode: 0400 on its volume)",
                path.display()
            )),
        ));
    }
    checks
}

/// The fix for a source that holds no usable token.
fn put_token_in(source: &Source) -> String {
    match source {
        Source::Variable => {
            format!("set {TOKEN_ENV} to an API token (ATATT…) in your CI secrets")
        }
        Source::File(_) => format!(
            "put an API token (ATATT…), alone, in a regular file that only its owner may \
             write, and set {TOKEN_FILE_ENV} to its full path"
        ),
        Source::SystemdCredential(_) => "put an API token (ATATT…), alone, in the file the \
            unit's LoadCredential= reads (or encrypt it for LoadCredentialEncrypted=)"
            .to_owned(),
    }
}
