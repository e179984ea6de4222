//! doctor's checks of the store and what it holds: a throwaway round trip, then each stored
//! token's kind and expiry.

use super::{Check, Level, check};
use crate::commands::Context;
use crate::dates;
use crate::policy::{BITBUCKET_HOST, HostKey, refusal};
use crate::store::{EntryKey, TokenStore, WARN_DAYS};
use crate::token::{Token, TokenKind};

/// Saves, reads back and removes a throwaway entry, under the writer lock every other writer
/// takes (a delete is never done without it); when the lock cannot be had the probe is skipped.
pub(super) fn round_trip(store: &TokenStore) -> Check {
    let writer = match crate::commands::writer(store, true) {
        Ok(writer) => writer,
        Err(e) => {
            return check(
                Level::Warn,
                format!("the store round trip was skipped: {e:#}"),
                None,
            );
        }
    };
    let key = EntryKey::host(HostKey::parse("doctor-probe.invalid").expect("valid host"));
    let probe = Token::new(format!("doctor-probe-{}", dates::now()));
    let result = writer.round_trip(&key, &probe);
    let name = store.backend().name();
    match result {
        Ok(true) => check(
            Level::Pass,
            format!("the {name} store saves, reads and removes"),
            None,
        ),
        Ok(false) => check(
            Level::Fail,
            format!("the {name} store did not give back what was saved"),
            Some("git-credential-bitbucket --store file setup"),
        ),
        Err(e) => {
            let fix = super::fix_for(Some(&e));
            check(Level::Fail, e.to_string(), Some(&fix))
        }
    }
}

pub(super) fn stored(ctx: &Context, store: &TokenStore) -> Vec<Check> {
    let now = dates::now();
    let mut checks = Vec::new();
    let mut entries = match store.entries(&ctx.served_hosts()) {
        Ok(entries) => entries,
        Err(e) => {
            let fix = super::fix_for(Some(&e));
            return vec![check(Level::Fail, e.to_string(), Some(&fix))];
        }
    };
    if let Some((stray, said)) = ctx.stray_tokens(store) {
        checks.push(check(Level::Warn, said, None));
        entries.extend(stray);
    }
    for stored in entries {
        let key = stored.key.clone();
        let expires = stored.facts().and_then(|f| f.expires_at);
        let Some(token) = stored.token else {
            checks.push(check(
                Level::Fail,
                format!("the entry for {key} is not text"),
                None,
            ));
            continue;
        };
        let fix_login = crate::diagnostics::login_command(&key);
        let kind = TokenKind::of_token(&token);
        let what = format!(
            "the token for {key} ({}, {})",
            kind.label(),
            token.fingerprint()
        );
        if refusal(kind).is_some() {
            checks.push(check(
                Level::Fail,
                format!("{what} is not an API token"),
                Some(&fix_login),
            ));
            continue;
        }
        if kind == TokenKind::ApiTokenBadChecksum {
            checks.push(check(
                Level::Warn,
                format!("{what} looks truncated"),
                Some(&fix_login),
            ));
        }
        checks.push(match expires {
            None => check(
                Level::Pass,
                format!("{what}: expiry unknown (record it with login --expires)"),
                None,
            ),
            Some(at) if at <= now => check(
                Level::Fail,
                format!("{what} expired on {}", dates::format_date(at)),
                Some(&fix_login),
            ),
            Some(at) => {
                let days = dates::days_until(at, now);
                let level = if days <= WARN_DAYS {
                    Level::Warn
                } else {
                    Level::Pass
                };
                let fix = (level == Level::Warn).then_some(fix_login.as_str());
                check(
                    level,
                    format!(
                        "{what} expires on {} ({})",
                        dates::format_date(at),
                        dates::days_left(at, now)
                    ),
                    fix,
                )
            }
        });
    }
    if checks.is_empty() {
        checks.push(check(
            Level::Pass,
            format!("no token stored yet for {BITBUCKET_HOST}: git asks once on first use"),
            None,
        ));
    }
    checks
}
