//! `erase` with a password: git calls it after a 401 for the credentials it sent, with the
//! rejected password. (Without one, it is git's "forget": `forget.rs`.)
//!
//! A 401 does not prove a token revoked: Bitbucket answers the same for a valid token whose
//! account cannot see the repository, and a URL can come from anyone (a submodule). So a token
//! is deleted only when Bitbucket refuses it again where it had worked (docs/reference.md,
//! *Operations*):
//!
//! - it worked in another repository: that repository is asked again (a bounded `git
//!   ls-remote` through the pipe `login --verify` uses, without the writer lock): refused there
//!   too, it was revoked or has expired and is removed; still accepted there, or no clear
//!   answer, it is kept and marked refused for this repository only;
//! - it worked here and nowhere else known: it was revoked or has expired (removed);
//! - it never worked anywhere known: kept, and marked refused here;
//! - a path that names no repository (`.` or `..` segments, odd characters): nothing changes.
//!
//! A token marked refused somewhere is not offered there again (`get` tries the next entry or
//! lets git prompt). The decision reads each entry and record once under the writer lock, held
//! throughout unless Bitbucket must be asked; then the lock is released for the question and
//! the entries read again under it before anything changes (docs/security.md).

use super::{BAD_CHECKSUM, Helper, Outcome, Recheck, writer_or_note};
use crate::protocol::Request;
use crate::store::{EntryKey, OnRemove, StoreError, Target, TokenStore, Writer};
use crate::token::{Token, TokenKind};

/// What a 401 means for the token that got it.
enum Verdict {
    /// Revoked or expired: remove it. `again`: the other repository that refused it too.
    Revoked { again: Option<String> },
    /// It still opens `repository`: this account cannot see this one.
    StillWorks { repository: String },
    /// `repository` could not be asked (`why`).
    Unconfirmed { repository: String, why: String },
    /// It never worked anywhere known.
    NeverWorked,
}

impl Helper<'_> {
    pub(super) fn erase(&self, target: &Target, request: &Request, outcome: &mut Outcome) {
        let Some(rejected) = request.password.as_ref() else {
            // git 2.46+ rejecting another helper's credential names it (`authtype`,
            // `credential`): not ours, so nothing is forgotten.
            if !request.names_another_credential() {
                self.forget(target, outcome);
            }
            return;
        };
        if rejected.expose().is_empty() {
            return; // nothing stored is empty, so nothing matches
        }
        if let Some(source) = self.env_token.source_of(rejected) {
            outcome.notes.push(format!(
                "Bitbucket rejected the token in {}. {WHAT_TO_CHECK} Then {}; nothing was \
                 removed from the keychain.",
                source.describe(),
                source.how_to_replace()
            ));
            return;
        }
        match TokenKind::of_token(rejected) {
            TokenKind::ApiTokenBadChecksum => outcome.notes.push(format!(
                "Bitbucket rejected the token git sent, and no wonder: {BAD_CHECKSUM}"
            )),
            TokenKind::Unknown => outcome.notes.push(
                "Bitbucket rejected the password git sent: it is not an API token (those start \
                 with ATATT and end in an 8-character checksum; a lost first character makes \
                 one unrecognisable). Copy the token again, whole."
                    .to_owned(),
            ),
            _ => {}
        }
        let Some(place) = target.place.mark() else {
            outcome.notes.push(format!(
                "Bitbucket rejected the token for {}; nothing was removed or marked. Check the \
                 remote URL: a path with . or .. segments or odd characters is not a \
                 Bitbucket repository.",
                target.describe_place()
            ));
            return;
        };
        let failed = |e: &dyn std::fmt::Display| {
            format!(
                "nothing was removed: {e}. If Bitbucket revoked the token, run \
                 `git-credential-bitbucket logout`."
            )
        };
        let Some(store) = self.open(outcome, failed) else {
            return;
        };
        store.clear_prompt(target); // the token typed there was refused
        match self.decide(&store, target, place, rejected, outcome, failed) {
            Ok(Some((writer, holder, verdict))) => act(
                &store, &writer, target, place, &holder, rejected, verdict, outcome,
            ),
            Ok(None) => {}
            Err(e) => outcome.notes.push(format!("nothing was removed: {e}")),
        }
        outcome.notes.extend(store.damage());
    }

    /// The writer lock, the entry holding `rejected` and what its 401 means; `None` when no
    /// entry holds it (or the lock could not be had: then said in the notes).
    fn decide<'s>(
        &self,
        store: &'s TokenStore,
        target: &Target,
        place: &str,
        rejected: &Token,
        outcome: &mut Outcome,
        failed: impl Fn(&dyn std::fmt::Display) -> String + Copy,
    ) -> Result<Option<(Writer<'s>, EntryKey, Verdict)>, StoreError> {
        let Some(writer) = writer_or_note(store, true, outcome, failed) else {
            return Ok(None);
        };
        let Some(holder) = holder_of(store, target, rejected)? else {
            return Ok(None);
        };
        let facts = store.facts(&holder).filter(|f| f.describes(rejected));
        let Some(facts) = facts else {
            return Ok(Some((writer, holder, Verdict::NeverWorked)));
        };
        let Some(elsewhere) = facts.worked_elsewhere(place) else {
            let verdict = match facts.worked_at(place) {
                true => Verdict::Revoked { again: None },
                false => Verdict::NeverWorked,
            };
            return Ok(Some((writer, holder, verdict)));
        };
        let repository = elsewhere.to_owned();
        // Asking Bitbucket takes a round trip (a bounded one): no writer waits for it.
        drop(writer);
        let answer = (self.recheck)(&target.url_of(&repository, facts.plain_http), rejected);
        let Some(writer) = writer_or_note(store, true, outcome, failed) else {
            return Ok(None);
        };
        let Some(holder) = holder_of(store, target, rejected)? else {
            return Ok(None); // replaced meanwhile
        };
        let verdict = match answer {
            Recheck::Rejected => Verdict::Revoked {
                again: Some(repository),
            },
            Recheck::Accepted => Verdict::StillWorks { repository },
            Recheck::Unknown(why) => Verdict::Unconfirmed { repository, why },
        };
        Ok(Some((writer, holder, verdict)))
    }
}

/// Removes the token or marks it refused at `place`, and says which and why.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site, each argument named"
)]
fn act(
    store: &TokenStore,
    writer: &Writer,
    target: &Target,
    place: &str,
    holder: &EntryKey,
    rejected: &Token,
    verdict: Verdict,
    outcome: &mut Outcome,
) {
    let here = target.place_words();
    let why_kept = match verdict {
        Verdict::Revoked { again } => {
            let removed = match erase_matching(store, writer, target, holder, rejected) {
                Ok(Some(key)) => key,
                Ok(None) => return,
                Err(e) => return outcome.notes.push(format!("nothing was removed: {e}")),
            };
            let evidence = match again {
                Some(repo) => {
                    format!("in {here}, and again in repository {repo}, where it had worked")
                }
                None => format!("in {here}, where it had worked before (and nowhere else known)"),
            };
            outcome.notes.push(format!(
                "Bitbucket rejected the token saved for {removed} {evidence}: it was revoked or \
                 has expired, so it was removed from the {} store, and git will ask for a new \
                 one next time.\n{}",
                store.backend().name(),
                crate::policy::how_to_create(false)
            ));
            return;
        }
        Verdict::StillWorks { repository } => format!(
            "but it still opens repository {repository}, so it was kept: the token's account \
             cannot see this repository. Check that the repository URL is right and that the \
             account can access it."
        ),
        Verdict::Unconfirmed { repository, why } => format!(
            "and whether it still opens repository {repository}, where it had worked, could \
             not be checked ({why}), so it was kept. If it was revoked, run \
             `git-credential-bitbucket logout`."
        ),
        Verdict::NeverWorked => "where it has never worked, so it was kept: it may be valid for \
             other repositories. Check that the repository URL is right and that the token's \
             account can access it. If the token was revoked, run \
             `git-credential-bitbucket logout`."
            .to_owned(),
    };
    outcome.notes.push(format!(
        "Bitbucket refused the token saved for {holder} in {here}, {why_kept} It is no longer \
         offered there: git will ask for the token to use there next time."
    ));
    if let Err(e) = writer.note_refused(holder, rejected, place) {
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
    target: &Target,
    rejected: &Token,
) -> Result<Option<EntryKey>, StoreError> {
    for key in target.lookup_order() {
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
    target: &Target,
    holder: &EntryKey,
    rejected: &Token,
) -> Result<Option<EntryKey>, StoreError> {
    let mut removed = None;
    for key in target.lookup_order().skip_while(|key| *key != holder) {
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
