//! The Linux Secret Service (GNOME Keyring, KeePassXC, KWallet) as a keyring-core store.
//!
//! Written on our own small D-Bus client ([`dbus`]) because git runs `get` on every
//! fetch and push, and each call to the Secret Service — a round trip through dbus-daemon and
//! the keyring daemon, 0.25–0.45 ms — is most of a `get`'s time (docs/performance.md). So:
//!
//! - calls that do not depend on each other are sent together and their replies read
//!   afterwards: authentication, `Hello` and one read of the service's `Collections` (which
//!   keeps gnome-keyring alive: see `Bus::greet`) leave in one write; then `OpenSession`;
//!   then `GetSecret`: three calls for a `get`, the fewest gnome-keyring allows;
//! - `get` does not search: gnome-keyring's `SearchItems` compares every item in the keychain,
//!   so the path of each of our items is remembered (src/store/secret_service/item_paths.rs) with a digest
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

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use zeroize::Zeroizing;

use dbus::{Value, valid_object_path};
use item_paths::ItemPaths;

use super::{Backend, EntryKey, Keychain, Listed, Opening, SERVICE as OUR_SERVICE, StoreError};
use crate::token::Token;

mod bus;
mod dbus;
mod item_paths;
mod listing;
mod session_bus;

use bus::{Bus, Collection};

/// What went wrong with the Secret Service, typed so that callers match on it.
#[derive(Debug)]
enum ServiceError {
    /// No usable service: no bus, nobody owns the name, a bus or service that did not answer
    /// in time, a broken connection. `auto` falls back to keyutils.
    Unavailable(String),
    /// The collection or item is locked.
    Locked,
    /// The service answered with an error, or with a reply of the wrong shape.
    Failed(String),
}

type Result<T> = std::result::Result<T, ServiceError>;

impl ServiceError {
    fn into_store_error(self) -> StoreError {
        let backend = Backend::SecretService;
        match self {
            ServiceError::Unavailable(reason) => StoreError::Unavailable { backend, reason },
            ServiceError::Locked => StoreError::Locked {
                backend,
                what: "the default collection".into(),
                how: "unlock it (e.g. log in to the desktop) or choose another with --store".into(),
            },
            ServiceError::Failed(reason) => StoreError::Failed { backend, reason },
        }
    }
}

/// `--store secret-service`: connects, and leaves the default collection to be checked when a
/// search finds no unlocked item (it has nothing to fall back to).
pub fn open(opening: &Opening) -> std::result::Result<Box<dyn Keychain>, StoreError> {
    let paths = opening.data_dir.map(|dir| ItemPaths::new(&dir.0));
    SecretServiceStore::connect_deferred(paths).map(|store| Box::new(store) as Box<dyn Keychain>)
}

/// `auto`: connects and checks that the default collection exists and is unlocked, so `auto`
/// can fall back to keyutils instead of using a keychain that would refuse.
pub fn open_for_auto(opening: &Opening) -> std::result::Result<Box<dyn Keychain>, StoreError> {
    let paths = opening.data_dir.map(|dir| ItemPaths::new(&dir.0));
    SecretServiceStore::connect(paths).map(|store| Box::new(store) as Box<dyn Keychain>)
}

const DESTINATION: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
/// The spec's path for the collection behind the `default` alias: one call reads its `Locked`
/// property, where `ReadAlias` and then the property would be two.
const DEFAULT_COLLECTION: &str = "/org/freedesktop/secrets/aliases/default";
const SERVICE_INTERFACE: &str = "org.freedesktop.Secret.Service";
const COLLECTION: &str = "org.freedesktop.Secret.Collection";
const ITEM: &str = "org.freedesktop.Secret.Item";
/// How long to wait for each reply, as the keyring project's stores do. A healthy reply takes
/// 0.25–0.45 ms, and under 40 helpers at once on 2 busy cores rarely 100 ms.
const TIMEOUT: Duration = Duration::from_secs(2);

pub struct SecretServiceStore {
    bus: Mutex<Bus>,
    /// Where each item was last seen (a checked hint: [`item_paths`]).
    paths: Option<ItemPaths>,
}

impl SecretServiceStore {
    /// Connects and checks that the default collection exists and is unlocked, so `auto` can
    /// fall back to keyutils instead of using a keychain that would refuse.
    fn connect(paths: Option<ItemPaths>) -> std::result::Result<Self, StoreError> {
        let mut bus = Bus::connect().map_err(ServiceError::into_store_error)?;
        let locked = bus
            .send(DEFAULT_COLLECTION, PROPERTIES, "Get", &locked_property())
            .map_err(unavailable)?;
        bus.session().map_err(unavailable)?;
        match bus.default_collection(locked).map_err(unavailable)? {
            Collection::Unlocked(_) => Ok(Self::new(bus, paths)),
            Collection::Locked => Err(ServiceError::Locked.into_store_error()),
        }
    }

    /// Connects and leaves the default collection to be checked when a search finds no
    /// unlocked item: for `--store secret-service`, which has nothing to fall back to.
    fn connect_deferred(paths: Option<ItemPaths>) -> std::result::Result<Self, StoreError> {
        Bus::connect()
            .map(|bus| Self::new(bus, paths))
            .map_err(ServiceError::into_store_error)
    }

    fn new(bus: Bus, paths: Option<ItemPaths>) -> Self {
        Self {
            bus: Mutex::new(bus),
            paths,
        }
    }

    fn bus(&self) -> MutexGuard<'_, Bus> {
        self.bus.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn item(&self, key: &EntryKey) -> Item<'_> {
        Item {
            attributes: [("service", OUR_SERVICE.to_owned()), ("username", key.account())]
                .map(|(k, v)| (k.to_owned(), v)),
            paths: self.paths.as_ref(),
        }
    }
}

impl std::fmt::Debug for SecretServiceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretServiceStore")
    }
}

/// One entry's item: its attributes, and where its path is remembered.
struct Item<'a> {
    attributes: [(String, String); 2],
    paths: Option<&'a ItemPaths>,
}

impl Item<'_> {
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
            .and_then(|paths| paths.lookup(service, username))
            .filter(|hint| valid_object_path(&hint.path))
        else {
            return Ok(None);
        };
        let session = bus.session()?;
        let reply = match bus.call(&hint.path, ITEM, "GetSecret", &[Value::ObjectPath(session)]) {
            Ok(reply) => reply,
            Err(ServiceError::Failed(_)) => return Ok(None), // gone, locked, not an item
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
            Some(_) => Err(ServiceError::Locked), // the service wants to prompt: we never do
            None => Err(bad_reply()),
        }
    }


    fn set_secret(&self, bus: &mut Bus, secret: &[u8]) -> Result<()> {
        let found = bus.find(&self.attributes)?;
        let Some(item) = found.unlocked.first() else {
            if found.locked {
                return Err(ServiceError::Locked);
            }
            return self.create(bus, secret);
        };
        let session = bus.session()?;
        bus.call(item, ITEM, "SetSecret", &[secret_struct(session, secret)])?;
        self.remember(item, secret);
        Ok(())
    }

    /// The secret, or `None` when there is no such item.
    fn get_secret(&self, bus: &mut Bus) -> Result<Option<Zeroizing<Vec<u8>>>> {
        if let Some(secret) = self.secret_at_remembered_path(bus)? {
            return Ok(Some(Zeroizing::new(secret)));
        }
        let found = bus.find(&self.attributes)?;
        let Some(item) = found.unlocked.first() else {
            return bus.nothing_unlocked(&found).map(|()| None);
        };
        let session = bus.session()?;
        let reply = bus.call(item, ITEM, "GetSecret", &[Value::ObjectPath(session)])?;
        let secret = secret_value(reply.first())?;
        self.remember(item, secret);
        Ok(Some(secret.clone()))
    }

    /// Deletes every unlocked item of the entry; false when there was none.
    fn delete(&self, bus: &mut Bus) -> Result<bool> {
        if let Some(paths) = self.paths {
            paths.forget(&self.attributes[0].1, &self.attributes[1].1);
        }
        let found = bus.find(&self.attributes)?;
        if found.unlocked.is_empty() {
            return bus.nothing_unlocked(&found).map(|()| false);
        }
        let mut deletes = Vec::with_capacity(found.unlocked.len());
        for item in &found.unlocked {
            deletes.push(bus.send(item, ITEM, "Delete", &[])?);
        }
        for serial in deletes {
            let reply = bus.wait(serial)?;
            match reply.first().and_then(Value::as_str) {
                Some("/") => {}
                Some(_) => return Err(ServiceError::Locked),
                None => return Err(bad_reply()),
            }
        }
        Ok(true)
    }
}

impl Keychain for SecretServiceStore {
    fn backend(&self) -> Backend {
        Backend::SecretService
    }

    fn get(&self, key: &EntryKey) -> std::result::Result<Option<Token>, StoreError> {
        let secret = self
            .item(key)
            .get_secret(&mut self.bus())
            .map_err(ServiceError::into_store_error)?;
        match secret {
            None => Ok(None),
            Some(bytes) => Token::from_bytes(bytes.to_vec())
                .map(Some)
                .ok_or_else(|| StoreError::Failed {
                    backend: Backend::SecretService,
                    reason: format!("the entry for {key} is not text"),
                }),
        }
    }

    fn set(&self, key: &EntryKey, token: &Token) -> std::result::Result<(), StoreError> {
        self.item(key)
            .set_secret(&mut self.bus(), token.expose().as_bytes())
            .map_err(ServiceError::into_store_error)
    }

    fn delete(&self, key: &EntryKey) -> std::result::Result<bool, StoreError> {
        self.item(key)
            .delete(&mut self.bus())
            .map_err(ServiceError::into_store_error)
    }

    fn list(&self) -> Option<std::result::Result<Vec<Listed>, StoreError>> {
        Some(
            self.list_ours()
                .map_err(ServiceError::into_store_error)
                .map(|items| {
                    items
                        .into_iter()
                        .filter_map(|(user, secret)| {
                            Some((EntryKey::from_account(&user)?, Token::from_bytes(secret)))
                        })
                        .collect()
                }),
        )
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

fn bad_reply() -> ServiceError {
    ServiceError::Failed("unexpected reply from the Secret Service".into())
}

/// For `connect`: every failure means the Secret Service cannot be used.
fn unavailable(e: ServiceError) -> StoreError {
    let reason = match e {
        ServiceError::Unavailable(reason) | ServiceError::Failed(reason) => reason,
        ServiceError::Locked => "the default collection is locked".into(),
    };
    StoreError::Unavailable {
        backend: Backend::SecretService,
        reason,
    }
}
