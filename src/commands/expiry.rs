//! `expiry DATE`: record (or correct) when a stored token expires, without pasting it again —
//! Atlassian shows a token only once, so a person who forgot `login --expires` cannot.

use std::process::ExitCode;

use anyhow::Context as _;

use super::login::parse_expiry;
use super::{Context, writer};
use crate::dates;

#[derive(Debug, clap::Args)]
pub struct ExpiryArgs {
    /// When the stored token expires, as chosen when it was created.
    #[arg(value_name = "YYYY-MM-DD")]
    pub date: String,
    /// The token saved for this workspace (else the host's token).
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: Option<String>,
}

pub fn run(ctx: &mut Context, args: &ExpiryArgs) -> anyhow::Result<ExitCode> {
    let expires_at = parse_expiry(&args.date, "the date")?;
    let key = ctx.entry_key(args.workspace.as_deref())?;
    let store = ctx.token_store()?;
    let token = store.token(&key)?.with_context(|| {
        format!(
            "no token is stored for {key} in the {} store; save one with `{}`",
            store.backend().name(),
            crate::diagnostics::login_command(&key)
        )
    })?;
    let facts = writer(&store, false)?
        .set_expiry(&key, &token, expires_at)
        .map_err(anyhow::Error::msg)
        .context("cannot record the date")?;
    ctx.say(format!(
        "Recorded: the token for {key} ({}) expires {} ({}).",
        facts.fingerprint,
        dates::format_date(expires_at),
        dates::days_left(expires_at, dates::now())
    ));
    Ok(ExitCode::SUCCESS)
}
