//! One private connection to a message bus: authentication, `Hello`, calls and their replies,
//! the one signal a caller waits for, every wait bounded by a deadline.
//!
//! Calls are written only when a reply is awaited, so everything sent before a wait leaves in
//! one write: the authentication (`AUTH EXTERNAL` and `BEGIN` together, as the specification
//! allows and sd-bus does), `Hello`, and the caller's first calls share one round trip, where
//! libdbus waited for each authentication line and for `Hello` before sending anything else.
//!
//! What the peer sends is bounded: a reply is kept only for a call we sent and have not yet
//! had answered, a signal only if it is the one awaited (the others are skipped unread), and a
//! message's buffer is sized once to its length rather than doubled as it arrives.

use std::collections::{HashMap, HashSet};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::message::{self, Call, Incoming};
use super::value::Value;
use super::writer::{put, reserve};

const BUS_NAME: &str = "org.freedesktop.DBus";
const BUS_PATH: &str = "/org/freedesktop/DBus";
/// Signals of the awaited kind kept before the caller takes them: a service sends one.
const MAX_SIGNALS: usize = 4;

/// Why a call got no answer.
#[derive(Debug)]
pub enum CallError {
    /// The peer answered with an error.
    Remote {
        name: String,
        message: Option<String>,
    },
    /// The connection is unusable: closed, unreadable, or an answer came too late.
    Broken(String),
    /// No answer before the deadline. The connection is then given up: no later call waits.
    Late,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Remote {
                name,
                message: Some(message),
            } => write!(f, "{name}: {message}"),
            CallError::Remote { name, .. } => f.write_str(name),
            CallError::Broken(why) => f.write_str(why),
            CallError::Late => f.write_str("no answer in time"),
        }
    }
}

/// A signal that came: who sent it (the bus fills this in; a peer cannot forge it), the
/// object it is about, and its values.
#[derive(Debug)]
pub struct Signal {
    pub sender: Option<String>,
    pub path: String,
    pub body: Vec<Value>,
}

/// The one kind of signal a caller waits for: from one object, or (`None`) from any, while
/// the caller does not know yet which object it will be.
struct Awaited {
    path: Option<String>,
    interface: String,
    member: String,
    came: Vec<Signal>,
}

pub struct Connection {
    stream: UnixStream,
    /// Calls not yet written (zeroed when dropped: a call may carry a secret).
    outgoing: Zeroizing<Vec<u8>>,
    /// What was read and not yet taken apart (zeroed when dropped: a reply may carry one).
    incoming: Zeroizing<Vec<u8>>,
    /// The bus's `OK` line has been read.
    authenticated: bool,
    next_serial: u32,
    /// Calls sent and not yet answered: only their replies are kept.
    pending: HashSet<u32>,
    /// Replies that came before they were waited for.
    early: HashMap<u32, Result<Vec<Value>, CallError>>,
    awaited: Option<Awaited>,
    late: bool,
    hello: u32,
}

impl Connection {
    /// Queues authentication as `uid` and `Hello` on a connected socket. Nothing is written
    /// until the first [`Connection::wait`], which also checks both answers.
    pub fn start(stream: UnixStream, uid: u32) -> Connection {
        let hex = crate::hex::encode(uid.to_string().as_bytes());
        let mut outgoing = Zeroizing::new(Vec::with_capacity(1024));
        put(
            &mut outgoing,
            format!("\0AUTH EXTERNAL {hex}\r\nBEGIN\r\n").as_bytes(),
        );
        let mut connection = Connection {
            stream,
            outgoing,
            incoming: Zeroizing::new(Vec::with_capacity(4096)),
            authenticated: false,
            next_serial: 1,
            pending: HashSet::new(),
            early: HashMap::new(),
            awaited: None,
            late: false,
            hello: 0,
        };
        connection.hello = connection
            .send_to_bus("Hello", &[])
            .expect("a new connection is not late");
        connection
    }

    fn serial(&mut self) -> u32 {
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1).max(1);
        serial
    }

    /// The bus has answered `Hello`: a late reply after this is the peer's, not the bus's.
    pub fn registered(&self) -> bool {
        self.hello == 0
    }

    /// Queues a method call; its serial is what [`Connection::wait`] takes.
    pub fn send(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<u32, CallError> {
        if self.late {
            return Err(CallError::Late);
        }
        let serial = self.serial();
        let call = Call::new(destination, path, interface, member, args, serial)
            .map_err(|e| CallError::Broken(e.to_string()))?;
        put(&mut self.outgoing, &call.bytes);
        self.pending.insert(serial);
        Ok(serial)
    }

    /// Writes what is queued now, without waiting for any reply: the peer works on it while
    /// the caller does something else.
    pub fn send_queued(&mut self, deadline: Instant) -> Result<(), CallError> {
        if self.late {
            return Err(CallError::Late);
        }
        self.flush(deadline)
    }

    /// Queues a call to the bus itself (`Hello`, `AddMatch`, `GetNameOwner`, ...).
    pub fn send_to_bus(&mut self, member: &str, args: &[Value]) -> Result<u32, CallError> {
        self.send(BUS_NAME, BUS_PATH, BUS_NAME, member, args)
    }

    /// Writes what is queued, then reads until the reply to `serial` is in, until `deadline`.
    /// Replies to other calls are kept for their own wait. A deadline that passes gives the
    /// connection up: the peer is wedged, and nothing waits on it again.
    pub fn wait(&mut self, serial: u32, deadline: Instant) -> Result<Vec<Value>, CallError> {
        if self.late {
            return Err(CallError::Late);
        }
        let result = self.wait_until(serial, deadline);
        if matches!(result, Err(CallError::Late)) {
            self.late = true;
        }
        result
    }

    fn wait_until(&mut self, serial: u32, deadline: Instant) -> Result<Vec<Value>, CallError> {
        self.flush(deadline)?;
        loop {
            if let Some(answer) = self.early.remove(&serial) {
                return answer;
            }
            if !self.take_messages()? {
                self.read_more(deadline)?;
            }
        }
    }

    /// From now on, keeps the signal `member` of `interface` sent on `path`, or on any object
    /// while `path` is `None` (at most [`MAX_SIGNALS`]); every other signal is still skipped
    /// unread. A broadcast signal comes only once the caller asked the bus with `AddMatch`; a
    /// service may also send it to this connection alone.
    pub fn await_signal(&mut self, path: Option<&str>, interface: &str, member: &str) {
        match self.awaited.as_mut() {
            // Narrowed to one object: what already came from it is kept (a service may send
            // its signal before the caller learns the object, as KWallet completes a prompt
            // at once when another client's prompt opened the wallet).
            Some(awaited) if awaited.interface == interface && awaited.member == member => {
                awaited.path = path.map(str::to_owned);
                awaited.came.retain(|s| path.is_none_or(|p| s.path == p));
            }
            _ => {
                self.awaited = Some(Awaited {
                    path: path.map(str::to_owned),
                    interface: interface.to_owned(),
                    member: member.to_owned(),
                    came: Vec::new(),
                });
            }
        }
    }

    /// The awaited signal, once it comes; `Ok(None)` when `deadline` passes first. A person
    /// who does not answer a dialog is not a wedged bus, so the connection stays usable.
    pub fn wait_signal(&mut self, deadline: Instant) -> Result<Option<Signal>, CallError> {
        if self.late {
            return Err(CallError::Late);
        }
        self.flush(deadline)?;
        loop {
            if let Some(awaited) = self.awaited.as_mut()
                && !awaited.came.is_empty()
            {
                return Ok(Some(awaited.came.remove(0)));
            }
            if !self.take_messages()? {
                match self.read_more(deadline) {
                    Err(CallError::Late) => return Ok(None),
                    other => other?,
                }
            }
        }
    }

    fn flush(&mut self, deadline: Instant) -> Result<(), CallError> {
        while !self.outgoing.is_empty() {
            let left = remaining(deadline)?;
            self.stream
                .set_write_timeout(Some(left))
                .map_err(|e| broken("cannot set a write deadline", &e))?;
            match self.stream.write(&self.outgoing) {
                Ok(0) => return Err(CallError::Broken("the bus closed the connection".into())),
                Ok(written) => {
                    self.outgoing.drain(..written);
                }
                Err(e) if timed_out(&e) => return Err(CallError::Late),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(broken("cannot write to the bus", &e)),
            }
        }
        Ok(())
    }

    fn read_more(&mut self, deadline: Instant) -> Result<(), CallError> {
        let left = remaining(deadline)?;
        self.stream
            .set_read_timeout(Some(left))
            .map_err(|e| broken("cannot set a read deadline", &e))?;
        // A message whose length is known gets a buffer of exactly that size, once.
        if self.authenticated
            && let Ok(Some(total)) = message::total_length(&self.incoming)
        {
            reserve(&mut self.incoming, total);
        }
        let mut chunk = Zeroizing::new([0u8; 4096]);
        loop {
            match self.stream.read(&mut chunk[..]) {
                Ok(0) => return Err(CallError::Broken("the bus closed the connection".into())),
                Ok(n) => {
                    put(&mut self.incoming, &chunk[..n]);
                    return Ok(());
                }
                Err(e) if timed_out(&e) => return Err(CallError::Late),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(broken("cannot read from the bus", &e)),
            }
        }
    }

    /// Takes apart everything complete in `incoming`; false if it needs more bytes first.
    fn take_messages(&mut self) -> Result<bool, CallError> {
        if !self.authenticated {
            return self.take_auth_line();
        }
        let mut took = false;
        loop {
            let total = message::total_length(&self.incoming)
                .map_err(|e| CallError::Broken(e.to_string()))?;
            let Some(total) = total.filter(|&t| t <= self.incoming.len()) else {
                return Ok(took);
            };
            let awaited = &self.awaited;
            let wanted = |path: &str, interface: &str, member: &str| {
                awaited.as_ref().is_some_and(|a| {
                    a.came.len() < MAX_SIGNALS
                        && a.path.as_deref().is_none_or(|p| p == path)
                        && a.interface == interface
                        && a.member == member
                })
            };
            let parsed = message::parse(&self.incoming[..total], &wanted);
            // Zero the bytes taken before they leave the buffer.
            zeroize::Zeroize::zeroize(&mut self.incoming[..total]);
            self.incoming.drain(..total);
            took = true;
            match parsed.map_err(|e| CallError::Broken(e.to_string()))? {
                Incoming::Reply { serial, body } if self.pending.remove(&serial) => {
                    self.early.insert(serial, Ok(body));
                }
                Incoming::Error {
                    serial,
                    name,
                    message,
                } if self.pending.remove(&serial) => {
                    self.early
                        .insert(serial, Err(CallError::Remote { name, message }));
                }
                Incoming::Signal { sender, path, body } => {
                    if let Some(awaited) = self.awaited.as_mut() {
                        awaited.came.push(Signal { sender, path, body });
                    }
                }
                // A reply to nothing we asked (or asked and had answered) is dropped.
                _ => {}
            }
            if let Some(hello) = self.early.remove(&self.hello) {
                hello.map_err(|e| CallError::Broken(format!("the bus refused Hello: {e}")))?;
                self.hello = 0;
            }
        }
    }

    /// The bus's answer to `AUTH EXTERNAL`: `OK <guid>` or a refusal.
    fn take_auth_line(&mut self) -> Result<bool, CallError> {
        let Some(end) = self.incoming.windows(2).position(|w| w == b"\r\n") else {
            if self.incoming.len() > 512 {
                return Err(CallError::Broken("the bus's greeting is too long".into()));
            }
            return Ok(false);
        };
        if !self.incoming.starts_with(b"OK ") {
            let line = String::from_utf8_lossy(&self.incoming[..end]).into_owned();
            return Err(CallError::Broken(format!(
                "the bus refused authentication as this user ({line})"
            )));
        }
        self.incoming.drain(..end + 2);
        self.authenticated = true;
        Ok(true)
    }
}

fn remaining(deadline: Instant) -> Result<Duration, CallError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(CallError::Late);
    }
    Ok(left)
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn broken(what: &str, e: &std::io::Error) -> CallError {
    CallError::Broken(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as a bus would send it: a reply to `reply_serial`, or a signal on `path` from
    /// `sender`, with `body`.
    fn message(reply_serial: Option<u32>, signal: Option<(&str, &str)>, body: &[Value]) -> Vec<u8> {
        let mut fields = Vec::new();
        if let Some(serial) = reply_serial {
            fields.push((5, Value::Uint32(serial)));
        }
        if let Some((path, sender)) = signal {
            fields.push((1, Value::path(path)));
            fields.push((2, Value::str("org.freedesktop.Secret.Prompt")));
            fields.push((3, Value::str("Completed")));
            fields.push((7, Value::str(sender)));
        }
        let kind = if signal.is_some() { 4 } else { 2 };
        super::super::message::incoming(kind, fields, body)
    }

    /// A connection to a bus played by `bus`, after it answered authentication and `Hello`.
    fn connected(bus: impl FnOnce(UnixStream) + Send + 'static) -> Connection {
        let (ours, theirs) = UnixStream::pair().unwrap();
        std::thread::spawn(move || {
            // Byte by byte up to BEGIN, so the calls after it stay unread for `bus`.
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while !seen.ends_with(b"BEGIN\r\n") {
                (&theirs).read_exact(&mut byte).unwrap();
                seen.push(byte[0]);
            }
            (&theirs).write_all(b"OK 0123456789abcdef0123456789abcdef\r\n").unwrap();
            (&theirs)
                .write_all(&message(Some(1), None, &[Value::str(":1.9")]))
                .unwrap();
            bus(theirs);
        });
        Connection::start(ours, 0)
    }

    #[test]
    fn replies_to_calls_never_sent_are_dropped_not_kept() {
        let mut connection = connected(|bus| {
            for serial in 1000..3000 {
                let _ = (&bus).write_all(&message(Some(serial), None, &[Value::str("x")]));
            }
            let _ = (&bus).write_all(&message(Some(2), None, &[Value::str("ours")]));
            std::thread::sleep(Duration::from_secs(5));
        });
        let serial = connection.send("d", "/p", "i", "m", &[]).unwrap();
        assert_eq!(serial, 2);
        let deadline = Instant::now() + Duration::from_secs(30);
        let reply = connection.wait(serial, deadline).unwrap();
        assert_eq!(reply, [Value::str("ours")]);
        assert!(connection.early.is_empty(), "{} replies kept", connection.early.len());
    }

    #[test]
    fn one_deadline_bounds_every_call_it_covers() {
        // A bus that answers each call 700 ms after it came.
        let slow = |bus: UnixStream| {
            let mut serial = 2;
            let mut chunk = [0u8; 4096];
            while (&bus).read(&mut chunk).is_ok_and(|n| n > 0) {
                std::thread::sleep(Duration::from_millis(700));
                let _ = (&bus).write_all(&message(Some(serial), None, &[]));
                serial += 1;
            }
        };
        // Control: a deadline of 2 s for each call, and all four are answered.
        let mut connection = connected(slow);
        for _ in 0..4 {
            let serial = connection.send("d", "/p", "i", "m", &[]).unwrap();
            let deadline = Instant::now() + Duration::from_secs(2);
            connection.wait(serial, deadline).expect("each answered in time");
        }
        // One deadline of 2 s for the four: they cannot all be answered (2.8 s of answers).
        let mut connection = connected(slow);
        let deadline = Instant::now() + Duration::from_secs(2);
        let answered = (0..4)
            .map(|_| {
                let serial = connection.send("d", "/p", "i", "m", &[])?;
                connection.wait(serial, deadline)
            })
            .filter(Result::is_ok)
            .count();
        assert!(answered < 4, "the calls outlived their deadline");
    }

    #[test]
    fn a_signal_is_kept_only_while_awaited_with_who_sent_it() {
        let path = "/org/freedesktop/secrets/prompt/u1";
        let mut connection = connected(move |bus| {
            let signal = |sender| message(None, Some((path, sender)), &[Value::Bool(false)]);
            // Before anyone waits for it: skipped.
            let _ = (&bus).write_all(&signal(":1.early"));
            let _ = (&bus).write_all(&message(Some(2), None, &[]));
            // Wait for the second call, sent once the signal is awaited.
            let (mut seen, mut chunk) = (Vec::new(), [0u8; 4096]);
            while !seen.windows(6).any(|w| w == b"second") {
                match (&bus).read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = (&bus).write_all(&signal(":1.service"));
            let _ = (&bus).write_all(&message(Some(3), None, &[]));
            std::thread::sleep(Duration::from_secs(5));
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let first = connection.send("d", "/p", "i", "m", &[]).unwrap();
        connection.wait(first, deadline).unwrap();
        connection.await_signal(Some(path), "org.freedesktop.Secret.Prompt", "Completed");
        let second = connection.send("d", "/p", "i", "second", &[]).unwrap();
        connection.wait(second, deadline).unwrap();
        let signal = connection.wait_signal(deadline).unwrap().expect("the signal");
        assert_eq!(signal.sender.as_deref(), Some(":1.service"));
        assert_eq!(signal.body, [Value::Bool(false)]);
        // Nothing more comes: the wait ends at its deadline, and the connection stays usable.
        let soon = Instant::now() + Duration::from_millis(200);
        assert!(connection.wait_signal(soon).unwrap().is_none());
        assert!(!connection.late);
    }

    #[test]
    fn a_signal_sent_before_its_object_is_known_is_kept_when_narrowed_to_it() {
        let ours = "/org/freedesktop/secrets/prompt/p2";
        let other = "/org/freedesktop/secrets/prompt/p1";
        let mut connection = connected(move |bus| {
            let signal = |path| message(None, Some((path, ":1.service")), &[Value::Bool(false)]);
            // The reply names the prompt; its signal, and another prompt's, come right after.
            let _ = (&bus).write_all(&message(Some(2), None, &[]));
            let _ = (&bus).write_all(&signal(other));
            let _ = (&bus).write_all(&signal(ours));
            std::thread::sleep(Duration::from_secs(5));
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        connection.await_signal(None, "org.freedesktop.Secret.Prompt", "Completed");
        let first = connection.send("d", "/p", "i", "Unlock", &[]).unwrap();
        connection.wait(first, deadline).unwrap();
        // Both signals are read before the caller learns which prompt is its own.
        while connection.awaited.as_ref().unwrap().came.len() < 2 {
            if !connection.take_messages().unwrap() {
                connection.read_more(deadline).unwrap();
            }
        }
        connection.await_signal(Some(ours), "org.freedesktop.Secret.Prompt", "Completed");
        let signal = connection.wait_signal(Instant::now()).unwrap().expect("kept");
        assert_eq!(signal.path, ours);
        let soon = Instant::now() + Duration::from_millis(200);
        assert!(
            connection.wait_signal(soon).unwrap().is_none(),
            "the other prompt's is dropped"
        );
    }
}
