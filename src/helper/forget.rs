//! `erase` without a password: git-credential(1)'s "remove matching credentials", as a person
//! or a tool asks with `git credential reject` (git's own helper tests rely on it).
//!
//! What matches, with one username for every token: a request naming only the host matches
//! the host's entry and every workspace entry under it; one whose path names a workspace
//! matches that workspace's entry. A path that names no workspace (`.` or `..` segments, odd
//! characters) matches nothing. The caller has already kept apart the request that names a
//! credential other than a password (git 2.46+ rejecting another helper's bearer credential):
//! that one forgets nothing. Each forgotten entry goes with its facts, and stderr says which.

use super::{Helper, Outcome, writer_or_note};
use crate::store::{EntryKey, Place, Target};

impl Helper<'_> {
    pub(super) fn forget(&self, target: &Target, outcome: &mut Outcome) {
        if target.place != Place::NoPath && target.workspace.is_none() {
            outcome.notes.push(format!(
                "nothing was forgotten: {} names no workspace",
                target.describe_place()
            ));
            return;
        }
        let failed = |e: &dyn std::fmt::Display| format!("nothing was forgotten: {e}");
        let Some(store) = self.open(outcome, failed) else {
            return;
        };
        let Some(writer) = writer_or_note(&store, true, outcome, failed) else {
            return;
        };
        let keys =
            match &target.workspace {
                Some(workspace) => Ok(vec![workspace.clone()]),
                None => store.keys(std::slice::from_ref(&target.host.host)).map(
                    |keys| -> Vec<EntryKey> {
                        keys.into_iter()
                            .filter(|key| key.host == target.host.host)
                            .collect()
                    },
                ),
            };
        let removed = keys.and_then(|keys| writer.remove_all(&keys));
        match removed {
            Ok(removed) if removed.is_empty() => outcome.notes.push(format!(
                "no token was stored for {}, so there was nothing to forget",
                target.first()
            )),
            Ok(removed) => {
                let names: Vec<String> = removed.iter().map(ToString::to_string).collect();
                outcome.notes.push(format!(
                    "removed the token for {} from the {} store, as git asked (an erase \
                     without a password forgets every matching token)",
                    names.join(", "),
                    store.backend().name()
                ));
            }
            Err(e) => outcome.notes.push(failed(&e)),
        }
        outcome.notes.extend(store.damage());
    }
}
