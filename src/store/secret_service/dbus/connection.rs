//! One private connection to a message bus: authentication, `Hello`, calls and their replies,
//! every wait bounded by a deadline.
//!
//! Calls are written only when a reply is awaited, so everything sent before a wait leaves in
//! one write: the authentication (`AUTH EXTERNAL` and `BEGIN` together, as the specification
//! allows and sd-bus does), `Hello`, and the caller's first calls share one round trip, where
//! libdbus waited for each authentication line and for `Hello` before sending anything else.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::message::{self, Call, Incoming};
use super::value::Value;
use super::writer::put;

const BUS_NAME: &str = "org.freedesktop.DBus";
const BUS_PATH: &str = "/org/freedesktop/DBus";

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
    /// No answer within the deadline. The connection is then given up: no later call waits.
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

pub struct Connection {
    stream: UnixStream,
    /// Calls not yet written (zeroed when dropped: a call may carry a secret).
    outgoing: Zeroizing<Vec<u8>>,
    /// What was read and not yet taken apart (zeroed when dropped: a reply may carry one).
    incoming: Zeroizing<Vec<u8>>,
    /// The bus's `OK` line has been read.
    authenticated: bool,
    next_serial: u32,
    /// Replies that came before they were waited for.
    early: HashMap<u32, Result<Vec<Value>, CallError>>,
    late: bool,
    hello: u32,
}

impl Connection {
    /// Queues authentication as `uid` and `Hello` on a connected socket. Nothing is written
    /// until the first [`Connection::wait`], which also checks both answers.
    pub fn start(stream: UnixStream, uid: u32) -> Connection {
        let hex: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
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
            early: HashMap::new(),
            late: false,
            hello: 0,
        };
        let hello = connection.call_bus("Hello");
        connection.hello = hello;
        connection
    }

    fn call_bus(&mut self, member: &str) -> u32 {
        let serial = self.serial();
        let call = Call::new(BUS_NAME, BUS_PATH, BUS_NAME, member, &[], serial)
            .expect("a constant, valid call");
        put(&mut self.outgoing, &call.bytes);
        serial
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
        Ok(serial)
    }

    /// Writes what is queued, then reads until the reply to `serial` is in, for at most
    /// `timeout`. Replies to other calls are kept for their own wait.
    pub fn wait(&mut self, serial: u32, timeout: Duration) -> Result<Vec<Value>, CallError> {
        if self.late {
            return Err(CallError::Late);
        }
        let deadline = Instant::now() + timeout;
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
            let parsed = message::parse(&self.incoming[..total]);
            // Zero the bytes taken before they leave the buffer.
            zeroize::Zeroize::zeroize(&mut self.incoming[..total]);
            self.incoming.drain(..total);
            took = true;
            match parsed.map_err(|e| CallError::Broken(e.to_string()))? {
                Incoming::Reply { serial, body } => {
                    self.early.insert(serial, Ok(body));
                }
                Incoming::Error {
                    serial,
                    name,
                    message,
                } => {
                    self.early
                        .insert(serial, Err(CallError::Remote { name, message }));
                }
                Incoming::Other => {}
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
