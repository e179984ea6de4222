//! The Linux Secret Service (GNOME Keyring, KeePassXC, KWallet) as a [`Keychain`].
//!
//! Written on our own small D-Bus client ([`dbus`]), with every call of the Secret Service API
//! in one typed file ([`proxy`]), because git runs `get` on every fetch and push, and each
//! call — a round trip through dbus-daemon and the keyring daemon, 0.25–0.45 ms — is most of
//! a `get`'s time (docs/performance.md). So:
//!
//! - calls that do not depend on each other are sent together and their replies read
//!   afterwards: authentication, `Hello` and the read of the service's `Collections` leave in
//!   one write; then `OpenSession`; then `GetSecret`: three calls for a `get`;
//! - `get` does not search: the path of each of our items is remembered ([`item_paths`]) with
//!   a keyed digest of the secret it held, and the secret read there is used only if it has
//!   that digest; a search happens only without such an item, and remembers what it finds;
//! - the session is plain, not Diffie-Hellman: the secret crosses only the local bus socket,
//!   which other users cannot read ([`session_bus`] checks whose it is);
//! - every wait has a deadline: the calls of one operation share [`proxy::OPERATION`]; a
//!   prompt waits at most as long as a person is given ([`super::Unlock`]).
//!
//! The providers differ, and each difference is handled here ([`unlocking`] for the person's
//! side): KeePassXC answers every `CreateItem` and `Delete` with a prompt, which completes at
//! once when nothing needs confirming, and holds a `SearchItems` while it shows its unlock
//! dialog, so the collections' `Locked` property is read first and only unlocked collections
//! are searched; KWallet's collection starts locked and gives an empty secret while locked, so
//! nothing is read from a locked collection and an empty secret is never a token; GNOME
//! Keyring asks its prompter to unlock. Items carry the same `service`/`username` attributes
//! as the keyring project's Secret Service stores, so the two interoperate.

mod dbus;
mod item_paths;
mod listing;
mod proxy;
mod session_bus;
mod unlocking;

use std::sync::{Mutex, MutexGuard};

use zeroize::Zeroizing;

use item_paths::ItemPaths;
use proxy::{CollectionPath, ItemPath, Prompted, Proxy, ServiceError};
use unlocking::{Failure, Found};

use super::{
    Backend, EntryKey, Keychain, Listed, Opening, SERVICE as OUR_SERVICE, StoreError, stored_token,
};
use super::Unlock;
use crate::token::Token;

/// `--store secret-service`: connects; locked collections are dealt with when an operation
/// needs them.
pub fn open(opening: &Opening) -> Result<Box<dyn Keychain>, StoreError> {
    let proxy = Proxy::connect().map_err(|e| Failure::Service(e).into_store_error(None))?;
    Ok(Box::new(SecretServiceStore::new(proxy, opening)))
}

/// `auto`: connects and makes sure the default collection can be used (unlocking it when a
/// person may be asked), so that `auto` can fall back to keyutils instead of a keychain that
/// would refuse.
pub fn open_for_auto(opening: &Opening) -> Result<Box<dyn Keychain>, StoreError> {
    let mut proxy = Proxy::connect().map_err(|e| Failure::Service(e).into_store_error(None))?;
    let default = proxy
        .default_collection_locked()
        .map_err(|e| Failure::Service(e).into_store_error(Some(&mut proxy)))?;
    if let Some((default, true)) = default
        && let Err(failure) = unlocking::unlock(&mut proxy, &[default], &opening.unlock)
    {
        return Err(failure.into_store_error(Some(&mut proxy)));
    }
    Ok(Box::new(SecretServiceStore::new(proxy, opening)))
}

pub struct SecretServiceStore {
    proxy: Mutex<Proxy>,
    /// Where each item was last seen (a checked hint: [`item_paths`]).
    paths: Option<ItemPaths>,
    unlock: Unlock,
}

impl SecretServiceStore {
    fn new(proxy: Proxy, opening: &Opening) -> Self {
        Self {
            proxy: Mutex::new(proxy),
            paths: opening.data_dir.map(|dir| ItemPaths::new(&dir.0)),
            unlock: opening.unlock.clone(),
        }
    }

    fn proxy(&self) -> MutexGuard<'_, Proxy> {
        self.proxy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `operation` on the connection; a failure becomes a [`StoreError`] that names the
    /// provider and what is locked, asked of the service only then.
    fn with_proxy<T>(
        &self,
        operation: impl FnOnce(&mut Proxy) -> Result<T, Failure>,
    ) -> Result<T, StoreError> {
        let mut proxy = self.proxy();
        proxy.begin_operation();
        operation(&mut proxy).map_err(|failure| failure.into_store_error(Some(&mut proxy)))
    }

    /// Our items for `key`, in the collections that are (or were just) unlocked.
    fn find(&self, proxy: &mut Proxy, key: &EntryKey) -> Result<Found, Failure> {
        let account = key.account();
        let attributes = [("service", OUR_SERVICE), ("username", account.as_str())];
        unlocking::find(proxy, &attributes, &self.unlock)
    }

    /// The secret the entry's remembered item holds, if it is the one this entry stored there:
    /// one `GetSecret`, and the secret checked against the hint's digest before anything uses
    /// it. `None` (a search is needed) for no hint, an error reply, or a secret that is not the
    /// one remembered (dropped, zeroed). KWallet answers a locked item with an empty secret:
    /// that never matches.
    fn at_remembered_path(
        &self,
        proxy: &mut Proxy,
        key: &EntryKey,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, Failure> {
        let account = key.account();
        let Some(hint) = self.paths.as_ref().and_then(|p| p.lookup(OUR_SERVICE, &account)) else {
            return Ok(None);
        };
        let Some(item) = proxy::item_path(&hint.path) else {
            return Ok(None);
        };
        match proxy.get_secret(&item) {
            Ok(secret) if hint.holds(OUR_SERVICE, &account, &secret) => Ok(Some(secret)),
            Ok(_) => Ok(None),
            Err(ServiceError::Unavailable(why)) => Err(Failure::Service(ServiceError::Unavailable(why))),
            Err(_) => Ok(None), // gone, locked, not an item
        }
    }

    fn remember(&self, key: &EntryKey, item: &ItemPath, secret: &[u8]) {
        if let Some(paths) = &self.paths {
            paths.remember(OUR_SERVICE, &key.account(), &item.0, secret);
        }
    }

    /// Saves in the default collection: creates it first where there is none (as libsecret
    /// does), and follows the prompts the service answers with.
    fn create(&self, proxy: &mut Proxy, key: &EntryKey, secret: &[u8]) -> Result<(), Failure> {
        let collection = match proxy.read_default_alias()? {
            Some(collection) => collection,
            None => self.create_default_collection(proxy)?,
        };
        let account = key.account();
        let attributes = [("service", OUR_SERVICE), ("username", account.as_str())];
        let label = format!("Bitbucket API token for {account}");
        let created = match proxy.create_item(&collection, &label, &attributes, secret) {
            Err(ServiceError::Locked) => {
                unlocking::unlock(proxy, std::slice::from_ref(&collection), &self.unlock)?;
                proxy.create_item(&collection, &label, &attributes, secret)?
            }
            other => other?,
        };
        let item = match created {
            Prompted::Done(item) => Some(item),
            Prompted::Prompt(prompt) => {
                let result = unlocking::follow(proxy, &prompt, "save the token", &self.unlock)?;
                result.as_str().and_then(proxy::item_path)
            }
        };
        if let Some(item) = item.filter(|item| item.0 != "/") {
            self.remember(key, &item, secret);
        }
        Ok(())
    }

    /// No default collection: make one, as libsecret does (the service may prompt for its
    /// password).
    fn create_default_collection(&self, proxy: &mut Proxy) -> Result<CollectionPath, Failure> {
        match proxy.create_collection("Default keyring", "default")? {
            Prompted::Done(collection) => Ok(collection),
            Prompted::Prompt(prompt) => {
                let result = match unlocking::follow(proxy, &prompt, "make a collection", &self.unlock) {
                    Ok(result) => result,
                    Err(Failure::Prompt { why, .. }) => {
                        return Err(Failure::NoDefaultCollection { why: Some(why) });
                    }
                    Err(other) => return Err(other),
                };
                result
                    .as_str()
                    .filter(|path| *path != "/")
                    .map(|path| CollectionPath(path.to_owned()))
                    .ok_or(Failure::NoDefaultCollection { why: None })
            }
        }
    }
}

impl Keychain for SecretServiceStore {
    fn backend(&self) -> Backend {
        Backend::SecretService
    }

    fn get(&self, key: &EntryKey) -> Result<Option<Token>, StoreError> {
        let secret = self.with_proxy(|proxy| {
            if let Some(secret) = self.at_remembered_path(proxy, key)? {
                return Ok(Some(secret));
            }
            let found = self.find(proxy, key)?;
            let Some(item) = found.items.first() else {
                return found.nothing();
            };
            let secret = match proxy.get_secret(item) {
                // Removed by another client since the search: there is none now.
                Err(ServiceError::NoSuchObject) => return Ok(None),
                other => other?,
            };
            if secret.is_empty() {
                return Ok(None); // never a token (KWallet says this for a locked item)
            }
            self.remember(key, item, &secret);
            Ok(Some(secret))
        })?;
        secret
            .map(|bytes| stored_token(Backend::SecretService, key, bytes.to_vec()))
            .transpose()
    }

    fn set(&self, key: &EntryKey, token: &Token) -> Result<(), StoreError> {
        let secret = token.expose().as_bytes();
        self.with_proxy(|proxy| {
            let found = self.find(proxy, key)?;
            match found.items.first() {
                Some(item) => match proxy.set_secret(item, secret) {
                    // Removed by another client since the search: made anew.
                    Err(ServiceError::NoSuchObject) => self.create(proxy, key, secret),
                    other => {
                        other?;
                        self.remember(key, item, secret);
                        Ok(())
                    }
                },
                // A locked collection may hide an item of this entry: not a second one.
                None if found.locked.is_some() => found.nothing::<()>().map(drop),
                None => self.create(proxy, key, secret),
            }
        })
    }

    fn delete(&self, key: &EntryKey) -> Result<bool, StoreError> {
        if let Some(paths) = &self.paths {
            paths.forget(OUR_SERVICE, &key.account());
        }
        self.with_proxy(|proxy| {
            let found = self.find(proxy, key)?;
            if found.items.is_empty() {
                return found.nothing::<()>().map(|_| false);
            }
            for deleted in proxy.delete(&found.items)? {
                if let Prompted::Prompt(prompt) = deleted {
                    unlocking::follow(proxy, &prompt, "remove the token", &self.unlock)?;
                }
            }
            Ok(true)
        })
    }

    fn list(&self) -> Option<Result<Vec<Listed>, StoreError>> {
        let listed = self.with_proxy(|proxy| listing::ours(proxy, &self.unlock));
        Some(listed.map(|items| {
            items
                .into_iter()
                .filter_map(|(user, secret)| {
                    Some((EntryKey::from_account(&user)?, Token::from_bytes(secret.to_vec())))
                })
                .collect()
        }))
    }
}
