//! `logout`: remove stored tokens — one host entry, one workspace, or everything this helper
//! filed in the store. `--all` lists the store itself ([`TokenStore::keys`]); the facts file
//! adds what a store that cannot be listed holds. It holds the user's writer lock, like every
//! writer, and removes nothing without it.
//!
//! [`TokenStore::keys`]: crate::store::TokenStore::keys

use std::process::ExitCode;

use super::{Context, writer};

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
    let store = ctx.token_store()?;
    let writer = writer(&store, true)?;
    let keys = if args.all {
        store.keys(&ctx.served_hosts())?
    } else {
        vec![ctx.entry_key(args.workspace.as_deref())?]
    };
    let removed = writer.remove_all(&keys)?;
    let name = store.backend().name();
    for key in &removed {
        ctx.say(format!(
            "Removed the token for {key} from the {name} store."
        ));
    }
    if removed.is_empty() {
        match keys.as_slice() {
            [key] => ctx.say(format!(
                "No token was stored for {key} in the {name} store."
            )),
            _ => ctx.say(format!(
                "No token of this helper's was in the {name} store."
            )),
        }
    }
    Ok(ExitCode::SUCCESS)
}
