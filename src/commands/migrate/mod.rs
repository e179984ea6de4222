//! `migrate`: take every Bitbucket secret the scan finds (the same scan `doctor` reports) out
//! of git's configuration and git-credentials files without losing anything. An API token is
//! moved into the store and its place rewritten only after the stored token was read back; an
//! app password is dropped, since it no longer works. No backup holding a secret is left
//! behind. Where a place cannot be rewritten safely, it says exactly what to change.
//! `--dry-run` prints the plan, masked.
//!
//! Only the user's own files are a source of tokens. A repository's `.gitmodules` is someone
//! else's file (a cloned project's), and a token there is whatever its author put in: it is
//! removed and reported, never stored, and neither are the copies git made of it (`git
//! submodule init` copies the URL into `.git/config` and the submodule's own repository).
//! A token already in the store is left there as it is, with its recorded expiry.

mod rewrite;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{Context, writer};
use crate::policy::refusal;
use crate::scan::{EmbeddedSecret, Finding, Origin, Scan, Spot, credential_files};
use crate::store::{EntryFacts, EntryKey, TokenStore};
use crate::token::TokenKind;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Print what would change, masked, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(ctx: &mut Context, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let findings = Scan::here(&ctx.hosts)
        .context("cannot read git's configuration")?
        .findings;
    if findings.is_empty() {
        ctx.say("Nothing to migrate: no Bitbucket secret in git's configuration or git-credentials files.");
        return Ok(ExitCode::SUCCESS);
    }
    for finding in &findings {
        ctx.say(plan_line(
            finding,
            someone_elses(finding, &findings),
            args.dry_run,
        ));
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let from_someone_else = |finding: &Finding| someone_elses(finding, &findings);
    let needs_store = findings
        .iter()
        .any(|f| movable(f.secret.kind) && !from_someone_else(f));
    let store = if needs_store {
        Some(ctx.token_store()?)
    } else {
        None
    };
    let mut credential_lines: Vec<(PathBuf, &[u8])> = Vec::new();
    let mut failed = false;
    for finding in &findings {
        let taken = match (&store, movable(finding.secret.kind)) {
            (_, true) if from_someone_else(finding) => {
                ctx.say(format!("{finding}: {SOMEONE_ELSES}"));
                Ok(true)
            }
            (Some(store), true) => move_into_store(ctx, store, &finding.secret),
            (_, true) => Ok(false),
            (_, false) => Ok(finding.secret.kind == TokenKind::AppPassword),
        };
        let result = taken.and_then(|taken| {
            if !taken {
                return Ok(());
            }
            if let (Origin::File(path), Spot::CredentialLine { text, .. }) =
                (&finding.origin, &finding.spot)
            {
                credential_lines.push((path.clone(), text.as_slice()));
                return Ok(());
            }
            let done = rewrite::take_out(finding)?;
            ctx.say(format!("{finding}: {done}"));
            Ok(())
        });
        if let Err(e) = result {
            failed = true;
            ctx.warn(format!("{finding}: left as it was: {e:#}"));
        }
    }
    let mut paths: Vec<&PathBuf> = credential_lines.iter().map(|(p, _)| p).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        let lines: Vec<&[u8]> = credential_lines
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, l)| *l)
            .collect();
        match credential_files::remove_lines(path, &lines) {
            Ok(removed) => ctx.say(format!(
                "{}: removed {removed} Bitbucket line(s); no copy was kept",
                path.display()
            )),
            Err(e) => {
                failed = true;
                ctx.warn(format!("{}: left as it was: {e:#}", path.display()));
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// API tokens (and secrets of unknown shape) are worth keeping; refused kinds are not.
fn movable(kind: TokenKind) -> bool {
    refusal(kind).is_none()
}

/// True for a token that came with a repository's `.gitmodules` (someone else's file): found
/// there, or in a copy git made of a URL from there (`submodule.NAME.url`, a submodule's own
/// repository) holding a token also found there. The same token anywhere else (the user's own
/// remote URL) is the user's own to keep.
fn someone_elses(finding: &Finding, all: &[Finding]) -> bool {
    let in_gitmodules = |f: &Finding| matches!(&f.origin, Origin::File(path) if path.file_name().is_some_and(|n| n == ".gitmodules"));
    let a_submodule_copy = matches!(&finding.spot, Spot::UrlValue { key, .. } if key.starts_with("submodule."))
        || matches!(&finding.origin, Origin::File(path)
            if path.components().any(|c| c.as_os_str() == "modules")
                && path.file_name().is_some_and(|n| n == "config"));
    in_gitmodules(finding)
        || (a_submodule_copy
            && all
                .iter()
                .filter(|f| in_gitmodules(f))
                .any(|f| f.secret.token.constant_time_eq(&finding.secret.token)))
}

const SOMEONE_ELSES: &str = "not stored: this token came with the repository's .gitmodules \
(someone else's file), so it is not yours to keep; it is removed here";

fn plan_line(finding: &Finding, foreign: bool, dry_run: bool) -> String {
    let would = if dry_run { "would " } else { "" };
    let secret = &finding.secret;
    match secret.kind {
        kind if movable(kind) && foreign => format!(
            "{finding}: {would}remove {} ({}) and not store it: it came with the repository's \
             .gitmodules (someone else's file)",
            secret.fingerprint,
            kind.label()
        ),
        kind if movable(kind) => format!(
            "{finding}: {would}move {} ({}) into the token store and remove it there",
            secret.fingerprint,
            kind.label()
        ),
        TokenKind::AppPassword => format!(
            "{finding}: {would}drop an app password ({}): app passwords no longer work; git will \
             ask for an API token next time",
            secret.fingerprint
        ),
        kind => format!(
            "{finding}: left alone: a {} ({}) is not served by this helper; remove it yourself \
             and keep it in your CI's secret store",
            kind.label(),
            secret.fingerprint
        ),
    }
}

/// Stores the token under the host entry — or, when the host entry already holds another
/// token, under the workspace entry — and reads it back. Never overwrites a different token;
/// an entry already holding this one is left as it is (its facts, such as the expiry, stay).
fn move_into_store(
    ctx: &mut Context,
    store: &TokenStore,
    secret: &EmbeddedSecret,
) -> anyhow::Result<bool> {
    let host_key = EntryKey::host(secret.host.clone());
    let workspace_key = crate::policy::workspace_of(secret.path.as_deref())
        .map(|ws| EntryKey::workspace(secret.host.clone(), ws));
    let holds = |key: &EntryKey| -> anyhow::Result<Option<bool>> {
        Ok(store.token(key)?.map(|t| t.constant_time_eq(&secret.token)))
    };
    let writer = writer(store, false)?;
    let (key, held) = match (holds(&host_key)?, &workspace_key) {
        (held @ (None | Some(true)), _) => (host_key, held),
        (Some(false), Some(ws)) => match holds(ws)? {
            Some(false) => anyhow::bail!(
                "the store already holds different tokens for {host_key} and {ws}; run \
                 `git-credential-bitbucket logout` first if this one should replace one"
            ),
            held => (ws.clone(), held),
        },
        _ => anyhow::bail!(
            "the store already holds a different token for {host_key}; run \
             `git-credential-bitbucket logout` first if this one should replace it"
        ),
    };
    if held == Some(true) {
        ctx.say(format!(
            "{} is already stored for {key} in the {} store; left as it is",
            secret.fingerprint,
            store.backend().name()
        ));
        return Ok(true);
    }
    writer.save_checked(&key, &secret.token, &EntryFacts::new(&secret.token, None))?;
    ctx.say(format!(
        "saved {} for {key} in the {} store",
        secret.fingerprint,
        store.backend().name()
    ));
    Ok(true)
}
