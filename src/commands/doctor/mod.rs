//! `doctor`: inspect this machine and the current repository, one line per check —
//! PASS, WARN or FAIL, each FAIL with the exact command that fixes it. Exits 1 if anything
//! FAILs. Names remotes and files, never prints a secret.

use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::scan::Scan;
use crate::store::StoreError;

#[cfg(unix)]
mod cron_path;
mod env_token;
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
const UNLOCK: &str = "unlock your keyring on the desktop (log in, or open it in Seahorse, \
KeePassXC or KWallet Manager); tokens auto saved meanwhile move there by themselves";

/// The fix for a store that cannot be used, as fits where doctor runs: a locked keychain is
/// unlocked; on a desktop, its keyring is started; on a server (no desktop session), a
/// store that needs no desktop is chosen.
pub(super) fn fix_for(error: Option<&StoreError>) -> String {
    if error.is_some_and(StoreError::is_locked) {
        return UNLOCK.to_owned();
    }
    match crate::environment::desktop_session() {
        true => "start your desktop's keyring (GNOME Keyring, KeePassXC with its Secret Service \
                 integration, or KWallet), or: git-credential-bitbucket --store keyutils setup"
            .to_owned(),
        false => "git-credential-bitbucket --store keyutils setup   (a server without a \
                  desktop; --store file keeps tokens across reboots)"
            .to_owned(),
    }
}
const FIX_MIGRATE: &str = "git-credential-bitbucket migrate";

pub fn run(ctx: &mut Context) -> anyhow::Result<ExitCode> {
    let mut checks = vec![git_version()?];
    let scan = Scan::here(&ctx.hosts).context("cannot read git's configuration")?;
    let scope = crate::scan::helpers::scope_url(&ctx.default_host());
    checks.extend(git_config::helper_order(&scan, &scope));
    checks.extend(git_config::leaks(&scan));
    match ctx.token_store() {
        Err(e) => {
            let fix = fix_for(e.downcast_ref::<StoreError>());
            checks.push(check(Level::Fail, format!("{e:#}"), Some(&fix)));
        }
        Ok(store) => {
            if let Some(fallback) = store.fallback() {
                let fix = match fallback.locked {
                    true => UNLOCK.to_owned(),
                    false => fix_for(None),
                };
                checks.push(check(
                    Level::Warn,
                    format!(
                        "auto chose keyutils (tokens last until reboot) because {}",
                        fallback.reason
                    ),
                    Some(&fix),
                ));
            }
            checks.push(tokens::round_trip(&store));
            checks.extend(tokens::stored(ctx, &store));
        }
    }
    checks.extend(env_token::checks());
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
