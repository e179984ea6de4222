//! `erase`: git calls it after a 401 for the credentials it sent, with the rejected password.
//!
//! A 401 does not prove a token revoked (Bitbucket answers the same for a valid token whose
//! account cannot see the repository), so a token is deleted only where it had worked before;
//! elsewhere it is kept and marked refused for that workspace. Each entry and metadata record
//! is read once to decide, under the writer lock held throughout; a change re-reads only what it
//! changes, inside its own locked read-modify-write (docs/security.md).

use super::{Helper, Keys, Outcome, writer_or_note};
use crate::store::{EntryKey, OnRemove, StoreError, TokenStore, Writer};
use crate::token::Token;

impl Helper<'_> {
    pub(super) fn erase(&self, keys: &Keys, password: Option<&Token>, outcome: &mut Outcome) {
        // Without a password (git 2.46+ after another helper's credential was rejected) our
        // token was not the one sent: nothing to do.
        let Some(rejected) = password.filter(|p| !p.expose().is_empty()) else {
            return;
        };
        if self
            .env_token
            .as_ref()
            .is_some_and(|env| env.constant_time_eq(rejected))
        {
            outcome.notes.push(format!(
                "Bitbucket rejected the token in BITBUCKET_API_TOKEN. {WHAT_TO_CHECK} Then update \
                 the variable (e.g. your CI secret); nothing was removed from the keychain."
            ));
            return;
        }
        if keys.dotted {
            outcome.notes.push(
                "Bitbucket rejected the token for a URL whose path has . or .. segments; \
                 nothing was removed. Check the remote URL."
                    .to_owned(),
            );
            return;
        }
        let failed = |e: &dyn std::fmt::Display| {
            format!(
                "nothing was removed: {e}. If Bitbucket revoked the token, run \
                 `git-credential-bitbucket logout`."
            )
        };
        let Some(store) = self.open(outcome, failed) else {
            return;
        };
        let Some(writer) = writer_or_note(&store, true, outcome, failed) else {
            return;
        };
        match holder_of(&store, keys, rejected) {
            Ok(Some(key)) if worked_before(&store, keys, &key, rejected) => {
                erase_revoked(&store, &writer, keys, &key, rejected, outcome)
            }
            Ok(Some(key)) => mark_refused(&writer, keys, &key, rejected, outcome),
            Ok(None) => {}
            Err(e) => outcome.notes.push(format!("nothing was removed: {e}")),
        }
        outcome.notes.extend(store.damage());
    }
}

/// True when the token held under `key` has worked for this request's workspace.
fn worked_before(store: &TokenStore, keys: &Keys, key: &EntryKey, token: &Token) -> bool {
    let workspace = keys.workspace.as_ref().and_then(|k| k.workspace.as_deref());
    store
        .facts(key)
        .filter(|facts| facts.describes(token))
        .is_some_and(|facts| facts.worked_in(workspace))
}

/// A 401 where the token had worked: revoked or expired. Removes it, as git expects.
/// `holder` is the first entry [`holder_of`] found holding it.
fn erase_revoked(
    store: &TokenStore,
    writer: &Writer,
    keys: &Keys,
    holder: &EntryKey,
    rejected: &Token,
    outcome: &mut Outcome,
) {
    match erase_matching(store, writer, keys, holder, rejected) {
        Ok(Some(key)) => {
            outcome.notes.push(format!(
                "Bitbucket rejected the token for {key}, which had worked there before: it \
                 was revoked or has expired, so it was removed from the {} store. \
                 {WHAT_TO_CHECK} git will ask for a token next time.",
                store.backend().name()
            ));
        }
        Ok(None) => {}
        Err(e) => outcome.notes.push(format!("nothing was removed: {e}")),
    }
}

/// A 401 where the token never worked: likely the wrong token for this workspace (its
/// account cannot see the repository), or a URL from someone else. Keeps the token.
fn mark_refused(
    writer: &Writer,
    keys: &Keys,
    key: &EntryKey,
    rejected: &Token,
    outcome: &mut Outcome,
) {
    let target = keys.first();
    let recorded = writer.note_refused(target, rejected);
    outcome.notes.push(format!(
        "Bitbucket refused the token for {key} on {target}, where it has never worked, so it \
             was kept: it may be valid for other repositories. Check that the repository URL is \
             right and that the token's account can access it. git will ask for a token for \
             {target} and keep it for that workspace. If the token was revoked, run \
             `git-credential-bitbucket logout`."
    ));
    if let Err(e) = recorded {
        outcome.notes.push(format!(
            "the refusal could not be recorded ({e}); git will offer the same token again"
        ));
    }
}

const WHAT_TO_CHECK: &str = "Check that it has not expired or been revoked, that it has the \
read:repository:bitbucket scope (and write:repository:bitbucket to push), that your account \
can access this repository, and that it was pasted whole.";

/// The first entry, in lookup order, holding exactly `rejected`.
fn holder_of(
    store: &TokenStore,
    keys: &Keys,
    rejected: &Token,
) -> Result<Option<EntryKey>, StoreError> {
    for key in keys.in_lookup_order() {
        if store
            .token(key)?
            .is_some_and(|stored| stored.constant_time_eq(rejected))
        {
            return Ok(Some(key.clone()));
        }
    }
    Ok(None)
}

/// Removes every entry holding exactly the rejected token, so a token rotated by another
/// process meanwhile survives. Returns the first key removed.
///
/// `holder` is the first entry [`holder_of`] read and found holding it, under the writer lock
/// `erase` still holds: the entries before it did not hold it, and it is not read again (a
/// file-store delete still checks, inside its locked update, that the entry is as that read
/// saw it). Only the entries after it are read here, each once. A workspace entry's record
/// stays, marking where its next token belongs.
fn erase_matching(
    store: &TokenStore,
    writer: &Writer,
    keys: &Keys,
    holder: &EntryKey,
    rejected: &Token,
) -> Result<Option<EntryKey>, StoreError> {
    let mut removed = None;
    for key in keys.in_lookup_order().skip_while(|key| *key != holder) {
        let holds_it = key == holder
            || store
                .token(key)?
                .is_some_and(|stored| stored.constant_time_eq(rejected));
        let on_remove = match key.workspace {
            Some(_) => OnRemove::KeepFacts,
            None => OnRemove::ForgetFacts,
        };
        if holds_it && writer.remove(key, on_remove)? {
            removed.get_or_insert_with(|| key.clone());
        }
    }
    Ok(removed)
}
