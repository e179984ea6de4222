//! Switching stores (`setup --store X`, so `install.sh --store X` too) takes the tokens along:
//! the helper git runs will look only in the new store, so tokens left in the old one would be
//! stranded and the next unattended pull would fail. Each token is copied, read back from the
//! new store, and only then removed from the old one; a different token already in the new
//! store is never overwritten (both stay, and we say so).

use super::Context;
use super::logout::stored_entries;
use crate::store::{Keychain, StoreChoice};

/// Moves every token this helper saved in `from` into the context's store.
pub fn move_tokens(ctx: &mut Context, from: StoreChoice) -> anyhow::Result<()> {
    if from == ctx.store {
        return Ok(());
    }
    let Ok(old) = Keychain::open(from, ctx.data_dir.as_ref()) else {
        return Ok(()); // nothing reachable to move (a locked or absent keychain)
    };
    // A move deletes from the old store: only under the writer lock, like every writer.
    let _serialised = ctx.writer_lock(true)?;
    let tokens: Vec<_> = stored_entries(ctx, &old)?
        .into_iter()
        .filter_map(|(key, token)| Some((key, token?)))
        .collect();
    if tokens.is_empty() {
        return Ok(()); // the new store need not even open
    }
    let new = ctx.keychain()?;
    if old.backend() == new.backend() {
        return Ok(());
    }
    let (old_name, new_name) = (old.backend().name(), new.backend().name());
    let metadata = ctx.metadata();
    for (key, token) in tokens {
        match new.get(&key)? {
            Some(there) if there.constant_time_eq(&token) => {}
            Some(_) => {
                ctx.warn(format!(
                    "the {new_name} store already holds another token for {key}; the one in the \
                     {old_name} store ({}) was left there",
                    token.fingerprint()
                ));
                continue;
            }
            None => new.set(&key, &token)?,
        }
        if !new
            .get(&key)?
            .is_some_and(|back| back.constant_time_eq(&token))
        {
            anyhow::bail!("the {new_name} store did not keep the token for {key}");
        }
        if let Some(metadata) = &metadata {
            if let Some(facts) = metadata.facts_for(old.backend(), &key, &token) {
                let _ = metadata.record(new.backend(), &key, &facts);
            }
            let _ = metadata.remove(old.backend(), &key);
        }
        old.delete(&key)?;
        ctx.say(format!(
            "moved the token for {key} ({}) from the {old_name} store to the {new_name} store",
            token.fingerprint()
        ));
    }
    Ok(())
}
