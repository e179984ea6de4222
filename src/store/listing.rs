//! Listing and clearing a whole store, for `status` and `logout --all`.
//!
//! The metadata file is an index, not the truth: it may be missing, edited or damaged, and a
//! token may have been stored by another tool or an older version. So the store itself is
//! enumerated where it can be — a Secret Service search by our `service` attribute, the
//! keyutils keys whose description carries our prefix, the lines of the tokens file — in a
//! number of calls that does not grow per entry (one read of the tokens file, not one per
//! entry: with 5,000 entries the old per-key reads made `status` quadratic).

use super::map_store::{Backing, MapStore};
use super::memory::MemoryBacking;
use super::{EntryKey, Keychain, SERVICE, StoreError};
use crate::policy::HostKey;
use crate::token::Token;

impl EntryKey {
    /// The key a keychain `user` field names: `host` or `host/workspace`
    /// ([`EntryKey::account`] reversed).
    pub fn from_account(account: &str) -> Option<EntryKey> {
        match account.split_once('/') {
            Some((host, ws)) if !ws.is_empty() && !ws.contains('/') => {
                Some(EntryKey::workspace(HostKey::parse(host)?, ws.to_owned()))
            }
            Some(_) => None,
            None => Some(EntryKey::host(HostKey::parse(account)?)),
        }
    }
}

/// One stored entry: its key and its token (`None`: not text).
pub type Listed = (EntryKey, Option<Token>);

/// Entries as a backend lists them: the keychain `user` field and the secret's bytes.
type RawEntries = Vec<(String, Vec<u8>)>;

impl Keychain {
    /// Every entry of ours in the store, or `None` for a store that cannot be enumerated
    /// (then callers fall back to the metadata index).
    pub fn entries(&self) -> Option<Result<Vec<Listed>, StoreError>> {
        let raw = self.list_raw()?;
        Some(raw.map_err(|e| self.translate(e)).map(|pairs| {
            pairs
                .into_iter()
                .filter_map(|(user, secret)| {
                    Some((EntryKey::from_account(&user)?, Token::from_bytes(secret)))
                })
                .collect()
        }))
    }

    fn list_raw(&self) -> Option<keyring_core::Result<RawEntries>> {
        if let Some(file) = &self.file {
            return Some(list_map(file.as_ref()));
        }
        let any = self.store.as_any();
        if let Some(memory) = any.downcast_ref::<MapStore<MemoryBacking>>() {
            return Some(list_map(memory));
        }
        #[cfg(target_os = "linux")]
        {
            if let Some(ss) = any.downcast_ref::<super::secret_service::SecretServiceStore>() {
                return Some(ss.list(SERVICE));
            }
            if let Some(keyutils) = any.downcast_ref::<super::keyutils::KeyutilsStore>() {
                return Some(keyutils.list(SERVICE));
            }
        }
        None
    }

    /// Removes these entries — in one write for the file store, which also removes any temp
    /// file a crash left — and returns the keys that were there.
    pub fn delete_all(&self, keys: &[EntryKey]) -> Result<Vec<EntryKey>, StoreError> {
        if let Some(file) = &self.file {
            let mut removed = Vec::new();
            file.backing()
                .update(&mut |map| {
                    removed = keys
                        .iter()
                        .filter(|k| map.remove(&(SERVICE.to_owned(), k.account())).is_some())
                        .cloned()
                        .collect();
                    Ok(())
                })
                .map_err(|e| self.translate(e))?;
            return Ok(removed);
        }
        let mut removed = Vec::new();
        for key in keys {
            if self.delete(key)? {
                removed.push(key.clone());
            }
        }
        Ok(removed)
    }
}

fn list_map<B: Backing>(store: &MapStore<B>) -> keyring_core::Result<RawEntries> {
    Ok(store
        .backing()
        .load()?
        .into_iter()
        .filter(|((service, _), _)| service == SERVICE)
        .map(|((_, user), secret)| (user, secret.to_vec()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Backend;
    use keyring_core::api::CredentialStoreApi;

    #[test]
    fn accounts_read_back_into_keys_and_odd_ones_are_skipped() {
        let ws = EntryKey::from_account("bitbucket.org/acme").unwrap();
        assert_eq!(ws.account(), "bitbucket.org/acme");
        let host = EntryKey::from_account("127.0.0.1:8080").unwrap();
        assert_eq!(host.account(), "127.0.0.1:8080");
        for odd in ["", "bitbucket.org/", "bitbucket.org/a/b", "a b"] {
            assert_eq!(EntryKey::from_account(odd), None, "{odd}");
        }
    }

    #[test]
    fn the_memory_store_lists_only_our_service_and_clears_in_one_step() {
        let store = super::super::memory::new_store();
        let keychain = Keychain::from_store(Backend::Memory, store.clone());
        let key = EntryKey::from_account("bitbucket.org/acme").unwrap();
        keychain.set(&key, &Token::new("t".into())).unwrap();
        let other = store
            .build("another-service", "bitbucket.org", None)
            .unwrap();
        other.set_secret(b"theirs").unwrap();
        let listed = keychain.entries().unwrap().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, key);
        assert_eq!(
            keychain.delete_all(std::slice::from_ref(&key)).unwrap(),
            [key]
        );
        assert!(keychain.entries().unwrap().unwrap().is_empty());
        assert_eq!(other.get_secret().unwrap(), b"theirs");
    }
}
