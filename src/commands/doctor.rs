//! `doctor`: inspect this machine and the current repository, one line per check —
//! PASS, WARN or FAIL, each FAIL with the exact command that fixes it. Exits 1 if anything
//! FAILs. Names remotes and files, never prints a secret.

use std::process::ExitCode;

use super::Context;
use super::logout::all_keys;
use super::scan::{self, EmbeddedSecret};
use crate::dates;
use crate::metadata::WARN_DAYS;
use crate::policy::{BITBUCKET_HOST, HostKey, ServedHosts, TokenKind};
use crate::store::{EntryKey, Keychain};
use crate::token::Token;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Pass,
    Warn,
    Fail,
}

struct Check {
    level: Level,
    message: String,
    fix: Option<String>,
}

fn check(level: Level, message: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        level,
        message: message.into(),
        fix: fix.map(str::to_owned),
    }
}

const FIX_SETUP: &str = "git-credential-bitbucket setup";
const FIX_MIGRATE: &str = "git-credential-bitbucket migrate";
const FIX_LOGIN: &str = "git-credential-bitbucket login --expires YYYY-MM-DD";

pub fn run(ctx: &mut Context) -> anyhow::Result<ExitCode> {
    let mut checks = vec![git_version(), helper_order()];
    checks.extend(embedded_in_remotes(&ctx.hosts));
    checks.extend(embedded_in_credential_files(&ctx.hosts));
    match ctx.keychain() {
        Err(e) => checks.push(check(
            Level::Fail,
            format!("{e:#}"),
            Some("git-credential-bitbucket --store file setup   (or unlock your keyring)"),
        )),
        Ok(keychain) => {
            if let Some(why) = &keychain.fallback_reason {
                checks.push(check(
                    Level::Warn,
                    format!("auto chose keyutils (tokens last until reboot) because {why}"),
                    Some("unlock your keyring, or: git-credential-bitbucket --store file setup"),
                ));
            }
            checks.push(round_trip(&keychain));
            checks.extend(stored_tokens(ctx, &keychain));
        }
    }
    checks.extend(env_token());
    let mut worst = Level::Pass;
    for Check {
        level,
        message,
        fix,
    } in &checks
    {
        let label = match level {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        ctx.say(format!("{label}  {message}"));
        if let Some(fix) = fix {
            ctx.say(format!("      fix: {fix}"));
        }
        worst = worst.max(*level);
    }
    Ok(if worst == Level::Fail {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn git_version() -> Check {
    match crate::git::version() {
        Some(v) if v >= (2, 41) => check(
            Level::Pass,
            format!("git {}.{} honours password_expiry_utc", v.0, v.1),
            None,
        ),
        Some(v) => check(
            Level::Warn,
            format!(
                "git {}.{} ignores token expiry dates (needs 2.41)",
                v.0, v.1
            ),
            Some("upgrade git"),
        ),
        None => check(
            Level::Fail,
            "git is not installed or does not run",
            Some("install git"),
        ),
    }
}

/// The helpers git will ask for https://bitbucket.org, in order, after `""` resets.
fn helper_order() -> Check {
    let helpers = scan::helpers_for_bitbucket();
    let ours = helpers.iter().position(|h| scan::is_this_helper(h));
    match ours {
        None => check(
            Level::Fail,
            "git does not use git-credential-bitbucket for https://bitbucket.org",
            Some(FIX_SETUP),
        ),
        Some(0) => check(
            Level::Pass,
            "git asks git-credential-bitbucket first for https://bitbucket.org",
            None,
        ),
        Some(n) => {
            let before: Vec<String> = helpers[..n].iter().map(|h| scan::helper_name(h)).collect();
            check(
                Level::Fail,
                format!(
                    "git asks {} before git-credential-bitbucket for https://bitbucket.org; it \
                     can answer with a stale app password",
                    before.join(", ")
                ),
                Some(FIX_SETUP),
            )
        }
    }
}

fn embedded_in_remotes(hosts: &ServedHosts) -> Vec<Check> {
    let Some(remotes) = scan::remote_urls() else {
        return vec![check(
            Level::Pass,
            "not in a git repository: no remotes to check",
            None,
        )];
    };
    let found: Vec<Check> = remotes
        .iter()
        .filter_map(|(name, url)| {
            let secret = scan::embedded_secret_for(url, hosts)?;
            Some(check(
                Level::Fail,
                format!(
                    "remote '{}' has a credential in its URL ({}): it leaks through \
                     `git remote -v`, .git/config and logs",
                    scan::remote_name(name),
                    describe(&secret)
                ),
                Some(FIX_MIGRATE),
            ))
        })
        .collect();
    if found.is_empty() {
        vec![check(
            Level::Pass,
            "no remote URL embeds a credential",
            None,
        )]
    } else {
        found
    }
}

fn embedded_in_credential_files(hosts: &ServedHosts) -> Vec<Check> {
    let mut found = Vec::new();
    for file in scan::credential_files() {
        for (line, secret) in scan::bitbucket_lines_for(&file, hosts) {
            let where_ = format!("{} line {line}", file.display());
            found.push(match secret.kind {
                TokenKind::AppPassword => check(
                    Level::Fail,
                    format!("{where_} holds a Bitbucket app password, which no longer works"),
                    Some(FIX_MIGRATE),
                ),
                _ => check(
                    Level::Warn,
                    format!(
                        "{where_} holds a Bitbucket {} in plaintext",
                        secret.kind.label()
                    ),
                    Some(FIX_MIGRATE),
                ),
            });
        }
    }
    if found.is_empty() {
        found.push(check(
            Level::Pass,
            "no Bitbucket secrets in git-credentials files",
            None,
        ));
    }
    found
}

fn describe(secret: &EmbeddedSecret) -> String {
    format!("{}, {}", secret.kind.label(), secret.fingerprint)
}

/// Saves, reads back and removes a throwaway entry.
fn round_trip(keychain: &Keychain) -> Check {
    let key = EntryKey::host(HostKey::parse("doctor-probe.invalid").expect("valid host"));
    let probe = Token::new(format!("doctor-probe-{}", dates::now()));
    let result = keychain.set(&key, &probe).and_then(|()| {
        let back = keychain.get(&key)?;
        keychain.delete(&key)?;
        Ok(back.is_some_and(|b| b.constant_time_eq(&probe)))
    });
    let name = keychain.backend().name();
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
        Err(e) => check(
            Level::Fail,
            e.to_string(),
            Some("git-credential-bitbucket --store file setup   (or unlock your keyring)"),
        ),
    }
}

fn stored_tokens(ctx: &Context, keychain: &Keychain) -> Vec<Check> {
    let metadata = ctx.metadata();
    let now = dates::now();
    let mut checks = Vec::new();
    for key in all_keys(ctx, keychain.backend().name()) {
        let token = match keychain.get(&key) {
            Ok(Some(token)) => token,
            Ok(None) => continue,
            Err(e) => {
                checks.push(check(Level::Fail, e.to_string(), None));
                continue;
            }
        };
        let kind = TokenKind::of_token(&token);
        let what = format!(
            "the token for {key} ({}, {})",
            kind.label(),
            token.fingerprint()
        );
        if kind.refusal().is_some() {
            checks.push(check(
                Level::Fail,
                format!("{what} is not an API token"),
                Some(FIX_LOGIN),
            ));
            continue;
        }
        if kind == TokenKind::ApiTokenBadChecksum {
            checks.push(check(
                Level::Warn,
                format!("{what} looks truncated"),
                Some(FIX_LOGIN),
            ));
        }
        let expires = metadata
            .as_ref()
            .and_then(|m| m.facts_for(keychain.backend(), &key, &token))
            .and_then(|f| f.expires_at);
        checks.push(match expires {
            None => check(
                Level::Pass,
                format!("{what}: expiry unknown (record it with login --expires)"),
                None,
            ),
            Some(at) if at <= now => check(
                Level::Fail,
                format!("{what} expired on {}", dates::format_date(at)),
                Some(FIX_LOGIN),
            ),
            Some(at) => {
                let days = dates::days_until(at, now);
                let level = if days <= WARN_DAYS {
                    Level::Warn
                } else {
                    Level::Pass
                };
                let fix = (level == Level::Warn).then_some(FIX_LOGIN);
                check(
                    level,
                    format!(
                        "{what} expires on {} ({days} days left)",
                        dates::format_date(at)
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

fn env_token() -> Option<Check> {
    let token = crate::environment::env_token()?;
    let kind = TokenKind::of_token(&token);
    Some(match kind.refusal() {
        Some(_) => check(
            Level::Fail,
            format!(
                "BITBUCKET_API_TOKEN holds a {} ({})",
                kind.label(),
                token.fingerprint()
            ),
            Some("set BITBUCKET_API_TOKEN to an API token (ATATT…) in your CI secrets"),
        ),
        None => check(
            Level::Pass,
            format!(
                "BITBUCKET_API_TOKEN is set ({}, {})",
                kind.label(),
                token.fingerprint()
            ),
            None,
        ),
    })
}
