//! The connection a Secret Service store works through: the greeting that keeps gnome-keyring
//! alive, the plain session, the default collection's lock, searches, and what an unanswered
//! call means for the store.

use super::dbus::{CallError, Connection, Value};
use super::session_bus;
use super::{
    DEFAULT_COLLECTION, DESTINATION, PROPERTIES, Result, SERVICE_INTERFACE as SERVICE,
    SERVICE_PATH, ServiceError, TIMEOUT, bad_reply, locked_property, path_of, paths_of,
};

/// The plain session: requested while connecting, its reply read when first needed.
enum Session {
    /// Nothing to wait for: not requested yet (the greeting comes first), or its reply was
    /// taken and was not a session.
    None,
    Requested(u32),
    Open(String),
}

pub(super) enum Collection {
    Unlocked(String),
    Locked,
}

/// What a search found: the unlocked items, and whether there were locked ones.
pub(super) struct Found {
    pub unlocked: Vec<String>,
    pub locked: bool,
}

/// A private connection to the session bus and the plain session opened on it.
pub(super) struct Bus {
    connection: Connection,
    session: Session,
    /// The default collection is known to exist and to be unlocked.
    collection_checked: bool,
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
    /// Connects, greets the service (authentication, `Hello` and the greeting in one write,
    /// answered within [`TIMEOUT`]), and sends `OpenSession` without waiting for its reply.
    pub(super) fn connect() -> Result<Bus> {
        let connection = session_bus::connect().map_err(ServiceError::Unavailable)?;
        let mut bus = Bus {
            connection,
            session: Session::None,
            collection_checked: false,
        };
        bus.greet().map_err(as_unavailable)?;
        let plain = [
            Value::str("plain"),
            Value::Variant(Box::new(Value::str(""))),
        ];
        let serial = bus
            .send(SERVICE_PATH, SERVICE, "OpenSession", &plain)
            .map_err(as_unavailable)?;
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
    /// round in 130 aborted before (tests/integration/concurrency.rs). It shares its round
    /// trip with authentication and `Hello`. An error reply (a service without the property)
    /// changes nothing.
    pub(super) fn greet(&mut self) -> Result<()> {
        let args = [Value::str(SERVICE), Value::str("Collections")];
        let serial = self.send(SERVICE_PATH, PROPERTIES, "Get", &args)?;
        match self.wait(serial) {
            Ok(_) | Err(ServiceError::Failed(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(super) fn send(
        &mut self,
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<u32> {
        self.connection
            .send(DESTINATION, path, interface, member, args)
            .map_err(|e| self.failure(e))
    }

    /// The reply to the call sent as `serial`; replies to other calls are kept for later.
    pub(super) fn wait(&mut self, serial: u32) -> Result<Vec<Value>> {
        self.connection
            .wait(serial, TIMEOUT)
            .map_err(|e| self.failure(e))
    }

    pub(super) fn call(
        &mut self,
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<Vec<Value>> {
        let serial = self.send(path, interface, member, args)?;
        self.wait(serial)
    }

    /// An unanswered call as our error. No service on the bus, a bus that is gone or late: the
    /// store is unavailable (so `auto` falls back); anything else is a failure.
    pub(super) fn failure(&self, e: CallError) -> ServiceError {
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
                    _ => ServiceError::Failed(described),
                }
            }
            CallError::Broken(why) => ServiceError::Unavailable(why),
            CallError::Late if !self.connection.registered() => ServiceError::Unavailable(format!(
                "the session bus did not answer within {} s (is dbus-daemon stopped or wedged?)",
                session_bus::CONNECT_TIMEOUT.as_secs()
            )),
            CallError::Late => ServiceError::Unavailable(format!(
                "the Secret Service did not answer within {} s",
                TIMEOUT.as_secs()
            )),
        }
    }

    pub(super) fn session(&mut self) -> Result<String> {
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

    pub(super) fn locked(&mut self, serial: u32) -> Result<bool> {
        let reply = self.wait(serial)?;
        let locked = reply.first().map(Value::unwrap_variant);
        locked.and_then(Value::as_bool).ok_or_else(bad_reply)
    }

    /// The default collection, given the serial of a `Locked` request on
    /// [`DEFAULT_COLLECTION`] already sent.
    pub(super) fn default_collection(&mut self, locked_request: u32) -> Result<Collection> {
        let (path, locked) = match self.locked(locked_request) {
            Ok(locked) => (DEFAULT_COLLECTION.to_owned(), locked),
            // A service without alias paths: read the alias, then ask the collection.
            Err(_) => {
                let reply =
                    self.call(SERVICE_PATH, SERVICE, "ReadAlias", &[Value::str("default")])?;
                let path = reply.first().and_then(path_of).ok_or_else(bad_reply)?;
                if path == "/" {
                    return Err(ServiceError::Unavailable(
                        "there is no default collection".into(),
                    ));
                }
                let serial = self.send(&path, PROPERTIES, "Get", &locked_property())?;
                let locked = self.locked(serial)?;
                (path, locked)
            }
        };
        if locked {
            return Ok(Collection::Locked);
        }
        self.collection_checked = true;
        Ok(Collection::Unlocked(path))
    }

    pub(super) fn unlocked_default_collection(&mut self) -> Result<String> {
        let serial = self.send(DEFAULT_COLLECTION, PROPERTIES, "Get", &locked_property())?;
        match self.default_collection(serial)? {
            Collection::Unlocked(path) => Ok(path),
            Collection::Locked => Err(ServiceError::Locked),
        }
    }

    /// `SearchItems`: the unlocked items and the locked ones (each `ao`).
    pub(super) fn search(&mut self, attributes: Value) -> Result<(Vec<String>, Vec<String>)> {
        let reply = self.call(SERVICE_PATH, SERVICE, "SearchItems", &[attributes])?;
        match (
            reply.first().and_then(paths_of),
            reply.get(1).and_then(paths_of),
        ) {
            (Some(unlocked), Some(locked)) => Ok((unlocked, locked)),
            _ => Err(bad_reply()),
        }
    }

    pub(super) fn find(&mut self, attributes: &[(String, String); 2]) -> Result<Found> {
        let attributes =
            Value::string_dict(attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let (unlocked, locked) = self.search(attributes)?;
        Ok(Found {
            unlocked,
            locked: !locked.is_empty(),
        })
    }

    /// A search found no unlocked item: `Ok` when there is none, an error when it may be
    /// hidden behind a lock.
    pub(super) fn nothing_unlocked(&mut self, found: &Found) -> Result<()> {
        if found.locked {
            return Err(ServiceError::Locked);
        }
        if self.collection_checked {
            return Ok(());
        }
        self.unlocked_default_collection().map(|_| ())
    }
}

/// Connecting: every failure means the Secret Service cannot be used.
fn as_unavailable(e: ServiceError) -> ServiceError {
    match e {
        ServiceError::Failed(reason) => ServiceError::Unavailable(reason),
        ServiceError::Locked => ServiceError::Unavailable("the service is locked".into()),
        unavailable => unavailable,
    }
}
