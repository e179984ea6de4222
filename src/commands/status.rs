//! `status`: what is stored, in which store, of which kind, and when it lapses — masked, never
//! the token. Scripts check its exit code: 1 when the store cannot be opened or nothing usable
//! is there (no unexpired token of a served kind, and no usable token from the environment), or
//! when `--check URL` finds the token does not open that repository. What the environment
//! gives (variable, file, systemd credential) is `status/token_sources.rs`.

use std::process::ExitCode;

use super::Context;
use crate::dates;
use crate::environment::EnvironmentToken;
use crate::environment::token_source::{Given, Survey};
use crate::policy::refusal;
use crate::store::{EntryFacts, EntryKey, Passed, Stored, TokenStore};
use crate::token::TokenKind;

mod token_sources;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also try the token git would use against this repository (reading, then pushing with
    /// a dry run), as `gh auth status` does.
    #[arg(long, value_name = "URL")]
    pub check: Option<String>,
}

/// One stored entry as shown.
struct Row {
    /// The store it is in.
    store: &'static str,
    key: EntryKey,
    kind: &'static str,
    fingerprint: String,
    facts: Option<EntryFacts>,
    usable: bool,
}

/// What status found: the store it looked in, what is stored (`None`: it could not be read,
/// which is never said as "no tokens"), and what is wrong.
struct Report {
    store: String,
    rows: Option<Vec<Row>>,
    problems: Vec<String>,
}

pub fn run(ctx: &mut Context, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let now = dates::now();
    let environment = EnvironmentToken::from_env().survey();
    let opened = ctx.token_store();
    let report = match &opened {
        Err(e) => Report {
            store: super::store_flag(ctx.store),
            rows: None,
            problems: vec![format!("{e:#}")],
        },
        Ok(token_store) => read(ctx, token_store, now),
    };
    let text = if args.json {
        json(&report, &environment, now)
    } else {
        plain(&report, &environment, now)
    };
    ctx.say(text.trim_end());
    let env_usable = token_sources::usable(&environment).is_some();
    let usable = report.rows.iter().flatten().any(|r| r.usable);
    let mut ok = opened.is_ok() && (env_usable || usable);
    if let (Some(url), Ok(token_store)) = (&args.check, &opened) {
        ok &= check(ctx, url, token_store, token_sources::usable(&environment))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Everything the store holds, and what `auto` left in its fallback store meanwhile.
fn read(ctx: &Context, token_store: &TokenStore, now: u64) -> Report {
    let mut problems = Vec::new();
    if let Some(fallback) = token_store.fallback() {
        // Not an error, but worth knowing: these tokens last until reboot.
        problems.push(format!("auto chose keyutils because {}", fallback.reason));
    }
    let rows = match token_store.entries(&ctx.served_hosts()) {
        Ok(entries) => Some(rows_of(entries, now, &mut problems)),
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    let mut report = Report {
        store: token_store.backend().name().to_owned(),
        rows,
        problems,
    };
    if let Some((stray, said)) = ctx.stray_tokens(token_store) {
        let stray = rows_of(stray, now, &mut report.problems);
        report.problems.push(said);
        report.rows.get_or_insert_with(Vec::new).extend(stray);
    }
    report
}

fn rows_of(entries: Vec<Stored>, now: u64, problems: &mut Vec<String>) -> Vec<Row> {
    let mut rows = Vec::new();
    for stored in entries {
        let facts = stored.facts().cloned();
        let Some(token) = stored.token else {
            problems.push(format!("the entry for {} is not text", stored.key));
            continue;
        };
        let kind = TokenKind::of_token(&token);
        let expired = facts
            .as_ref()
            .and_then(|f| f.expires_at)
            .is_some_and(|at| at <= now);
        rows.push(Row {
            store: stored.found_in.name(),
            kind: kind.label(),
            fingerprint: token.fingerprint(),
            usable: refusal(kind).is_none() && kind != TokenKind::ApiTokenBadChecksum && !expired,
            facts,
            key: stored.key,
        });
    }
    rows
}

/// `--check URL`: the token `get` would hand git for `url` (the environment's, else the entry
/// [`TokenStore::choose`] picks, as `get` does), tried for reading and pushing. True when it
/// reads.
fn check(
    ctx: &mut Context,
    url: &str,
    store: &TokenStore,
    env_token: Option<&Given>,
) -> anyhow::Result<bool> {
    use super::verify;
    let target = verify::target_of(url, &ctx.hosts)?;
    let found = match env_token {
        Some(given) => Some((given.source.describe(), given.token.clone())),
        None => {
            let choice = store.choose(&target, dates::now());
            if let Some(Passed::Unreadable(e)) = choice.passed.last() {
                anyhow::bail!("cannot read the token store: {e}");
            }
            choice
                .chosen
                .map(|(stored, token)| (format!("the token for {}", stored.key), token))
        }
    };
    let Some((which, token)) = found else {
        ctx.say(format!("check {url}: no token to try"));
        return Ok(false);
    };
    let access = verify::Access::of(url, &token, &ctx.extra_hosts)?;
    ctx.say(format!("check {url} with {which}: {}", access.explain(url)));
    Ok(access.read == verify::Verdict::Accepted)
}

fn expiry_text(facts: Option<&EntryFacts>, now: u64) -> String {
    match facts.and_then(|f| f.expires_at) {
        None => "expiry unknown".to_owned(),
        Some(at) if at <= now => format!("EXPIRED {}", dates::format_date(at)),
        Some(at) => format!(
            "expires {} ({})",
            dates::format_date(at),
            dates::days_left(at, now)
        ),
    }
}

fn plain(report: &Report, env: &Survey, now: u64) -> String {
    let mut text = format!("store: {}\n", report.store);
    for problem in &report.problems {
        text.push_str(&format!("problem: {problem}\n"));
    }
    match &report.rows {
        None => text.push_str("tokens: not known, the store could not be read\n"),
        Some(rows) if rows.is_empty() => text.push_str("no tokens stored\n"),
        Some(rows) => {
            for row in rows {
                let saved = row
                    .facts
                    .as_ref()
                    .map(|f| format!("saved {}, ", dates::format_date(f.saved_at)))
                    .unwrap_or_default();
                let workspace = row.key.workspace.as_deref().unwrap_or("(all workspaces)");
                let elsewhere = match row.store == report.store {
                    true => String::new(),
                    false => format!("  (in the {} store)", row.store),
                };
                text.push_str(&format!(
                    "{}  {workspace}  {}  {}  {saved}{}{elsewhere}\n",
                    row.key.host.as_str(),
                    row.kind,
                    row.fingerprint,
                    expiry_text(row.facts.as_ref(), now)
                ));
            }
        }
    }
    text.push_str(&token_sources::plain(env));
    text
}

fn json(report: &Report, env: &Survey, now: u64) -> String {
    let entries: Vec<serde_json::Value> = report
        .rows
        .iter()
        .flatten()
        .map(|row| {
            let facts = row.facts.as_ref();
            let expires = facts.and_then(|f| f.expires_at);
            serde_json::json!({
                "host": row.key.host.as_str(),
                "workspace": row.key.workspace,
                "store": row.store,
                "kind": row.kind,
                "fingerprint": row.fingerprint,
                "saved": facts.map(|f| dates::format_date(f.saved_at)),
                "expires": expires.map(dates::format_date),
                "days_left": expires.map(|at| dates::days_until(at, now)),
            })
        })
        .collect();
    serde_json::json!({
        "store": report.store,
        "readable": report.rows.is_some(),
        "problem": (!report.problems.is_empty()).then(|| report.problems.join("; ")),
        "entries": entries,
        "env_token": token_sources::json_resolved(env),
        "token_sources": token_sources::json_sources(env),
    })
    .to_string()
}
