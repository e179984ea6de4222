//! The Linux Secret Service (GNOME Keyring, KeePassXC, KWallet) as a keyring-core store.
//!
//! Written on the dbus-secret-service crate rather than through the keyring project's
//! Secret Service store crates because git runs `get` on every fetch: those crates always
//! negotiate an encrypted session (a Diffie-Hellman exchange per process) and, when an item is
//! locked, pop up an unlock prompt and wait. Here the session is plain — the secret crosses
//! only the local bus socket, which other users cannot read — and nothing ever prompts: a
//! locked collection is reported, so git prompts on the terminal instead. Items carry the
//! same `service`/`username` attributes as the keyring crates, so the two interoperate.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dbus_secret_service::{EncryptionType, SecretService};
use keyring_core::api::{Credential, CredentialApi, CredentialStoreApi};
use keyring_core::{Entry, Error, Result};

use super::{Backend, StoreError};

type Shared = Arc<Mutex<SecretService>>;

pub struct SecretServiceStore {
    service: Shared,
}

impl SecretServiceStore {
    /// Connects to the session bus and checks that the default collection exists and is
    /// unlocked, so `auto` can fall back to keyutils instead of prompting.
    pub fn connect() -> std::result::Result<Arc<Self>, StoreError> {
        let unavailable = |reason: String| StoreError::Unavailable {
            backend: Backend::SecretService,
            reason,
        };
        let service = SecretService::connect(EncryptionType::Plain)
            .map_err(|e| unavailable(format!("no Secret Service on the session bus ({e})")))?;
        let collection = service
            .get_default_collection()
            .map_err(|e| unavailable(format!("no default collection ({e})")))?;
        if collection
            .is_locked()
            .map_err(|e| unavailable(e.to_string()))?
        {
            return Err(StoreError::Locked {
                backend: Backend::SecretService,
            });
        }
        Ok(Arc::new(Self {
            service: Arc::new(Mutex::new(service)),
        }))
    }
}

impl std::fmt::Debug for SecretServiceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretServiceStore")
    }
}

impl CredentialStoreApi for SecretServiceStore {
    fn vendor(&self) -> String {
        "git-credential-bitbucket Secret Service store (plain session)".into()
    }

    fn id(&self) -> String {
        self.vendor()
    }

    fn build(&self, service: &str, user: &str, _: Option<&HashMap<&str, &str>>) -> Result<Entry> {
        Ok(Entry::new_with_credential(Arc::new(Item {
            service: self.service.clone(),
            attributes: [("service", service), ("username", user)]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct Item {
    service: Shared,
    attributes: [(String, String); 2],
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.attributes)
    }
}

fn failure(e: dbus_secret_service::Error) -> Error {
    Error::PlatformFailure(Box::new(e))
}

fn locked() -> Error {
    Error::NoStorageAccess("the collection is locked".into())
}

impl Item {
    fn search(&self) -> HashMap<&str, &str> {
        self.attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn label(&self) -> String {
        format!("Bitbucket API token for {}", self.attributes[1].1)
    }

    fn with_service<T>(&self, f: impl FnOnce(&SecretService) -> Result<T>) -> Result<T> {
        let service = self.service.lock().unwrap_or_else(|p| p.into_inner());
        f(&service)
    }
}

impl CredentialApi for Item {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        self.with_service(|ss| {
            let found = ss.search_items(self.search()).map_err(failure)?;
            if let Some(item) = found.unlocked.first() {
                return item.set_secret(secret, "text/plain").map_err(failure);
            }
            if !found.locked.is_empty() {
                return Err(locked());
            }
            let collection = ss.get_default_collection().map_err(failure)?;
            if collection.is_locked().map_err(failure)? {
                return Err(locked());
            }
            collection
                .create_item(&self.label(), self.search(), secret, true, "text/plain")
                .map(|_| ())
                .map_err(failure)
        })
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        self.with_service(|ss| {
            let found = ss.search_items(self.search()).map_err(failure)?;
            match (found.unlocked.first(), found.locked.is_empty()) {
                (Some(item), _) => item.get_secret().map_err(failure),
                (None, false) => Err(locked()),
                (None, true) => Err(Error::NoEntry),
            }
        })
    }

    fn delete_credential(&self) -> Result<()> {
        self.with_service(|ss| {
            let found = ss.search_items(self.search()).map_err(failure)?;
            if found.unlocked.is_empty() {
                return Err(if found.locked.is_empty() {
                    Error::NoEntry
                } else {
                    locked()
                });
            }
            for item in &found.unlocked {
                item.delete().map_err(failure)?;
            }
            Ok(())
        })
    }

    fn get_credential(&self) -> Result<Option<Arc<Credential>>> {
        self.get_secret().map(|_| None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        Some((self.attributes[0].1.clone(), self.attributes[1].1.clone()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
