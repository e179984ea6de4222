//! Switching stores (`setup --store X`, so `install.sh --store X` too) takes the tokens along:
//! the helper git runs will look only in the new store, so tokens left in the old one would be
//! stranded and the next unattended pull would fail. Each token is copied, read back from the
//! new store, and only then removed from the old one; a different token already in the new
//! store is never overwritten (both stay, and we say so).

use super::{Context, writer};
use crate::store::{EntryFacts, OnRemove, StoreChoice};

/// Moves every token this helper saved in `from` into the context's store.
pub fn move_tokens(ctx: &mut Context, from: StoreChoice) -> anyhow::Result<()> {
    if from == ctx.store {
        return Ok(());
    }
    let Ok(old) = ctx.open_store(from) else {
        return Ok(()); // nothing reachable to move (a locked or absent keychain)
    };
    // A move deletes from the old store: only under the writer lock, like every writer.
    let old_writer = writer(&old, true)?;
    let tokens: Vec<_> = old
        .entries(&ctx.served_hosts())?
        .into_iter()
        .filter_map(|stored| {
            let facts = stored.facts().cloned();
            Some((stored.key, stored.token?, facts))
        })
        .collect();
    if tokens.is_empty() {
        return Ok(()); // the new store need not even open
    }
    let new = ctx.token_store()?;
    if old.backend() == new.backend() {
        return Ok(());
    }
    let new_writer = writer(&new, false)?;
    let (old_name, new_name) = (old.backend().name(), new.backend().name());
    for (key, token, facts) in tokens {
        match new.token(&key)? {
            Some(there) if there.constant_time_eq(&token) => {
                if let Some(facts) = &facts {
                    let _ = new_writer.record(&key, facts);
                }
            }
            Some(_) => {
                ctx.warn(format!(
                    "the {new_name} store already holds another token for {key}; the one in the \
                     {old_name} store ({}) was left there",
                    token.fingerprint()
                ));
                continue;
            }
            None => {
                let facts = facts.unwrap_or_else(|| EntryFacts::new(&token, None));
                new_writer.save_checked(&key, &token, &facts)?;
            }
        }
        old_writer.remove(&key, OnRemove::ForgetFacts)?;
        ctx.say(format!(
            "moved the token for {key} ({}) from the {old_name} store to the {new_name} store",
            token.fingerprint()
        ));
    }
    Ok(())
}
