//! A small D-Bus client of our own: just what the Secret Service store needs.
//!
//! Why not libdbus (as before) or zbus: `get` runs on every fetch and push, and most of a
//! Secret Service `get` was waiting for answers one at a time. libdbus sends each
//! authentication line and `Hello` and waits for its answer before anything else goes out;
//! this client sends authentication, `Hello` and the first calls in one write (the D-Bus
//! specification allows a client to pipeline them; sd-bus does), so connecting costs no round
//! trip of its own (docs/performance.md). It also drops a vendored C library from the build,
//! and every buffer that may hold a secret is zeroed when dropped.
//!
//! What it covers: method calls and their replies or errors over a Unix socket, `EXTERNAL`
//! authentication, the whole marshalling format (a reply is read by its signature, whatever
//! the service sends). What it does not: being called (signals and calls to us are read and
//! dropped), file descriptors, other transports (src/store/secret_service/session_bus.rs follows local
//! sockets only).

mod connection;
mod message;
mod value;
mod wire;
mod writer;

pub use connection::{CallError, Connection, Signal};
pub use value::Value;
pub use wire::valid_object_path;
