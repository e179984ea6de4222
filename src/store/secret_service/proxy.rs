//! The Secret Service's D-Bus API, typed: every call we make, its wire values and its
//! positional replies live in this file, behind methods that speak in object paths, secrets
//! and [`ServiceError`]s ("locked" is a variant, never a message matched by its text).
//!
//! One deadline covers the calls of an operation ([`OPERATION`]), not each reply: a service
//! that answers every call just in time cannot stretch a `get` to many times the bound.
//! Connecting (the socket, authentication and the greeting) is one operation; each keychain
//! call after it ([`Proxy::begin_operation`]) another, so a caller that connects, then waits
//! for the writer lock or for Bitbucket, still has the whole bound for its call. A prompt (a
//! dialog a person may have to answer) has a deadline of its own, and the operation's
//! deadline starts again after it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::dbus::{CallError, Connection, Signal, Value, valid_object_path};
use super::session_bus;

const DESTINATION: &str = "org.freedesktop.secrets";
const SERVICE_PATH: &str = "/org/freedesktop/secrets";
const SERVICE: &str = "org.freedesktop.Secret.Service";
const COLLECTION: &str = "org.freedesktop.Secret.Collection";
const ITEM: &str = "org.freedesktop.Secret.Item";
const PROMPT: &str = "org.freedesktop.Secret.Prompt";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
/// The spec's path for the collection behind the `default` alias.
const DEFAULT_ALIAS: &str = "/org/freedesktop/secrets/aliases/default";

/// How long the calls of one operation may take in all. A healthy call takes 0.25–0.45 ms, and
/// under 40 helpers at once on 2 busy cores rarely 100 ms.
pub(super) const OPERATION: Duration = Duration::from_secs(2);

/// What went wrong, typed so that callers match on it.
#[derive(Debug)]
pub(super) enum ServiceError {
    /// No usable service: no bus, nobody owns the name, a bus or service that did not answer
    /// in time, a broken connection. `auto` falls back to keyutils.
    Unavailable(String),
    /// The collection or item is locked.
    Locked,
    /// The object does not exist (an alias with no collection behind it, an item gone).
    NoSuchObject,
    /// The service answered with an error, or with a reply of the wrong shape.
    Failed(String),
}

pub(super) type Result<T> = std::result::Result<T, ServiceError>;

/// A collection's object path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CollectionPath(pub String);

/// An item's object path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ItemPath(pub String);

/// A prompt's object path: the service wants to ask a person (or at least be asked to go on).
#[derive(Debug, Clone)]
pub(super) struct PromptPath(pub String);

/// What a call that may prompt returned.
pub(super) enum Prompted<T> {
    Done(T),
    Prompt(PromptPath),
}

/// How a prompt ended.
pub(super) enum PromptEnd {
    /// Completed, with its result (an `ao` for `Unlock`, an `o` for `CreateItem`, ...).
    Completed(Value),
    /// Dismissed: by the person, or at once because nobody can be asked (no prompter).
    Dismissed,
    /// Nobody answered in time; the prompt was dismissed.
    TimedOut,
    /// The prompt was gone when we asked for it, and no signal of ours said how it ended.
    Gone,
}

/// The plain session: requested while connecting, its reply read when first needed.
enum Session {
    /// Nothing to wait for: not requested yet, or its reply was taken and was not a session.
    None,
    Requested(u32),
    Open(String),
}

/// A private connection to the session bus, with the plain session opened on it.
pub(super) struct Proxy {
    connection: Connection,
    session: Session,
    deadline: Instant,
    /// The service's collections, read while connecting.
    collections: Vec<CollectionPath>,
}

impl Drop for Proxy {
    /// Reads the `OpenSession` reply before the connection closes, if nothing needed it yet.
    /// gnome-keyring (42.1 here) aborts when a session request outlives its client: the `get`
    /// of an entry that does not exist would otherwise take the user's keyring daemon down.
    fn drop(&mut self) {
        if let Session::Requested(serial) = self.session {
            let _ = self.wait(serial); // at once if the service was already late
        }
    }
}

impl Proxy {
    /// Connects, greets the service, and sends `OpenSession` without waiting for its reply.
    /// The greeting reads the service's `Collections`, which gnome-keyring answers without
    /// knowing the caller: after it the daemon has registered the client, and `OpenSession`
    /// cannot race that registration (which aborted gnome-keyring 42.1 once in about 4,000
    /// connections; docs/security.md). It shares one round trip with authentication and
    /// `Hello`.
    pub fn connect() -> Result<Proxy> {
        let started = Instant::now();
        let connection = session_bus::connect().map_err(ServiceError::Unavailable)?;
        let mut proxy = Proxy {
            connection,
            session: Session::None,
            deadline: started + OPERATION,
            collections: Vec::new(),
        };
        let serial = proxy
            .property(SERVICE_PATH, SERVICE, "Collections")
            .map_err(unavailable)?;
        match proxy.wait(serial) {
            Ok(reply) => {
                proxy.collections = reply
                    .first()
                    .map(Value::unwrap_variant)
                    .and_then(paths_of)
                    .unwrap_or_default()
                    .into_iter()
                    .map(CollectionPath)
                    .collect();
            }
            Err(ServiceError::Failed(_) | ServiceError::NoSuchObject) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let plain = [
            Value::str("plain"),
            Value::Variant(Box::new(Value::str(""))),
        ];
        let serial = proxy
            .send(SERVICE_PATH, SERVICE, "OpenSession", &plain)
            .map_err(unavailable)?;
        proxy.session = Session::Requested(serial);
        // Sent now: the service opens the session while the caller reads its item hint.
        let deadline = proxy.deadline;
        proxy
            .connection
            .send_queued(deadline)
            .map_err(|e| unavailable(proxy.failure(e)))?;
        Ok(proxy)
    }

    /// Starts the deadline of one keychain call. A connection that was late once stays given
    /// up: nothing waits on it again.
    pub fn begin_operation(&mut self) {
        self.deadline = Instant::now() + OPERATION;
    }

    /// The collections the service had when we connected.
    pub fn collections(&self) -> &[CollectionPath] {
        &self.collections
    }

    fn send(&mut self, path: &str, interface: &str, member: &str, args: &[Value]) -> Result<u32> {
        self.connection
            .send(DESTINATION, path, interface, member, args)
            .map_err(|e| self.failure(e))
    }

    fn wait(&mut self, serial: u32) -> Result<Vec<Value>> {
        self.connection
            .wait(serial, self.deadline)
            .map_err(|e| self.failure(e))
    }

    fn call(&mut self, path: &str, interface: &str, member: &str, args: &[Value]) -> Result<Vec<Value>> {
        let serial = self.send(path, interface, member, args)?;
        self.wait(serial)
    }

    fn property(&mut self, path: &str, interface: &str, name: &str) -> Result<u32> {
        let args = [Value::str(interface), Value::str(name)];
        self.send(path, PROPERTIES, "Get", &args)
    }

    /// An unanswered call as our error. No service on the bus, a bus that is gone or late: the
    /// store is unavailable (so `auto` falls back); anything else is a failure.
    fn failure(&self, e: CallError) -> ServiceError {
        match e {
            CallError::Remote { name, message } => {
                let described = match message {
                    Some(message) => format!("{name}: {message}"),
                    None => name.clone(),
                };
                match name.as_str() {
                    "org.freedesktop.DBus.Error.ServiceUnknown"
                    | "org.freedesktop.DBus.Error.NameHasNoOwner"
                    | "org.freedesktop.DBus.Error.NoReply"
                    | "org.freedesktop.DBus.Error.Disconnected" => ServiceError::Unavailable(
                        format!("no Secret Service on the session bus ({described})"),
                    ),
                    "org.freedesktop.Secret.Error.IsLocked" => ServiceError::Locked,
                    "org.freedesktop.Secret.Error.NoSuchObject"
                    | "org.freedesktop.DBus.Error.UnknownObject"
                    | "org.freedesktop.DBus.Error.UnknownMethod" => ServiceError::NoSuchObject,
                    _ => ServiceError::Failed(described),
                }
            }
            CallError::Broken(why) => ServiceError::Unavailable(why),
            CallError::Late if !self.connection.registered() => ServiceError::Unavailable(format!(
                "the session bus did not answer within {} s (is dbus-daemon stopped or wedged?)",
                OPERATION.as_secs()
            )),
            CallError::Late => ServiceError::Unavailable(format!(
                "the Secret Service did not answer within {} s",
                OPERATION.as_secs()
            )),
        }
    }

    /// The plain session's path (its reply read on first use).
    pub fn session(&mut self) -> Result<String> {
        if let Session::Requested(serial) = self.session {
            self.session = Session::None; // its reply is taken here, whatever it says
            let reply = self.wait(serial)?;
            let path = reply.get(1).and_then(path_of).ok_or_else(bad_reply)?;
            self.session = Session::Open(path);
        }
        match &self.session {
            Session::Open(path) => Ok(path.clone()),
            _ => Err(ServiceError::Unavailable("no session was opened".into())),
        }
    }

    /// Whether each collection is locked, asked together (one round trip); a collection that
    /// does not answer counts as locked.
    pub fn locked(&mut self, collections: &[CollectionPath]) -> Result<Vec<bool>> {
        let mut asked = Vec::with_capacity(collections.len());
        for collection in collections {
            asked.push(self.property(&collection.0, COLLECTION, "Locked")?);
        }
        let mut locked = Vec::with_capacity(asked.len());
        for serial in asked {
            locked.push(match self.wait(serial) {
                Ok(reply) => reply
                    .first()
                    .map(Value::unwrap_variant)
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
                Err(ServiceError::Unavailable(why)) => return Err(ServiceError::Unavailable(why)),
                Err(_) => true,
            });
        }
        Ok(locked)
    }

    /// The default collection and whether it is locked, or `None` where there is none. The
    /// spec's alias path answers in one call where the service has it (GNOME Keyring); else
    /// the alias is read first.
    pub fn default_collection_locked(&mut self) -> Result<Option<(CollectionPath, bool)>> {
        let alias = CollectionPath(DEFAULT_ALIAS.to_owned());
        let serial = self.property(&alias.0, COLLECTION, "Locked")?;
        let collection = match self.wait(serial) {
            Ok(reply) => {
                let locked = reply.first().map(Value::unwrap_variant).and_then(Value::as_bool);
                return Ok(Some((alias, locked.ok_or_else(bad_reply)?)));
            }
            Err(ServiceError::Unavailable(why)) => return Err(ServiceError::Unavailable(why)),
            Err(_) => self.read_default_alias()?,
        };
        match collection {
            Some(collection) => {
                let locked = self.locked(std::slice::from_ref(&collection))?;
                Ok(Some((collection, locked.first() == Some(&true))))
            }
            None => Ok(None),
        }
    }

    /// The collection behind the `default` alias, or `None` where there is none.
    pub fn read_default_alias(&mut self) -> Result<Option<CollectionPath>> {
        let reply = self.call(SERVICE_PATH, SERVICE, "ReadAlias", &[Value::str("default")])?;
        let path = reply.first().and_then(path_of).ok_or_else(bad_reply)?;
        Ok((path != "/").then_some(CollectionPath(path)))
    }

    /// A collection's label, as the provider shows it.
    pub fn label(&mut self, collection: &CollectionPath) -> Result<String> {
        let serial = self.property(&collection.0, COLLECTION, "Label")?;
        let reply = self.wait(serial)?;
        let label = reply.first().map(Value::unwrap_variant).and_then(Value::as_str);
        label.map(str::to_owned).ok_or_else(bad_reply)
    }

    /// `SearchItems` over the whole service: the unlocked items. Not for a
    /// service that may have a locked collection: KeePassXC holds this call while it shows its
    /// own unlock dialog.
    pub fn search(&mut self, attributes: &[(&str, &str)]) -> Result<Vec<ItemPath>> {
        let query = Value::string_dict(attributes.iter().copied());
        let reply = self.call(SERVICE_PATH, SERVICE, "SearchItems", &[query])?;
        // (unlocked, locked): the locked ones are reached through the collection's lock.
        match (reply.first().and_then(paths_of), reply.get(1).and_then(paths_of)) {
            (Some(unlocked), Some(_)) => Ok(items(unlocked)),
            _ => Err(bad_reply()),
        }
    }

    /// `SearchItems` in each of `collections` (all unlocked), asked together.
    pub fn search_in(
        &mut self,
        collections: &[CollectionPath],
        attributes: &[(&str, &str)],
    ) -> Result<Vec<ItemPath>> {
        let mut asked = Vec::with_capacity(collections.len());
        for collection in collections {
            let query = Value::string_dict(attributes.iter().copied());
            asked.push(self.send(&collection.0, COLLECTION, "SearchItems", &[query])?);
        }
        let mut found = Vec::new();
        for serial in asked {
            let reply = self.wait(serial)?;
            found.extend(items(reply.first().and_then(paths_of).ok_or_else(bad_reply)?));
        }
        Ok(found)
    }

    /// The secret an item holds.
    pub fn get_secret(&mut self, item: &ItemPath) -> Result<Zeroizing<Vec<u8>>> {
        let session = self.session()?;
        let reply = self.call(&item.0, ITEM, "GetSecret", &[Value::ObjectPath(session)])?;
        secret_value(reply.first()).cloned()
    }

    /// The secrets of many items in one call, by item.
    pub fn get_secrets(&mut self, items: &[ItemPath]) -> Result<Vec<(ItemPath, Zeroizing<Vec<u8>>)>> {
        let session = self.session()?;
        let args = [
            Value::paths(items.iter().map(|i| i.0.as_str())),
            Value::ObjectPath(session),
        ];
        let reply = self.call(SERVICE_PATH, SERVICE, "GetSecrets", &args)?;
        let entries = reply.first().and_then(Value::as_array).ok_or_else(bad_reply)?;
        let mut secrets = Vec::with_capacity(entries.len());
        for entry in entries {
            let (item, secret) = entry.as_dict_entry().ok_or_else(bad_reply)?;
            let item = item.as_str().ok_or_else(bad_reply)?;
            secrets.push((ItemPath(item.to_owned()), secret_value(Some(secret))?.clone()));
        }
        Ok(secrets)
    }

    /// One attribute of each item (`username`), asked together; items without it are left out.
    pub fn attribute(&mut self, items: &[ItemPath], name: &str) -> Result<HashMap<ItemPath, String>> {
        let mut asked = Vec::with_capacity(items.len());
        for item in items {
            asked.push(self.property(&item.0, ITEM, "Attributes")?);
        }
        let mut values = HashMap::new();
        for (item, serial) in items.iter().zip(asked) {
            let reply = self.wait(serial)?;
            let attributes = reply.first().map(Value::unwrap_variant);
            let entries = attributes.and_then(Value::as_array).ok_or_else(bad_reply)?;
            let value = entries
                .iter()
                .filter_map(Value::as_dict_entry)
                .find(|(k, _)| k.as_str() == Some(name))
                .and_then(|(_, v)| v.as_str());
            if let Some(value) = value {
                values.insert(item.clone(), value.to_owned());
            }
        }
        Ok(values)
    }

    /// `CreateItem` in `collection` (replacing an item with the same attributes): the new
    /// item, or a prompt whose result is its path.
    pub fn create_item(
        &mut self,
        collection: &CollectionPath,
        label: &str,
        attributes: &[(&str, &str)],
        secret: &[u8],
    ) -> Result<Prompted<ItemPath>> {
        let session = self.session()?;
        let property = |name: &str, value: Value| {
            Value::DictEntry(
                Box::new(Value::Str(format!("{ITEM}.{name}"))),
                Box::new(Value::Variant(Box::new(value))),
            )
        };
        let properties = Value::Array {
            element: "{sv}".into(),
            items: vec![
                property("Label", Value::str(label)),
                property("Attributes", Value::string_dict(attributes.iter().copied())),
            ],
        };
        let args = [properties, secret_struct(session, secret), Value::Bool(true)];
        self.watch_prompts();
        let reply = self.call(&collection.0, COLLECTION, "CreateItem", &args)?;
        let item = reply.first().and_then(path_of).ok_or_else(bad_reply)?;
        prompted(reply.get(1), ItemPath(item))
    }

    /// Replaces an item's secret.
    pub fn set_secret(&mut self, item: &ItemPath, secret: &[u8]) -> Result<()> {
        let session = self.session()?;
        self.call(&item.0, ITEM, "SetSecret", &[secret_struct(session, secret)])
            .map(drop)
    }

    /// Deletes items, asked together; for each, done or a prompt to follow.
    pub fn delete(&mut self, items: &[ItemPath]) -> Result<Vec<Prompted<()>>> {
        let mut asked = Vec::with_capacity(items.len());
        self.watch_prompts();
        for item in items {
            asked.push(self.send(&item.0, ITEM, "Delete", &[])?);
        }
        let mut done = Vec::with_capacity(asked.len());
        for serial in asked {
            match self.wait(serial) {
                Ok(reply) => done.push(prompted(reply.first(), ())?),
                // Removed by another client since the search: gone, as asked.
                Err(ServiceError::NoSuchObject) => done.push(Prompted::Done(())),
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// `Unlock`: the objects unlocked at once, or a prompt whose result lists them.
    pub fn unlock(&mut self, collections: &[CollectionPath]) -> Result<Prompted<Vec<String>>> {
        let objects = Value::paths(collections.iter().map(|c| c.0.as_str()));
        self.watch_prompts();
        let reply = self.call(SERVICE_PATH, SERVICE, "Unlock", &[objects])?;
        let unlocked = reply.first().and_then(paths_of).ok_or_else(bad_reply)?;
        prompted(reply.get(1), unlocked)
    }

    /// `CreateCollection` with `label`, under `alias`: the collection, or a prompt whose
    /// result is its path.
    pub fn create_collection(&mut self, label: &str, alias: &str) -> Result<Prompted<CollectionPath>> {
        let properties = Value::Array {
            element: "{sv}".into(),
            items: vec![Value::DictEntry(
                Box::new(Value::Str(format!("{COLLECTION}.Label"))),
                Box::new(Value::Variant(Box::new(Value::str(label)))),
            )],
        };
        self.watch_prompts();
        let reply =
            self.call(SERVICE_PATH, SERVICE, "CreateCollection", &[properties, Value::str(alias)])?;
        let collection = reply.first().and_then(path_of).ok_or_else(bad_reply)?;
        prompted(reply.get(1), CollectionPath(collection))
    }

    /// Runs a prompt: asks the bus who owns the service and for the prompt's `Completed`
    /// signal, calls `Prompt` (the three in one write: the bus handles them in order, so the
    /// match is in place before the service can answer), and waits for the signal from the
    /// owner. `patience` is how long a person may take; `announce` is called once, with the
    /// provider's name, if the prompt has not completed after a moment (so a prompt that
    /// completes on its own, as KeePassXC's do when nothing needs confirming, costs no more
    /// calls and says nothing). A prompt not completed in time is dismissed (GNOME Keyring's
    /// is left, which drops it when we leave the bus).
    pub fn prompt(
        &mut self,
        prompt: &PromptPath,
        patience: Duration,
        announce: &mut dyn FnMut(&str),
    ) -> Result<PromptEnd> {
        let rule = format!(
            "type='signal',sender='{DESTINATION}',interface='{PROMPT}',member='Completed',\
             path='{}'",
            prompt.0
        );
        let owner_asked = self
            .connection
            .send_to_bus("GetNameOwner", &[Value::str(DESTINATION)])
            .map_err(|e| self.failure(e))?;
        let added = self
            .connection
            .send_to_bus("AddMatch", &[Value::Str(rule)])
            .map_err(|e| self.failure(e))?;
        self.connection.await_signal(Some(&prompt.0), PROMPT, "Completed");
        let prompted = self.send(&prompt.0, PROMPT, "Prompt", &[Value::str("")])?;
        let owner = self.wait(owner_asked)?;
        let owner = owner
            .first()
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(bad_reply)?;
        self.wait(added)?;
        // The reply to `Prompt` may come before or after the signal: both are kept.
        match self.wait(prompted) {
            Ok(_) => {}
            // Completed (or dismissed) before it was shown, its object gone: its signal, if
            // it came to us, says how; else the caller looks at the state it asked to change.
            Err(ServiceError::NoSuchObject) => {
                let kept = self.connection.wait_signal(Instant::now()).ok().flatten();
                return match kept {
                    Some(signal) if signal.sender.as_deref() == Some(owner.as_str()) => {
                        ended(&signal)
                    }
                    _ => Ok(PromptEnd::Gone),
                };
            }
            Err(e) => return Err(e),
        }
        let started = Instant::now();
        let quiet = started + QUIET.min(patience);
        let end = started + patience;
        let mut announced = false;
        loop {
            let until = if announced { end } else { quiet };
            let came = self
                .connection
                .wait_signal(until)
                .map_err(|e| self.failure(e))?;
            match came {
                Some(signal) if signal.sender.as_deref() == Some(owner.as_str()) => {
                    self.deadline = Instant::now() + OPERATION;
                    return ended(&signal);
                }
                Some(_) => {} // not from the service: ignored
                None if !announced && Instant::now() < end => {
                    let provider = self.provider();
                    announce(provider.as_deref().unwrap_or("the Secret Service"));
                    announced = true;
                }
                None => {
                    self.deadline = Instant::now() + OPERATION;
                    // gnome-keyring (42.1) aborts when an unlock prompt is dismissed while its
                    // prompter still holds the question (docs/security.md); leaving the bus
                    // drops the prompt there instead. Other services close their dialog.
                    if self.provider().as_deref() != Some(GNOME_KEYRING) {
                        let _ = self.call(&prompt.0, PROMPT, "Dismiss", &[]);
                    }
                    return Ok(PromptEnd::TimedOut);
                }
            }
        }
    }

    /// Keeps the `Completed` signal of any prompt from the next call on, until [`Proxy::prompt`]
    /// narrows it to the prompt the call answered with: a service may complete that prompt
    /// before we have asked to run it.
    fn watch_prompts(&mut self) {
        self.connection.await_signal(None, PROMPT, "Completed");
    }

    /// The program that serves the Secret Service (`GNOME Keyring`, `KeePassXC`, `KWallet`,
    /// or its process name), for messages; `None` when the bus will not say.
    pub fn provider(&mut self) -> Option<String> {
        let serial = self
            .connection
            .send_to_bus("GetConnectionUnixProcessID", &[Value::str(DESTINATION)])
            .ok()?;
        let reply = self.wait(serial).ok()?;
        let pid = match reply.first()? {
            Value::Uint32(pid) => *pid,
            _ => return None,
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        Some(provider_name(comm.trim()))
    }
}

const GNOME_KEYRING: &str = "GNOME Keyring";

/// How long a prompt may complete on its own before the person is told it waits for them.
const QUIET: Duration = Duration::from_millis(300);

/// A provider's name as people know it, from its process name.
fn provider_name(comm: &str) -> String {
    match comm {
        c if c.starts_with("gnome-keyring") => GNOME_KEYRING.into(),
        c if c.starts_with("keepassxc") => "KeePassXC".into(),
        c if c.starts_with("kwalletd") || c.starts_with("ksecretd") => "KWallet".into(),
        other => other.to_owned(),
    }
}

/// `/` means done; any other path is a prompt.
fn prompted<T>(prompt: Option<&Value>, done: T) -> Result<Prompted<T>> {
    match prompt.and_then(path_of) {
        Some(path) if path == "/" => Ok(Prompted::Done(done)),
        Some(path) => Ok(Prompted::Prompt(PromptPath(path))),
        None => Err(bad_reply()),
    }
}

/// How a prompt ended, from its `Completed` signal `(bv)`: dismissed, or its result.
fn ended(signal: &Signal) -> Result<PromptEnd> {
    match signal.body.first().and_then(Value::as_bool) {
        Some(false) => Ok(PromptEnd::Completed(
            signal
                .body
                .get(1)
                .map(|v| v.unwrap_variant().clone())
                .unwrap_or(Value::Bool(false)),
        )),
        Some(true) => Ok(PromptEnd::Dismissed),
        None => Err(bad_reply()),
    }
}

/// Connecting: every failure means the Secret Service cannot be used.
fn unavailable(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Failed(reason) => ServiceError::Unavailable(reason),
        ServiceError::Locked => ServiceError::Unavailable("the service is locked".into()),
        ServiceError::NoSuchObject => ServiceError::Unavailable("no Secret Service object".into()),
        unavailable => unavailable,
    }
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
    fields.get(2).and_then(Value::as_bytes).ok_or_else(bad_reply)
}

fn path_of(value: &Value) -> Option<String> {
    match value {
        Value::ObjectPath(path) => Some(path.clone()),
        _ => None,
    }
}

/// An `ao`'s paths (an empty `ay` reads as none).
pub(super) fn paths_of(value: &Value) -> Option<Vec<String>> {
    value.as_array()?.iter().map(path_of).collect()
}

fn items(paths: Vec<String>) -> Vec<ItemPath> {
    paths.into_iter().map(ItemPath).collect()
}

fn bad_reply() -> ServiceError {
    ServiceError::Failed("unexpected reply from the Secret Service".into())
}

/// A remembered item path, checked before it is used in a call (the bus drops a client that
/// sends a bad one).
pub(super) fn item_path(path: &str) -> Option<ItemPath> {
    valid_object_path(path).then(|| ItemPath(path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_named_as_people_know_them() {
        assert_eq!(provider_name("gnome-keyring-d"), "GNOME Keyring");
        assert_eq!(provider_name("keepassxc"), "KeePassXC");
        assert_eq!(provider_name("kwalletd5"), "KWallet");
        assert_eq!(provider_name("oo7-daemon"), "oo7-daemon");
    }
}
