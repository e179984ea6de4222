//! `login`: save a token a person pastes (or a script pipes in), after checking it offline —
//! and, with `--verify`, against a repository — so a refused or mistyped token never replaces
//! the one that works.
//!
//! The check against the repository runs git over the network, so it runs before the writer
//! lock is taken: git's `store` and `erase`, and other commands, are not held up by a slow
//! remote. What the decision rested on (the token stored before) is read again under the
//! lock, and checked again if another writer changed it meanwhile.

use std::process::ExitCode;

use anyhow::Context as _;

use super::verify::{self, Access, Verdict};
use super::{Context, writer};
use crate::dates;
use crate::policy::refusal;
use crate::store::{Backend, EntryFacts, EntryKey, TokenStore, Writer};
use crate::terminal;
use crate::token::{Token, TokenKind};

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Save the token for this workspace only (the first path segment of its URLs).
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: Option<String>,
    /// When the token expires, as chosen when it was created (Atlassian allows up to a year).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub expires: Option<String>,
    /// Read the token from stdin instead of the terminal (for scripts).
    #[arg(long)]
    pub stdin: bool,
    /// Check the token against this repository before saving it: that it can read (git
    /// ls-remote) and whether it can push (git push --dry-run; nothing is pushed).
    #[arg(long, value_name = "URL")]
    pub verify: Option<String>,
    /// Save a secret that does not look like an API token, or a token that cannot push over a
    /// stored one that can.
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &mut Context, args: &LoginArgs) -> anyhow::Result<ExitCode> {
    let expires_at = match &args.expires {
        None => None,
        Some(text) => Some(parse_expiry(text, "--expires")?),
    };
    let host = match &args.verify {
        Some(url) => Some(verify::host_of(url, &ctx.hosts)?),
        None => None,
    };
    let token = if args.stdin {
        terminal::read_secret_from(&mut ctx.stdin).context("cannot read the token from stdin")?
    } else {
        terminal::prompt_secret("Bitbucket API token (input hidden): ")
            .context("cannot read the token")?
    };
    let Some(token) = token else {
        anyhow::bail!("no token given; nothing was changed");
    };

    let kind = TokenKind::of_token(&token);
    if let Some(why) = refusal(kind) {
        anyhow::bail!("{why}\n{}", crate::policy::how_to_create(false));
    }
    match kind {
        TokenKind::ApiTokenBadChecksum => anyhow::bail!(
            "this API token looks truncated or mistyped: its last 8 characters are not the \
             checksum of the rest. Copy it again from the page where you created it. Nothing \
             was changed."
        ),
        TokenKind::Unknown if !args.force => anyhow::bail!(
            "this does not look like a Bitbucket API token: those start with ATATT and end in \
             an 8-character checksum (a lost first character, a JSON object or an e-mail \
             address is not one). Nothing was changed; if it really is the secret to save, run \
             again with --force."
        ),
        TokenKind::Unknown => ctx.warn(
            "this does not look like a Bitbucket API token (they start with ATATT); saving it \
             because of --force",
        ),
        _ => {}
    }

    let mut key = ctx.entry_key(args.workspace.as_deref())?;
    if let Some(host) = host {
        key.host = host;
    }
    let store = ctx.token_store()?;
    let mut kept = match &args.verify {
        Some(url) => check_against(ctx, url, &token, &store, &key, args.force)?,
        None => None,
    };
    let writer = locked_as_checked(ctx, &token, &store, &key, &mut kept)?;
    let facts = EntryFacts::new(&token, expires_at);
    let notes = writer.save_checked(&key, &token, &facts)?;
    ctx.say(summary(&key, store.backend(), &facts));
    for note in notes {
        ctx.warn(note);
    }
    Ok(ExitCode::SUCCESS)
}

/// How often the stored token may change under a read-only login's check before it gives up.
const RECHECKS: usize = 3;

/// A read-only token's save rests on what was stored when it was checked (nothing, itself, or
/// a token that cannot push either).
struct KeptPushCheck {
    url: String,
    stored: Option<Token>,
}

/// `--verify URL`, without the writer lock: the token must read; whether it can push is said,
/// and a token that cannot push never replaces, without `--force`, a stored one that can.
/// Returns what the save then rests on, if anything.
fn check_against(
    ctx: &mut Context,
    url: &str,
    token: &Token,
    store: &TokenStore,
    key: &EntryKey,
    force: bool,
) -> anyhow::Result<Option<KeptPushCheck>> {
    let access = Access::of(url, token, &ctx.extra_hosts)?;
    if access.read != Verdict::Accepted {
        anyhow::bail!("{}\nNothing was changed.", access.read.explain(url));
    }
    ctx.say(access.explain(url));
    if access.push != Some(Verdict::ReadOnly) || force {
        return Ok(None);
    }
    let stored = store.token(key)?;
    refuse_over_a_pusher(ctx, url, token, key, stored.as_ref())?;
    Ok(Some(KeptPushCheck {
        url: url.to_owned(),
        stored,
    }))
}

/// The writer lock, taken once the token stored under `key` is still the one `kept` was
/// checked against; if another writer changed it meanwhile, the new one is checked (without
/// the lock) and the lock taken again, a few times at most.
fn locked_as_checked<'s>(
    ctx: &mut Context,
    token: &Token,
    store: &'s TokenStore,
    key: &EntryKey,
    kept: &mut Option<KeptPushCheck>,
) -> anyhow::Result<Writer<'s>> {
    for _ in 0..=RECHECKS {
        let lock = writer(store, false)?;
        let Some(check) = kept.as_mut() else {
            return Ok(lock);
        };
        let now = store.token(key)?;
        let unchanged = match (&now, &check.stored) {
            (None, None) => true,
            (Some(now), Some(then)) => now.constant_time_eq(then),
            _ => false,
        };
        if unchanged {
            return Ok(lock);
        }
        drop(lock);
        refuse_over_a_pusher(ctx, &check.url, token, key, now.as_ref())?;
        check.stored = now;
    }
    anyhow::bail!(
        "the token stored for {key} kept changing while this one was checked; nothing was \
         changed. Run the command again."
    )
}

/// Refuses when `stored` (not this token) can push to `url`: `token` cannot.
fn refuse_over_a_pusher(
    ctx: &Context,
    url: &str,
    token: &Token,
    key: &EntryKey,
    stored: Option<&Token>,
) -> anyhow::Result<()> {
    let Some(stored) = stored else {
        return Ok(());
    };
    if stored.constant_time_eq(token)
        || verify::verify_push(url, stored, &ctx.extra_hosts)? != Verdict::Accepted
    {
        return Ok(());
    }
    anyhow::bail!(
        "the token stored for {key} ({}) can push to {url} and this one cannot: it would stop \
         your pushes. Nothing was changed. Add write:repository:bitbucket to the new token, or \
         run again with --force to replace it anyway.",
        stored.fingerprint()
    )
}

/// `YYYY-MM-DD` in the future, given as `what` (`--expires`, or `the date` of `expiry`).
pub(super) fn parse_expiry(text: &str, what: &str) -> anyhow::Result<u64> {
    let at = dates::parse_date(text)
        .with_context(|| format!("{what} {text:?} is not a date like 2027-01-31"))?;
    if at <= dates::now() {
        anyhow::bail!("{what} {text} has already passed: that token no longer works");
    }
    Ok(at)
}

fn summary(key: &EntryKey, backend: Backend, facts: &EntryFacts) -> String {
    let expiry = match facts.expires_at {
        Some(at) => format!(
            ", expires {} ({})",
            dates::format_date(at),
            dates::days_left(at, dates::now())
        ),
        None => ", expiry unknown (record it with --expires)".to_owned(),
    };
    format!(
        "Saved {} for {key} in the {} store{expiry}.",
        facts.fingerprint,
        backend.name()
    )
}
