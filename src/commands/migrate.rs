//! `migrate`: make the current repository and `~/.git-credentials` safe without losing
//! anything. An API token found in a remote URL or a credentials file is moved into the store
//! and the URL (or line) is rewritten only after the stored token was read back; an app
//! password is dropped, since it no longer works. A credentials file is backed up before it is
//! rewritten. `--dry-run` prints the plan, masked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use super::scan::{self, EmbeddedSecret};
use crate::metadata::EntryFacts;
use crate::policy::TokenKind;
use crate::store::{EntryKey, Keychain};

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// Print what would change, masked, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Where a secret was found.
enum Place {
    Remote { key: String },
    File { path: PathBuf, line: usize },
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Remote { key } => write!(f, "remote '{}' ({key})", scan::remote_name(key)),
            Place::File { path, line } => write!(f, "{} line {line}", path.display()),
        }
    }
}

struct Finding {
    place: Place,
    secret: EmbeddedSecret,
}

pub fn run(ctx: &mut Context, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let findings = find(ctx);
    if findings.is_empty() {
        ctx.say("Nothing to migrate: no Bitbucket secret in remote URLs or git-credentials files.");
        return Ok(ExitCode::SUCCESS);
    }
    for finding in &findings {
        ctx.say(plan_line(finding, args.dry_run));
    }
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let needs_store = findings.iter().any(|f| movable(f.secret.kind));
    let keychain = if needs_store {
        Some(ctx.keychain()?)
    } else {
        None
    };
    let mut cleaned_lines: Vec<(PathBuf, usize)> = Vec::new();
    let mut failed = false;
    for finding in &findings {
        let done = match (&keychain, movable(finding.secret.kind)) {
            (Some(keychain), true) => move_into_store(ctx, keychain, &finding.secret),
            (_, true) => Ok(false),
            (_, false) => Ok(finding.secret.kind == TokenKind::AppPassword),
        };
        match done {
            Ok(true) => match &finding.place {
                Place::Remote { key } => {
                    set_remote_url(key, &finding.secret.clean_url)?;
                    ctx.say(format!(
                        "{}: now {}",
                        finding.place, finding.secret.clean_url
                    ));
                }
                Place::File { path, line } => cleaned_lines.push((path.clone(), *line)),
            },
            Ok(false) => {}
            Err(e) => {
                failed = true;
                ctx.warn(format!("{}: left as it was: {e:#}", finding.place));
            }
        }
    }
    for path in unique_paths(&cleaned_lines) {
        let lines: Vec<usize> = cleaned_lines
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, l)| *l)
            .collect();
        let backup = rewrite_without(&path, &lines)?;
        ctx.say(format!(
            "{}: removed {} Bitbucket line(s); the original is kept as {}",
            path.display(),
            lines.len(),
            backup.display()
        ));
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// API tokens (and secrets of unknown shape) are worth keeping; refused kinds are not.
fn movable(kind: TokenKind) -> bool {
    kind.refusal().is_none()
}

fn find(ctx: &Context) -> Vec<Finding> {
    let mut findings: Vec<Finding> = scan::remote_urls()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, url)| {
            let secret = scan::embedded_secret_for(&url, &ctx.hosts)?;
            Some(Finding {
                place: Place::Remote { key },
                secret,
            })
        })
        .collect();
    for path in scan::credential_files() {
        for (line, secret) in scan::bitbucket_lines_for(&path, &ctx.hosts) {
            findings.push(Finding {
                place: Place::File {
                    path: path.clone(),
                    line,
                },
                secret,
            });
        }
    }
    findings
}

fn plan_line(finding: &Finding, dry_run: bool) -> String {
    let would = if dry_run { "would " } else { "" };
    let secret = &finding.secret;
    match secret.kind {
        kind if movable(kind) => format!(
            "{}: {would}move {} ({}) into the token store and remove it there",
            finding.place,
            secret.fingerprint,
            kind.label()
        ),
        TokenKind::AppPassword => format!(
            "{}: {would}drop an app password ({}): app passwords no longer work; git will ask \
             for an API token next time",
            finding.place, secret.fingerprint
        ),
        kind => format!(
            "{}: left alone: a {} ({}) is not served by this helper",
            finding.place,
            kind.label(),
            secret.fingerprint
        ),
    }
}

/// Stores the token under the host entry — or, when the host entry already holds another
/// token, under the workspace entry — and reads it back. Never overwrites a different token.
fn move_into_store(
    ctx: &mut Context,
    keychain: &Keychain,
    secret: &EmbeddedSecret,
) -> anyhow::Result<bool> {
    let host_key = EntryKey::host(secret.host.clone());
    let workspace_key = crate::policy::workspace_of(secret.path.as_deref())
        .map(|ws| EntryKey::workspace(secret.host.clone(), ws));
    let holds = |key: &EntryKey| -> anyhow::Result<Option<bool>> {
        Ok(keychain
            .get(key)?
            .map(|t| t.constant_time_eq(&secret.token)))
    };
    let key = match (holds(&host_key)?, &workspace_key) {
        (None | Some(true), _) => host_key,
        (Some(false), Some(ws)) if holds(ws)? != Some(false) => ws.clone(),
        _ => anyhow::bail!(
            "the store already holds a different token for {host_key}; run \
             `git-credential-bitbucket logout` first if this one should replace it"
        ),
    };
    keychain.set(&key, &secret.token)?;
    let back = keychain.get(&key)?;
    if !back.is_some_and(|b| b.constant_time_eq(&secret.token)) {
        anyhow::bail!(
            "the {} store did not keep the token",
            keychain.backend().name()
        );
    }
    if let Some(metadata) = ctx.metadata() {
        let _ = metadata.record(
            keychain.backend(),
            &key,
            &EntryFacts::new(&secret.token, None),
        );
    }
    ctx.say(format!(
        "saved {} for {key} in the {} store",
        secret.fingerprint,
        keychain.backend().name()
    ));
    Ok(true)
}

fn set_remote_url(key: &str, url: &str) -> anyhow::Result<()> {
    let out = crate::git::git(["config", "--local", key, url])?;
    if !out.success {
        anyhow::bail!("git config {key} failed: {}", out.stderr.trim());
    }
    Ok(())
}

fn unique_paths(lines: &[(PathBuf, usize)]) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = lines.iter().map(|(p, _)| p.clone()).collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Copies `path` to a timestamped backup (0600), then replaces it atomically without the
/// given lines (numbered from 1), keeping it private.
fn rewrite_without(path: &Path, lines: &[usize]) -> anyhow::Result<PathBuf> {
    let original = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?,
    );
    let backup = path.with_file_name(format!(
        "{}.bak-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        crate::dates::now()
    ));
    write_private(&backup, original.as_bytes())?;
    let kept: String = original
        .lines()
        .enumerate()
        .filter(|(i, _)| !lines.contains(&(i + 1)))
        .map(|(_, line)| format!("{line}\n"))
        .collect();
    let kept = zeroize::Zeroizing::new(kept);
    let temporary = path.with_file_name(format!(".git-credentials.tmp.{}", std::process::id()));
    write_private(&temporary, kept.as_bytes())?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(backup)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
