//! `doctor`: inspect this machine and the current repository, one line per check —
//! PASS, WARN or FAIL, each FAIL with the exact command that fixes it. Exits 1 if anything
//! FAILs. Names remotes and files, never prints a secret.

use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::policy::refusal;
use crate::scan::Scan;
use crate::token::TokenKind;

mod git_config;
mod tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Level {
    Pass,
    Warn,
    Fail,
}

pub(super) struct Check {
    level: Level,
    message: String,
    fix: Option<String>,
}

pub(super) fn check(level: Level, message: impl Into<String>, fix: Option<&str>) -> Check {
    Check {
        level,
        message: message.into(),
        fix: fix.map(str::to_owned),
    }
}

const FIX_SETUP: &str = "git-credential-bitbucket setup";
const FIX_MIGRATE: &str = "git-credential-bitbucket migrate";

pub fn run(ctx: &mut Context) -> anyhow::Result<ExitCode> {
    let mut checks = vec![git_version()?];
    let scan = Scan::here(&ctx.hosts).context("cannot read git's configuration")?;
    let scope = crate::scan::helpers::scope_url(&ctx.default_host());
    checks.extend(git_config::helper_order(&scan, &scope));
    checks.extend(git_config::leaks(&scan));
    match ctx.token_store() {
        Err(e) => checks.push(check(
            Level::Fail,
            format!("{e:#}"),
            Some("git-credential-bitbucket --store file setup   (or unlock your keyring)"),
        )),
        Ok(store) => {
            if let Some(why) = store.fallback_reason() {
                checks.push(check(
                    Level::Warn,
                    format!("auto chose keyutils (tokens last until reboot) because {why}"),
                    Some("unlock your keyring, or: git-credential-bitbucket --store file setup"),
                ));
            }
            checks.push(tokens::round_trip(&store));
            checks.extend(tokens::stored(ctx, &store));
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

fn git_version() -> anyhow::Result<Check> {
    Ok(match crate::git::version()? {
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
    })
}

fn env_token() -> Option<Check> {
    let token = crate::environment::env_token()?;
    let kind = TokenKind::of_token(&token);
    Some(match refusal(kind) {
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
