//! `logout`: remove stored tokens — one host entry, one workspace, or everything this store
//! holds for the served hosts (the metadata file lists the workspace entries, since not every
//! keychain can be searched).

use std::process::ExitCode;

use super::Context;
use crate::policy::HostKey;
use crate::store::EntryKey;

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// Remove the token saved for this workspace only.
    #[arg(long, value_name = "WORKSPACE", conflicts_with = "all")]
    pub workspace: Option<String>,
    /// Remove every token this helper saved in the store.
    #[arg(long)]
    pub all: bool,
}

pub fn run(ctx: &mut Context, args: &LogoutArgs) -> anyhow::Result<ExitCode> {
    let keychain = ctx.keychain()?;
    let keys = if args.all {
        all_keys(ctx, keychain.backend().name())
    } else {
        vec![ctx.entry_key(args.workspace.as_deref())?]
    };
    let metadata = ctx.metadata();
    let mut removed = 0;
    for key in &keys {
        if keychain.delete(key)? {
            removed += 1;
            ctx.say(format!(
                "Removed the token for {key} from the {} store.",
                keychain.backend().name()
            ));
        }
        if let Some(metadata) = &metadata {
            let _ = metadata.remove(keychain.backend(), key);
        }
    }
    if removed == 0 {
        ctx.say(format!(
            "No token was stored for that in the {} store.",
            keychain.backend().name()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Host entries of every served host plus every entry the metadata knows for this store.
pub fn all_keys(ctx: &Context, store: &str) -> Vec<EntryKey> {
    let mut keys: Vec<EntryKey> = ctx.served_hosts().into_iter().map(EntryKey::host).collect();
    if let Some(records) = ctx.metadata().and_then(|m| m.all().ok()) {
        for record in records.into_iter().filter(|r| r.store == store) {
            if let Some(key) = parse_account(&record.account) {
                keys.push(key);
            }
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// `host` or `host/workspace`, as [`EntryKey::account`] writes it.
pub fn parse_account(account: &str) -> Option<EntryKey> {
    match account.split_once('/') {
        Some((host, ws)) => Some(EntryKey::workspace(HostKey::parse(host)?, ws.to_owned())),
        None => Some(EntryKey::host(HostKey::parse(account)?)),
    }
}
