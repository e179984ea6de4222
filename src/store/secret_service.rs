//! The Linux Secret Service (GNOME Keyring, KeePassXC, KWallet) as a keyring-core store.
//!
//! Written directly on libdbus (the `dbus` crate, vendored) because git runs `get` on every
//! fetch and push, and each call to the Secret Service — a round trip through dbus-daemon and
//! the keyring daemon, 0.25–0.45 ms — is most of a `get`'s time (docs/performance.md). So:
//!
//! - calls that do not depend on each other are sent together and their replies read
//!   afterwards: `OpenSession` goes out as soon as we are connected and its reply is read only
//!   when a secret moves, so a `get` is `OpenSession` + `SearchItems`, then `GetSecret` (after
//!   one read of the service's `Collections`, which keeps gnome-keyring alive: see `greet`);
//! - `--store secret-service` checks the default collection only when a search finds no
//!   unlocked item (the search already says whether the items it found are locked); `auto`
//!   checks it while connecting, in the same round trip as `OpenSession`, to choose keyutils
//!   instead of a locked keychain;
//! - the session is plain, not Diffie-Hellman: the secret crosses only the local bus socket,
//!   which other users cannot read, and a key exchange per process costs more than the rest;
//! - nothing ever prompts: a locked item or collection is reported, so git prompts on the
//!   terminal instead;
//! - nothing waits without a deadline: connecting has [`session_bus::CONNECT_TIMEOUT`], each
//!   reply [`TIMEOUT`], and once one reply is late the connection is given up: a bus that
//!   never answers costs a `get` 2 s, one that stops answering after connecting 4 s, before
//!   git prompts (docs/security.md).
//!
//! Items carry the same `service`/`username` attributes as the keyring project's Secret
//! Service stores, so the two interoperate.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dbus::arg::{PropMap, RefArg, TypeMismatchError, Variant};
use dbus::channel::Channel;
use dbus::{Message, Path};
use keyring_core::api::{Credential, CredentialApi, CredentialStoreApi};
use keyring_core::{Entry, Error, Result};

use super::session_bus::{self, describe};
use super::{Backend, StoreError};

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
}

impl SecretServiceStore {
    /// Connects and checks that the default collection exists and is unlocked, so `auto` can
    /// fall back to keyutils instead of using a keychain that would refuse.
    pub fn connect() -> std::result::Result<Arc<Self>, StoreError> {
        let mut bus = Bus::connect()?;
        let locked = locked_property(DEFAULT_COLLECTION).and_then(|get| bus.send(get));
        bus.session().map_err(unavailable)?;
        let checked = locked.and_then(|serial| bus.default_collection(serial));
        match checked.map_err(unavailable)? {
            Collection::Unlocked(_) => Ok(Self::new(bus)),
            Collection::Locked => Err(StoreError::Locked {
                backend: Backend::SecretService,
            }),
        }
    }

    /// Connects and leaves the default collection to be checked when a search finds no
    /// unlocked item: for `--store secret-service`, which has nothing to fall back to.
    pub fn connect_deferred() -> std::result::Result<Arc<Self>, StoreError> {
        Bus::connect().map(Self::new)
    }

    fn new(bus: Bus) -> Arc<Self> {
        Arc::new(Self {
            bus: Arc::new(Mutex::new(bus)),
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
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The plain session: requested while connecting, its reply read when first needed.
enum Session {
    /// Not asked for yet (only while connecting).
    NotRequested,
    Requested(u32),
    Open(Path<'static>),
}

enum Collection {
    Unlocked(Path<'static>),
    Locked,
}

/// What a search found: the unlocked items, and whether there were locked ones.
struct Found {
    unlocked: Vec<Path<'static>>,
    locked: bool,
}

/// A private connection to the session bus, keeping replies that came before they were
/// asked for.
struct Bus {
    channel: Channel,
    early: HashMap<u32, Message>,
    session: Session,
    /// The default collection is known to exist and to be unlocked.
    collection_checked: bool,
    /// A reply came too late: the service is wedged, and no later call waits for it again.
    late: bool,
}

impl Drop for Bus {
    /// Reads the `OpenSession` reply before the connection closes, if nothing needed it yet.
    /// gnome-keyring (42.1 here) aborts when a session request outlives its client: the `get`
    /// of an entry that does not exist would otherwise take the user's keyring daemon down
    /// (found by tests/integration/concurrency.rs).
    fn drop(&mut self) {
        if let Session::Requested(serial) = self.session {
            let _ = self.wait(serial); // at once if the service was already late
        }
    }
}

impl Bus {
    /// Authenticates, says Hello (both within [`session_bus::CONNECT_TIMEOUT`]), and sends
    /// `OpenSession` without waiting for its reply.
    fn connect() -> std::result::Result<Bus, StoreError> {
        let channel = session_bus::connect().map_err(|reason| unavailable(no_access(reason)))?;
        let mut bus = Bus {
            channel,
            early: HashMap::new(),
            session: Session::NotRequested,
            collection_checked: false,
            late: false,
        };
        bus.greet().map_err(unavailable)?;
        let plain = Variant(Box::new(String::new()) as Box<dyn RefArg>);
        let open = method(SERVICE_PATH, SERVICE, "OpenSession").map_err(unavailable)?;
        let serial = bus
            .send(open.append2("plain", plain))
            .map_err(unavailable)?;
        bus.session = Session::Requested(serial);
        Ok(bus)
    }

    /// One round trip that gnome-keyring answers without knowing the caller (the service's
    /// `Collections` property), before any call that needs it. gnome-keyring 42.1 registers a
    /// new client from an idle callback that its D-Bus message filter queues, and handles the
    /// client's calls separately; now and then (about one connection in 4 000, whether
    /// helpers run at once or one at a time) `OpenSession` came first, found no client, and
    /// the daemon aborted (`GLib-ERROR … g_variant_new`, SIGTRAP), taking every secret of the
    /// session with it: the next `get` found no token at all. After this round trip the
    /// client is registered; 1 000 rounds of 40 helpers ran without an abort, where about one
    /// round in 130 aborted before (tests/integration/concurrency.rs). Costs one round trip.
    /// An error reply (a service without the property) changes nothing.
    fn greet(&mut self) -> Result<()> {
        let get = method(SERVICE_PATH, "org.freedesktop.DBus.Properties", "Get")?;
        match self.call(get.append2(SERVICE, "Collections")) {
            Ok(_) | Err(Error::PlatformFailure(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn send(&mut self, message: Message) -> Result<u32> {
        if self.late {
            return Err(too_late());
        }
        let lost = || no_access("could not write to the session bus".into());
        self.channel.send(message).map_err(|()| lost())
    }

    /// The reply to the call sent as `serial`; replies to other calls are kept for later.
    fn wait(&mut self, serial: u32) -> Result<Message> {
        if self.late {
            return Err(too_late());
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            while let Some(message) = self.channel.pop_message() {
                if let Some(answered) = message.get_reply_serial() {
                    self.early.insert(answered, message);
                }
            }
            if let Some(mut reply) = self.early.remove(&serial) {
                return match reply.as_result() {
                    Ok(_) => Ok(reply),
                    Err(e) => Err(dbus_failure(&e)),
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.late = true;
                return Err(too_late());
            }
            self.channel
                .read_write(Some(left))
                .map_err(|()| no_access("the session bus closed the connection".into()))?;
        }
    }

    fn call(&mut self, message: Message) -> Result<Message> {
        let serial = self.send(message)?;
        self.wait(serial)
    }

    fn session(&mut self) -> Result<Path<'static>> {
        if let Session::Requested(serial) = self.session {
            let reply = self.wait(serial)?;
            let (_, path): (Variant<Box<dyn RefArg>>, Path) = reply.read2().map_err(bad_reply)?;
            self.session = Session::Open(path.into_static());
        }
        match &self.session {
            Session::Open(path) => Ok(path.clone()),
            Session::NotRequested => Err(no_access("no session was opened".into())),
            Session::Requested(_) => unreachable!("the session reply was just read"),
        }
    }

    fn locked(&mut self, serial: u32) -> Result<bool> {
        let reply = self.wait(serial)?;
        let locked: Variant<bool> = reply.read1().map_err(bad_reply)?;
        Ok(locked.0)
    }

    /// The default collection, given the serial of a `Locked` request on
    /// [`DEFAULT_COLLECTION`] already sent.
    fn default_collection(&mut self, locked_request: u32) -> Result<Collection> {
        let (path, locked) = match self.locked(locked_request) {
            Ok(locked) => (Path::from(DEFAULT_COLLECTION), locked),
            // A service without alias paths: read the alias, then ask the collection.
            Err(_) => {
                let read_alias = method(SERVICE_PATH, SERVICE, "ReadAlias")?.append1("default");
                let path: Path = self.call(read_alias)?.read1().map_err(bad_reply)?;
                if &*path == "/" {
                    return Err(no_access("there is no default collection".into()));
                }
                let serial = self.send(locked_property(&path)?)?;
                (path.into_static(), self.locked(serial)?)
            }
        };
        if locked {
            return Ok(Collection::Locked);
        }
        self.collection_checked = true;
        Ok(Collection::Unlocked(path))
    }

    fn unlocked_default_collection(&mut self) -> Result<Path<'static>> {
        let serial = self.send(locked_property(DEFAULT_COLLECTION)?)?;
        match self.default_collection(serial)? {
            Collection::Unlocked(path) => Ok(path),
            Collection::Locked => Err(locked_error()),
        }
    }

    fn search(&mut self, attributes: &[(String, String); 2]) -> Result<Found> {
        let attributes: HashMap<&str, &str> = attributes
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let search = method(SERVICE_PATH, SERVICE, "SearchItems")?.append1(attributes);
        let reply = self.call(search)?;
        let (unlocked, locked): (Vec<Path>, Vec<Path>) = reply.read2().map_err(bad_reply)?;
        Ok(Found {
            unlocked: unlocked.into_iter().map(Path::into_static).collect(),
            locked: !locked.is_empty(),
        })
    }

    /// The error for a search that found no unlocked item.
    fn nothing_unlocked(&mut self, found: &Found) -> Error {
        if found.locked {
            return locked_error();
        }
        if self.collection_checked {
            return Error::NoEntry;
        }
        match self.unlocked_default_collection() {
            Ok(_) => Error::NoEntry,
            Err(e) => e,
        }
    }
}

struct Item {
    bus: Arc<Mutex<Bus>>,
    attributes: [(String, String); 2],
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

    fn create(&self, bus: &mut Bus, secret: &[u8]) -> Result<()> {
        let collection = bus.unlocked_default_collection()?;
        let session = bus.session()?;
        let label = format!("Bitbucket API token for {}", self.attributes[1].1);
        let attributes: HashMap<String, String> = self.attributes.iter().cloned().collect();
        let mut properties = PropMap::new();
        properties.insert(format!("{ITEM}.Label"), Variant(Box::new(label)));
        properties.insert(format!("{ITEM}.Attributes"), Variant(Box::new(attributes)));
        let create = method(&collection, COLLECTION, "CreateItem")?.append3(
            properties,
            secret_struct(session, secret),
            true,
        );
        let (_, prompt): (Path, Path) = bus.call(create)?.read2().map_err(bad_reply)?;
        match &*prompt {
            "/" => Ok(()),
            _ => Err(locked_error()), // the service wants to prompt: we never do
        }
    }
}

impl CredentialApi for Item {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        let mut bus = self.bus();
        let found = bus.search(&self.attributes)?;
        let Some(item) = found.unlocked.first() else {
            if found.locked {
                return Err(locked_error());
            }
            return self.create(&mut bus, secret);
        };
        let session = bus.session()?;
        let set = method(item, ITEM, "SetSecret")?.append1(secret_struct(session, secret));
        bus.call(set).map(drop)
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        let mut bus = self.bus();
        let found = bus.search(&self.attributes)?;
        let Some(item) = found.unlocked.first() else {
            return Err(bus.nothing_unlocked(&found));
        };
        let session = bus.session()?;
        let reply = bus.call(method(item, ITEM, "GetSecret")?.append1(session))?;
        let (_, _, value, _): (Path, Vec<u8>, Vec<u8>, String) =
            reply.read1().map_err(bad_reply)?;
        Ok(value)
    }

    fn delete_credential(&self) -> Result<()> {
        let mut bus = self.bus();
        let found = bus.search(&self.attributes)?;
        if found.unlocked.is_empty() {
            return Err(bus.nothing_unlocked(&found));
        }
        let mut deletes = Vec::with_capacity(found.unlocked.len());
        for item in &found.unlocked {
            deletes.push(bus.send(method(item, ITEM, "Delete")?)?);
        }
        for serial in deletes {
            let prompt: Path = bus.wait(serial)?.read1().map_err(bad_reply)?;
            if &*prompt != "/" {
                return Err(locked_error());
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

fn method(path: &str, interface: &str, member: &str) -> Result<Message> {
    Message::new_method_call(DESTINATION, path, interface, member)
        .map_err(|e| Error::PlatformFailure(e.into()))
}

fn locked_property(collection: &str) -> Result<Message> {
    let get = method(collection, "org.freedesktop.DBus.Properties", "Get")?;
    Ok(get.append2(COLLECTION, "Locked"))
}

/// The Secret Service's `Secret` struct `(oayays)`: session, parameters, value, content type.
fn secret_struct<'a>(
    session: Path<'static>,
    secret: &'a [u8],
) -> (Path<'static>, &'static [u8], &'a [u8], &'static str) {
    (session, &[], secret, "text/plain")
}

/// An error reply. No service on the bus means the store is unavailable (so `auto` falls
/// back); anything else is a failure.
fn dbus_failure(e: &dbus::Error) -> Error {
    match e.name() {
        Some(
            "org.freedesktop.DBus.Error.ServiceUnknown"
            | "org.freedesktop.DBus.Error.NameHasNoOwner"
            | "org.freedesktop.DBus.Error.NoReply"
            | "org.freedesktop.DBus.Error.Disconnected",
        ) => no_access(format!(
            "no Secret Service on the session bus ({})",
            describe(e)
        )),
        _ => Error::PlatformFailure(describe(e).into()),
    }
}

fn bad_reply(e: TypeMismatchError) -> Error {
    Error::PlatformFailure(format!("unexpected reply from the Secret Service: {e}").into())
}

fn no_access(reason: String) -> Error {
    Error::NoStorageAccess(reason.into())
}

fn too_late() -> Error {
    no_access(format!(
        "the Secret Service did not answer within {} s",
        TIMEOUT.as_secs()
    ))
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

impl SecretServiceStore {
    /// Every unlocked item filed under `service`: its `username` attribute and secret. One
    /// search, one `GetSecrets` for all secrets, and the `Attributes` reads sent together, so
    /// listing thousands of items costs a few round trips, not one per item.
    pub fn list(&self, service: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut bus = self.bus.lock().unwrap_or_else(|p| p.into_inner());
        let attributes: HashMap<&str, &str> = HashMap::from([("service", service)]);
        let search = method(SERVICE_PATH, SERVICE, "SearchItems")?.append1(attributes);
        let (unlocked, locked): (Vec<Path>, Vec<Path>) =
            bus.call(search)?.read2().map_err(bad_reply)?;
        if unlocked.is_empty() {
            if !locked.is_empty() {
                return Err(locked_error());
            }
            return Ok(Vec::new());
        }
        let mut reads = Vec::with_capacity(unlocked.len());
        for item in &unlocked {
            let get = method(item, "org.freedesktop.DBus.Properties", "Get")?;
            reads.push(bus.send(get.append2(ITEM, "Attributes"))?);
        }
        let session = bus.session()?;
        let get_secrets =
            method(SERVICE_PATH, SERVICE, "GetSecrets")?.append2(unlocked.clone(), session);
        let secrets_request = bus.send(get_secrets)?;
        let mut users = HashMap::new();
        for (item, serial) in unlocked.iter().zip(reads) {
            let reply = bus.wait(serial)?;
            let attributes: Variant<HashMap<String, String>> = reply.read1().map_err(bad_reply)?;
            if let Some(user) = attributes.0.get("username") {
                users.insert(item.to_string(), user.clone());
            }
        }
        type Secret = (Path<'static>, Vec<u8>, Vec<u8>, String);
        let secrets: HashMap<Path<'static>, Secret> =
            bus.wait(secrets_request)?.read1().map_err(bad_reply)?;
        Ok(secrets
            .into_iter()
            .filter_map(|(item, (_, _, value, _))| Some((users.remove(&*item)?, value)))
            .collect())
    }
}
