//! `status`: what is stored, in which store, of which kind, and when it lapses — masked, never
//! the token. Scripts check its exit code: 1 when the store cannot be opened or nothing usable
//! is there (no unexpired token of a served kind, and no usable `BITBUCKET_API_TOKEN`), or
//! when `--check URL` finds the token does not open that repository.

use std::process::ExitCode;

use super::Context;
use super::logout::stored_entries;
use crate::dates;
use crate::policy::refusal;
use crate::store::{EntryFacts, EntryKey, Passed, Target, TokenStore};
use crate::token::{Token, TokenKind};

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
    key: EntryKey,
    kind: &'static str,
    fingerprint: String,
    facts: Option<EntryFacts>,
    usable: bool,
}

pub fn run(ctx: &mut Context, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let now = dates::now();
    let env_token = crate::environment::env_token();
    let opened = ctx.token_store();
    let (store, rows, problem) = match &opened {
        Err(e) => (
            super::store_flag(ctx.store),
            Vec::new(),
            Some(format!("{e:#}")),
        ),
        Ok(token_store) => {
            let mut rows = Vec::new();
            let mut problem = None;
            match stored_entries(ctx, token_store) {
                Ok(entries) => {
                    for stored in entries {
                        let key = stored.key.clone();
                        let facts = stored.facts().cloned();
                        let Some(token) = stored.token else {
                            problem = Some(format!("the entry for {key} is not text"));
                            continue;
                        };
                        let kind = TokenKind::of_token(&token);
                        let expired = facts
                            .as_ref()
                            .and_then(|f| f.expires_at)
                            .is_some_and(|at| at <= now);
                        rows.push(Row {
                            kind: kind.label(),
                            fingerprint: token.fingerprint(),
                            usable: refusal(kind).is_none()
                                && kind != TokenKind::ApiTokenBadChecksum
                                && !expired,
                            facts,
                            key,
                        });
                    }
                }
                Err(e) => problem = Some(format!("{e:#}")),
            }
            if let Some(why) = token_store.fallback_reason() {
                // Not an error, but worth knowing: these tokens last until reboot.
                problem.get_or_insert_with(|| format!("auto chose keyutils because {why}"));
            }
            (token_store.backend().name().to_owned(), rows, problem)
        }
    };
    let text = if args.json {
        json(&store, &rows, problem.as_deref(), env_token.as_ref(), now)
    } else {
        plain(&store, &rows, problem.as_deref(), env_token.as_ref(), now)
    };
    ctx.say(text.trim_end());
    let env_usable = env_token
        .as_ref()
        .is_some_and(|t| refusal(TokenKind::of_token(t)).is_none());
    let mut ok = opened.is_ok() && (env_usable || rows.iter().any(|r| r.usable));
    if let (Some(url), Ok(token_store)) = (&args.check, &opened) {
        ok &= check(ctx, url, token_store, env_token.as_ref())?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--check URL`: the token `get` would hand git for `url` (the CI variable, else the entry
/// [`TokenStore::choose`] picks, as `get` does), tried for reading and pushing. True when it
/// reads.
fn check(
    ctx: &mut Context,
    url: &str,
    store: &TokenStore,
    env_token: Option<&Token>,
) -> anyhow::Result<bool> {
    use super::verify;
    let host = verify::host_of(url, &ctx.hosts)?;
    let request = crate::protocol::decode(format!("url={url}\n").as_bytes()).ok();
    let plain_http = request
        .as_ref()
        .and_then(|r| r.protocol.as_deref())
        .is_some_and(|p| p.eq_ignore_ascii_case("http"));
    let target = Target::new(host, request.and_then(|r| r.path).as_deref(), plain_http);
    let found = match env_token {
        Some(token) => Some(("BITBUCKET_API_TOKEN".to_owned(), token.clone())),
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
            "expires {} ({} days left)",
            dates::format_date(at),
            dates::days_until(at, now)
        ),
    }
}

fn plain(
    store: &str,
    rows: &[Row],
    problem: Option<&str>,
    env: Option<&Token>,
    now: u64,
) -> String {
    let mut text = format!("store: {store}\n");
    if let Some(problem) = problem {
        text.push_str(&format!("problem: {problem}\n"));
    }
    if rows.is_empty() {
        text.push_str("no tokens stored\n");
    }
    for row in rows {
        let saved = row
            .facts
            .as_ref()
            .map(|f| format!("saved {}, ", dates::format_date(f.saved_at)))
            .unwrap_or_default();
        let workspace = row.key.workspace.as_deref().unwrap_or("(all workspaces)");
        text.push_str(&format!(
            "{}  {workspace}  {}  {}  {saved}{}\n",
            row.key.host.as_str(),
            row.kind,
            row.fingerprint,
            expiry_text(row.facts.as_ref(), now)
        ));
    }
    match env {
        Some(token) => text.push_str(&format!(
            "BITBUCKET_API_TOKEN: set ({}, {}); git uses it before any store\n",
            TokenKind::of_token(token).label(),
            token.fingerprint()
        )),
        None => text.push_str("BITBUCKET_API_TOKEN: not set\n"),
    }
    text
}

fn json(store: &str, rows: &[Row], problem: Option<&str>, env: Option<&Token>, now: u64) -> String {
    let entries: Vec<String> = rows
        .iter()
        .map(|row| {
            let facts = row.facts.as_ref();
            let expires = facts.and_then(|f| f.expires_at);
            format!(
                "{{\"host\":{},\"workspace\":{},\"store\":{},\"kind\":{},\"fingerprint\":{},\
                 \"saved\":{},\"expires\":{},\"days_left\":{}}}",
                quote(row.key.host.as_str()),
                row.key.workspace.as_deref().map_or("null".into(), quote),
                quote(store),
                quote(row.kind),
                quote(&row.fingerprint),
                facts.map_or("null".into(), |f| quote(&dates::format_date(f.saved_at))),
                expires.map_or("null".into(), |at| quote(&dates::format_date(at))),
                expires.map_or("null".into(), |at| dates::days_until(at, now).to_string()),
            )
        })
        .collect();
    let env = match env {
        Some(token) => format!(
            "{{\"set\":true,\"kind\":{},\"fingerprint\":{}}}",
            quote(TokenKind::of_token(token).label()),
            quote(&token.fingerprint())
        ),
        None => "{\"set\":false}".to_owned(),
    };
    format!(
        "{{\"store\":{},\"problem\":{},\"entries\":[{}],\"env_token\":{env}}}",
        quote(store),
        problem.map_or("null".into(), quote),
        entries.join(",")
    )
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
        assert_eq!(quote("ATATT…1A2B"), "\"ATATT…1A2B\"");
    }
}
