//! The seam every backend implements: get, set and delete one token by its [`EntryKey`], and,
//! where the keychain can, list everything of ours. Each backend lives in a folder of its own
//! and is the only code that knows its keychain; [`super::TokenStore`] is the only caller.

use super::{Backend, EntryKey, StoreError};
use crate::token::Token;

/// One stored entry: its key and its token (`None`: the entry is not text).
pub type Listed = (EntryKey, Option<Token>);

/// The token a backend read for `key`: bytes that are not text are the same failure in every
/// store (and are zeroed).
pub fn stored_token(backend: Backend, key: &EntryKey, bytes: Vec<u8>) -> Result<Token, StoreError> {
    Token::from_bytes(bytes).ok_or_else(|| StoreError::Failed {
        backend,
        reason: format!("the entry for {key} is not text"),
    })
}

/// One keychain, opened.
pub trait Keychain: Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// The token stored under `key`, if any.
    fn get(&self, key: &EntryKey) -> Result<Option<Token>, StoreError>;

    /// Stores `token` under `key`, replacing what was there.
    fn set(&self, key: &EntryKey, token: &Token) -> Result<(), StoreError>;

    /// Removes the entry; `Ok(false)` if there was none (or, in a store that can tell, it
    /// changed since this keychain last read it: another writer's token is not removed).
    fn delete(&self, key: &EntryKey) -> Result<bool, StoreError>;

    /// Every entry of ours in the keychain, or `None` for one that cannot be enumerated (then
    /// callers fall back to the facts index).
    fn list(&self) -> Option<Result<Vec<Listed>, StoreError>> {
        None
    }

    /// Removes these entries and returns the keys that were there. The file store does it in
    /// one write; others one entry at a time.
    fn delete_all(&self, keys: &[EntryKey]) -> Result<Vec<EntryKey>, StoreError> {
        let mut removed = Vec::new();
        for key in keys {
            if self.delete(key)? {
                removed.push(key.clone());
            }
        }
        Ok(removed)
    }

    /// What the keychain found wrong on the way (damaged lines of the tokens file), by place.
    fn damage(&self) -> Vec<String> {
        Vec::new()
    }

    /// Said once to a person when a token was written here (where it lives and what that
    /// means), if anything.
    fn storage_note(&self) -> Option<&'static str> {
        None
    }
}
