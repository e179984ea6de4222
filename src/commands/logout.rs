//! `logout`: remove stored tokens — one host entry, one workspace, or everything this helper
//! filed in the store. `--all` lists the store itself ([`Keychain::entries`]); the metadata
//! file adds what a store that cannot be listed holds. It holds the user's writer lock, like
//! every writer, and removes nothing without it.

use std::process::ExitCode;

use super::Context;
use crate::store::{EntryKey, Keychain, Listed};

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
    let _serialised = ctx.writer_lock(true)?;
    let keychain = ctx.keychain()?;
    let keys = if args.all {
        all_keys(ctx, &keychain)?
    } else {
        vec![ctx.entry_key(args.workspace.as_deref())?]
    };
    let removed = keychain.delete_all(&keys)?;
    let name = keychain.backend().name();
    if let Some(metadata) = ctx.metadata() {
        let mut forget = keys.clone();
        if args.all {
            forget.extend(indexed_keys(ctx, name));
        }
        let _ = metadata.remove_many(keychain.backend(), &forget);
    }
    for key in &removed {
        ctx.say(format!(
            "Removed the token for {key} from the {name} store."
        ));
    }
    if removed.is_empty() {
        ctx.say(format!("No token was stored for that in the {name} store."));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every entry of ours the store holds, plus the host entries of the served hosts and what
/// the metadata index lists (for stores that cannot be listed).
pub fn all_keys(ctx: &Context, keychain: &Keychain) -> anyhow::Result<Vec<EntryKey>> {
    let mut keys: Vec<EntryKey> = ctx.served_hosts().into_iter().map(EntryKey::host).collect();
    match keychain.entries() {
        Some(listed) => keys.extend(listed?.into_iter().map(|(key, _)| key)),
        None => keys.extend(indexed_keys(ctx, keychain.backend().name())),
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// The entries the metadata file has records for in `store`.
fn indexed_keys(ctx: &Context, store: &str) -> Vec<EntryKey> {
    let records = ctx
        .metadata()
        .and_then(|m| m.all().ok())
        .unwrap_or_default();
    records
        .into_iter()
        .filter(|r| r.store == store)
        .filter_map(|r| EntryKey::from_account(&r.account))
        .collect()
}

/// Every entry of ours with its token: the store's own listing, or for a store that cannot
/// be listed, a read of each entry [`all_keys`] names.
pub fn stored_entries(ctx: &Context, keychain: &Keychain) -> anyhow::Result<Vec<Listed>> {
    let mut entries = match keychain.entries() {
        Some(listed) => listed?,
        None => {
            let mut entries = Vec::new();
            for key in all_keys(ctx, keychain)? {
                if let Some(token) = keychain.get(&key)? {
                    entries.push((key, Some(token)));
                }
            }
            entries
        }
    };
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}
