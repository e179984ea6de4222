//! Session buses that fail the way real ones do, for the helper's deadlines: a socket that
//! accepts and never speaks, one that authenticates and then never replies, and a relay to a
//! real bus that kills the bus the moment a given call goes through it.
//!
//! Why stand-ins: a stopped dbus-daemon (`kill -STOP`) is real and tested as such, but "the
//! bus died while the helper waited for GetSecret" needs to know when the helper is waiting,
//! and only something on the wire knows that without a sleep. Each stand-in listens on a unix
//! socket in its own temporary directory and serves each connection from a thread of its own
//! until the client hangs up.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

pub struct WedgedBus {
    dir: tempfile::TempDir,
    stop: Arc<AtomicBool>,
    server: Option<JoinHandle<()>>,
}

/// What the stand-in does with each connection.
#[derive(Clone)]
enum Behaviour {
    /// Accept and never say a word: the client waits for the authentication reply.
    Silent,
    /// Answer the SASL EXTERNAL handshake, then read everything and answer nothing: the
    /// client waits for the reply to `Hello`.
    AuthenticatedSilent,
    /// Answer the SASL handshake, then send `flood` (hostile D-Bus messages), then read
    /// everything and answer nothing more.
    Hostile { flood: Arc<Vec<u8>> },
    /// Pass bytes both ways to `bus`; when the client sends a message naming `member`, run
    /// `kill` (which kills the real bus) before passing it on.
    Relay {
        bus: PathBuf,
        member: &'static str,
        kill: Arc<dyn Fn() + Send + Sync>,
    },
}

impl WedgedBus {
    pub fn silent() -> WedgedBus {
        Self::serve(Behaviour::Silent)
    }

    pub fn authenticated_silent() -> WedgedBus {
        Self::serve(Behaviour::AuthenticatedSilent)
    }

    /// A bus that authenticates the client and then sends it `flood` (messages made with
    /// [`method_return`]), whatever the client asked.
    pub fn hostile(flood: Vec<u8>) -> WedgedBus {
        Self::serve(Behaviour::Hostile {
            flood: Arc::new(flood),
        })
    }

    /// A relay to the bus listening at `bus` (a socket path) that calls `kill` when the client
    /// sends a call whose member is `member` (e.g. `GetSecret`).
    pub fn relay_killing_on(
        bus: PathBuf,
        member: &'static str,
        kill: impl Fn() + Send + Sync + 'static,
    ) -> WedgedBus {
        Self::serve(Behaviour::Relay {
            bus,
            member,
            kill: Arc::new(kill),
        })
    }

    /// The address to give the helper as DBUS_SESSION_BUS_ADDRESS.
    pub fn address(&self) -> String {
        format!("unix:path={}", self.dir.path().join("bus").display())
    }

    fn serve(behaviour: Behaviour) -> WedgedBus {
        let dir = tempfile::Builder::new()
            .prefix("gcb-wedged-bus-")
            .tempdir()
            .expect("tempdir");
        let listener = UnixListener::bind(dir.path().join("bus")).expect("listen");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let server = std::thread::spawn(move || {
            for client in listener.incoming() {
                // Drop connects once after setting `stop`, to end this loop.
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let behaviour = behaviour.clone();
                std::thread::spawn(move || handle(client, behaviour));
            }
        });
        WedgedBus {
            dir,
            stop,
            server: Some(server),
        }
    }
}

impl Drop for WedgedBus {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = UnixStream::connect(self.dir.path().join("bus"));
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

fn handle(client: UnixStream, behaviour: Behaviour) {
    match behaviour {
        // Hold the connection open, unread, until the client goes away.
        Behaviour::Silent => {
            let mut sink = [0u8; 1];
            let _ = (&client).read(&mut sink);
            let _ = std::io::copy(&mut &client, &mut std::io::sink());
        }
        Behaviour::AuthenticatedSilent => {
            if let Some(mut reader) = authenticate(&client) {
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            }
        }
        Behaviour::Hostile { flood } => {
            if let Some(mut reader) = authenticate(&client) {
                let _ = (&client).write_all(&flood);
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            }
        }
        Behaviour::Relay { bus, member, kill } => relay(&client, bus, member, kill),
    }
}

/// The SASL EXTERNAL handshake, as a bus answers it; the reader is then at the first message.
fn authenticate(client: &UnixStream) -> Option<BufReader<&UnixStream>> {
    let mut reader = BufReader::new(client);
    let mut nul = [0u8; 1];
    reader.read_exact(&mut nul).ok()?;
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        let reply: &[u8] = if line.starts_with("AUTH") {
            b"OK 0123456789abcdef0123456789abcdef\r\n"
        } else if line.starts_with("NEGOTIATE_UNIX_FD") {
            b"AGREE_UNIX_FD\r\n"
        } else if line.starts_with("BEGIN") {
            return Some(reader);
        } else {
            b"ERROR\r\n"
        };
        let _ = { client }.write_all(reply);
        line.clear();
    }
    None
}

fn relay(
    client: &UnixStream,
    bus: PathBuf,
    member: &'static str,
    kill: Arc<dyn Fn() + Send + Sync>,
) {
    let Ok(upstream) = UnixStream::connect(&bus) else {
        return;
    };
    let (mut up_read, mut down_write) = (upstream.try_clone().unwrap(), client);
    let down = client.try_clone().unwrap();
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_read, &mut &down);
        let _ = down.shutdown(std::net::Shutdown::Both);
    });
    let mut buffer = [0u8; 4096];
    let mut seen: Vec<u8> = Vec::new();
    let mut killed = false;
    loop {
        let n = match (&*client).read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        seen.extend_from_slice(&buffer[..n]);
        if !killed && seen.windows(member.len()).any(|w| w == member.as_bytes()) {
            killed = true;
            kill();
        }
        if (&upstream).write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    let _ = upstream.shutdown(std::net::Shutdown::Both);
    let _ = down_write.flush();
    let _ = back.join();
}

/// A D-Bus method return (little-endian) answering `reply_serial`, with a body of
/// `signature` already marshalled: what a hostile peer can send whatever it was asked.
pub fn method_return(reply_serial: u32, signature: &str, body: &[u8]) -> Vec<u8> {
    let mut message = vec![b'l', 2, 0, 1];
    message.extend_from_slice(&(body.len() as u32).to_le_bytes());
    message.extend_from_slice(&1u32.to_le_bytes()); // its own serial
    let mut fields = vec![5, 1, b'u', 0];
    fields.extend_from_slice(&reply_serial.to_le_bytes());
    fields.extend_from_slice(&[8, 1, b'g', 0, signature.len() as u8]);
    fields.extend_from_slice(signature.as_bytes());
    fields.push(0);
    message.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    message.extend_from_slice(&fields);
    while message.len() % 8 != 0 {
        message.push(0);
    }
    message.extend_from_slice(body);
    message
}
