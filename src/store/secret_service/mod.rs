//! The Linux Secret Service (GNOME Keyring, KeePassXC, KWallet) as a keyring-core store.
//!
//! Written on our own small D-Bus client (src/store/dbus/) because git runs `get` on every
//! fetch and push, and each call to the Secret Service — a round trip through dbus-daemon and
//! the keyring daemon, 0.25–0.45 ms — is most of a `get`'s time (docs/performance.md). So:
//!
//! - calls that do not depend on each other are sent together and their replies read
//!   afterwards: authentication, `Hello` and one read of the service's `Collections` (which
//!   keeps gnome-keyring alive: see `Bus::greet`) leave in one write; then `OpenSession`;
//!   then `GetSecret`: three calls for a `get`, the fewest gnome-keyring allows;
//! - `get` does not search: gnome-keyring's `SearchItems` compares every item in the keychain,
//!   so the path of each of our items is remembered (src/store/item_paths.rs) with a digest
//!   of the secret it held, and the secret read there is used only if it has that digest; a
//!   search happens only without such an item, and remembers what it finds;
//! - `--store secret-service` checks the default collection only when a search finds no
//!   unlocked item (the search already says whether the items it found are locked); `auto`
//!   checks it while connecting, in the same round trip as `OpenSession`, to choose keyutils
//!   instead of a locked keychain;
//! - the session is plain, not Diffie-Hellman: the secret crosses only the local bus socket,
//!   which other users cannot read, and a key exchange per process costs more than the rest;
//! - nothing ever prompts: a locked item or collection is reported, so git prompts on the
//!   terminal instead;
//! - nothing waits without a deadline: connecting has [`session_bus::CONNECT_TIMEOUT`], each
//!   reply [`TIMEOUT`], and once one reply is late the connection is given up: a bus or
//!   service that never answers costs a `get` 2 s before git prompts (docs/security.md).
//!
//! Items carry the same `service`/`username` attributes as the keyring project's Secret
//! Service stores, so the two interoperate.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use keyring_core::api::{Credential, CredentialApi, CredentialStoreApi};
use keyring_core::{Entry, Error, Result};
use zeroize::Zeroizing;

use super::dbus::{Value, valid_object_path};
use super::item_paths::ItemPaths;
use super::{Backend, StoreError};

mod bus;
mod listing;

use bus::{Bus, Collection};

const DESTINATION: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
/// The spec's path for the collection behind the `default` alias: one call reads its `Locked`
/// property, where `ReadAlias` and then the property would be two.
const DEFAULT_COLLECTION: &str = "/org/freedesktop/secrets/aliases/default";
const SERVICE: &str = "org.freedesktop.Secret.Service";
const COLLECTION: &str = "org.freedesktop.Secret.Collection";
const ITEM: &str = "org.freedesktop.Secret.Item";
/// How long to wait for each reply, as the keyring project's stores do. A healthy reply takes
/// 0.25–0.45 ms, and under 40 helpers at once on 2 busy cores rarely 100 ms.
const TIMEOUT: Duration = Duration::from_secs(2);

pub struct SecretServiceStore {
    bus: Arc<Mutex<Bus>>,
    /// Where each item was last seen (a checked hint: src/store/item_paths.rs).
    paths: Option<ItemPaths>,
}

impl SecretServiceStore {
    /// Connects and checks that the default collection exists and is unlocked, so `auto` can
    /// fall back to keyutils instead of using a keychain that would refuse.
    pub fn connect(paths: Option<ItemPaths>) -> std::result::Result<Arc<Self>, StoreError> {
        let mut bus = Bus::connect()?;
        let locked = bus
            .send(DEFAULT_COLLECTION, PROPERTIES, "Get", &locked_property())
            .map_err(unavailable)?;
        bus.session().map_err(unavailable)?;
        match bus.default_collection(locked).map_err(unavailable)? {
            Collection::Unlocked(_) => Ok(Self::new(bus, paths)),
            Collection::Locked => Err(StoreError::Locked {
                backend: Backend::SecretService,
            }),
        }
    }

    /// Connects and leaves the default collection to be checked when a search finds no
    /// unlocked item: for `--store secret-service`, which has nothing to fall back to.
    pub fn connect_deferred(
        paths: Option<ItemPaths>,
    ) -> std::result::Result<Arc<Self>, StoreError> {
        Bus::connect().map(|bus| Self::new(bus, paths))
    }

    fn new(bus: Bus, paths: Option<ItemPaths>) -> Arc<Self> {
        Arc::new(Self {
            bus: Arc::new(Mutex::new(bus)),
            paths,
        })
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
            bus: self.bus.clone(),
            attributes: [("service", service), ("username", user)]
                .map(|(k, v)| (k.to_owned(), v.to_owned())),
            paths: self.paths.clone(),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct Item {
    bus: Arc<Mutex<Bus>>,
    attributes: [(String, String); 2],
    paths: Option<ItemPaths>,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.attributes)
    }
}

impl Item {
    fn bus(&self) -> MutexGuard<'_, Bus> {
        self.bus.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, path: &str, secret: &[u8]) {
        if let Some(paths) = &self.paths {
            paths.remember(&self.attributes[0].1, &self.attributes[1].1, path, secret);
        }
    }

    /// The secret of the item the hint names, if it is the one this entry stored there: the
    /// session's reply (sent while connecting), then `GetSecret`, and the secret is checked
    /// against the hint's digest before anything uses it. `None` (a search is needed) for no
    /// hint, an error reply, or a secret that is not the one remembered (dropped, zeroed).
    fn secret_at_remembered_path(&self, bus: &mut Bus) -> Result<Option<Vec<u8>>> {
        let [(_, service), (_, username)] = &self.attributes;
        let Some(hint) = self
            .paths
            .as_ref()
            .and_then(|paths| paths.lookup(service, username))
            .filter(|hint| valid_object_path(&hint.path))
        else {
            return Ok(None);
        };
        let session = bus.session()?;
        let reply = match bus.call(&hint.path, ITEM, "GetSecret", &[Value::ObjectPath(session)]) {
            Ok(reply) => reply,
            Err(Error::PlatformFailure(_)) => return Ok(None), // gone, locked, not an item
            Err(e) => return Err(e),
        };
        let secret = secret_value(reply.first())?;
        if !hint.holds(service, username, secret) {
            return Ok(None);
        }
        Ok(Some(secret.to_vec()))
    }

    fn create(&self, bus: &mut Bus, secret: &[u8]) -> Result<()> {
        let collection = bus.unlocked_default_collection()?;
        let session = bus.session()?;
        let label = format!("Bitbucket API token for {}", self.attributes[1].1);
        let attributes = Value::string_dict(
            self.attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let property = |name: &str, value: Value| {
            Value::DictEntry(
                Box::new(Value::Str(format!("{ITEM}.{name}"))),
                Box::new(Value::Variant(Box::new(value))),
            )
        };
        let properties = Value::Array {
            element: "{sv}".into(),
            items: vec![
                property("Label", Value::Str(label)),
                property("Attributes", attributes),
            ],
        };
        let args = [
            properties,
            secret_struct(session, secret),
            Value::Bool(true),
        ];
        let reply = bus.call(&collection, COLLECTION, "CreateItem", &args)?;
        match reply.get(1).and_then(Value::as_str) {
            Some("/") => {
                if let Some(item) = reply.first().and_then(Value::as_str) {
                    self.remember(item, secret);
                }
                Ok(())
            }
            Some(_) => Err(locked_error()), // the service wants to prompt: we never do
            None => Err(bad_reply()),
        }
    }
}

impl CredentialApi for Item {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        let mut bus = self.bus();
        let found = bus.find(&self.attributes)?;
        let Some(item) = found.unlocked.first() else {
            if found.locked {
                return Err(locked_error());
            }
            return self.create(&mut bus, secret);
        };
        let session = bus.session()?;
        bus.call(item, ITEM, "SetSecret", &[secret_struct(session, secret)])?;
        self.remember(item, secret);
        Ok(())
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        let mut bus = self.bus();
        if let Some(secret) = self.secret_at_remembered_path(&mut bus)? {
            return Ok(secret);
        }
        let found = bus.find(&self.attributes)?;
        let Some(item) = found.unlocked.first() else {
            return Err(bus.nothing_unlocked(&found));
        };
        let session = bus.session()?;
        let reply = bus.call(item, ITEM, "GetSecret", &[Value::ObjectPath(session)])?;
        let secret = secret_value(reply.first())?;
        self.remember(item, secret);
        Ok(secret.to_vec())
    }

    fn delete_credential(&self) -> Result<()> {
        let mut bus = self.bus();
        if let Some(paths) = &self.paths {
            paths.forget(&self.attributes[0].1, &self.attributes[1].1);
        }
        let found = bus.find(&self.attributes)?;
        if found.unlocked.is_empty() {
            return Err(bus.nothing_unlocked(&found));
        }
        let mut deletes = Vec::with_capacity(found.unlocked.len());
        for item in &found.unlocked {
            deletes.push(bus.send(item, ITEM, "Delete", &[])?);
        }
        for serial in deletes {
            let reply = bus.wait(serial)?;
            match reply.first().and_then(Value::as_str) {
                Some("/") => {}
                Some(_) => return Err(locked_error()),
                None => return Err(bad_reply()),
            }
        }
        Ok(())
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

const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

fn locked_property() -> [Value; 2] {
    [Value::str(COLLECTION), Value::str("Locked")]
}

/// The Secret Service's `Secret` struct `(oayays)`: session, parameters, value, content type.
fn secret_struct(session: String, secret: &[u8]) -> Value {
    Value::Struct(vec![
        Value::ObjectPath(session),
        Value::Bytes(Zeroizing::new(Vec::new())),
        Value::Bytes(Zeroizing::new(secret.to_vec())),
        Value::str("text/plain"),
    ])
}

/// The value of a `Secret` struct.
fn secret_value(secret: Option<&Value>) -> Result<&Zeroizing<Vec<u8>>> {
    let fields = secret.and_then(Value::as_struct).ok_or_else(bad_reply)?;
    fields
        .get(2)
        .and_then(Value::as_bytes)
        .ok_or_else(bad_reply)
}

fn path_of(value: &Value) -> Option<String> {
    match value {
        Value::ObjectPath(path) => Some(path.clone()),
        _ => None,
    }
}

fn paths_of(value: &Value) -> Option<Vec<String>> {
    value.as_array()?.iter().map(path_of).collect()
}

fn bad_reply() -> Error {
    Error::PlatformFailure("unexpected reply from the Secret Service".into())
}

fn no_access(reason: String) -> Error {
    Error::NoStorageAccess(reason.into())
}

fn locked_error() -> Error {
    no_access("the collection is locked".into())
}

/// For `connect`: every failure means the Secret Service cannot be used.
fn unavailable(e: Error) -> StoreError {
    let reason = match e {
        Error::NoStorageAccess(e) | Error::PlatformFailure(e) => e.to_string(),
        other => other.to_string(),
    };
    StoreError::Unavailable {
        backend: Backend::SecretService,
        reason,
    }
}
