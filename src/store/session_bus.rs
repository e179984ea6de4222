//! Reaching the session bus: only over a local socket, and never for longer than a deadline.
//!
//! libdbus's own way in (`dbus_bus_get_private`) has two flaws for a program git waits on:
//!
//! - it has no deadline. The authentication handshake waits in `pselect` with no timeout and
//!   `Hello` waits 25 s, so a stopped dbus-daemon (`kill -STOP`) or a socket that accepts and
//!   never speaks hung `get`, and git with it, forever. Here the connection is made on a thread
//!   of its own and waited for at most [`CONNECT_TIMEOUT`]; one that is not up by then is
//!   abandoned (the thread ends with the process) and the store is reported unavailable, so
//!   `get` answers the username only and git prompts, and `auto` falls back to keyutils;
//! - it follows any address in `DBUS_SESSION_BUS_ADDRESS`: `unixexec:` makes it exec a program
//!   of the environment's choosing, which inherits our environment (`BITBUCKET_API_TOKEN`
//!   included), `autolaunch:` (libdbus's fallback when the variable is unset) execs
//!   `dbus-launch`, and `tcp:` would carry our plain (unencrypted) session over a network.
//!   Here only `unix:path=` and `unix:abstract=` entries are followed; with the variable unset,
//!   only `$XDG_RUNTIME_DIR/bus`, where a systemd login session puts it.
//!
//! Why a thread rather than our own handshake with socket timeouts: the thread costs about
//! 0.03 ms of a `get` that takes about 3 ms, and libdbus keeps doing the authentication it
//! knows; a hand-written SASL exchange handed over to libdbus mid-stream is not possible.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use dbus::channel::Channel;

/// How long connecting, authenticating and `Hello` may take together. A healthy connection
/// takes about 1 ms, and under 40 helpers at once on 2 busy cores up to ~100 ms (measured; see
/// docs/security.md): 2 s leaves a wide margin and keeps git's wait short.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A private, registered connection to the session bus, or why there is none.
pub fn connect() -> Result<Channel, String> {
    let address = local_address(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").as_deref(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
    )?;
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("session-bus".into())
        .spawn(move || {
            let connected = Channel::open_private(&address).and_then(|mut channel| {
                channel.register()?;
                Ok(channel)
            });
            // The receiver is gone if we stopped waiting: the connection is dropped here.
            let _ = sender.send(connected.map_err(|e| describe(&e)));
        })
        .map_err(|e| format!("cannot start a thread to connect to the session bus: {e}"))?;
    match receiver.recv_timeout(CONNECT_TIMEOUT) {
        Ok(connected) => connected,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "the session bus did not answer within {} s (is dbus-daemon stopped or wedged?)",
            CONNECT_TIMEOUT.as_secs()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err("the session bus connection failed".into())
        }
    }
}

/// The entries of `DBUS_SESSION_BUS_ADDRESS` that are local sockets (`;`-separated, as libdbus
/// tries them in order), or `$XDG_RUNTIME_DIR/bus` when the variable is unset.
fn local_address(
    configured: Option<&OsStr>,
    runtime_dir: Option<PathBuf>,
) -> Result<String, String> {
    let Some(configured) = configured.filter(|a| !a.is_empty()) else {
        let socket = runtime_dir
            .map(|dir| dir.join("bus"))
            .filter(|bus| bus.exists())
            .ok_or("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")?;
        let path = socket.to_str().ok_or("the session bus path is not UTF-8")?;
        return Ok(format!("unix:path={}", escape(path)));
    };
    let configured = configured
        .to_str()
        .ok_or("DBUS_SESSION_BUS_ADDRESS is not UTF-8")?;
    let local: Vec<&str> = configured
        .split(';')
        .filter(|a| is_local_socket(a))
        .collect();
    if local.is_empty() {
        return Err(
            "DBUS_SESSION_BUS_ADDRESS names no unix:path= or unix:abstract= socket \
             (unixexec:, tcp: and the other transports are not followed)"
                .into(),
        );
    }
    Ok(local.join(";"))
}

/// `unix:path=…` or `unix:abstract=…` (with any other keys, such as `guid=`).
fn is_local_socket(address: &str) -> bool {
    let Some(keys) = address.strip_prefix("unix:") else {
        return false;
    };
    keys.split(',')
        .any(|pair| pair.starts_with("path=") || pair.starts_with("abstract="))
}

/// D-Bus address escaping: bytes outside `[-0-9A-Za-z_/.\*]` become `%XX`.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_/.\\*".contains(&byte) {
            escaped.push(byte as char);
        } else {
            escaped.push_str(&format!("%{byte:02X}"));
        }
    }
    escaped
}

pub fn describe(e: &dbus::Error) -> String {
    let name = e.name().unwrap_or("D-Bus error");
    match e.message() {
        Some(message) => format!("{name}: {message}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(configured: &str) -> Result<String, String> {
        local_address(Some(OsStr::new(configured)), None)
    }

    #[test]
    fn only_local_sockets_are_followed() {
        assert_eq!(
            chosen("unix:path=/run/user/1000/bus").as_deref(),
            Ok("unix:path=/run/user/1000/bus")
        );
        assert_eq!(
            chosen("unix:abstract=/tmp/dbus-x,guid=0123").as_deref(),
            Ok("unix:abstract=/tmp/dbus-x,guid=0123")
        );
        for refused in [
            "unixexec:path=/bin/sh,argv1=-c,argv2=env",
            "autolaunch:",
            "tcp:host=example.com,port=1234",
            "unix:runtime=yes",
            "launchd:env=X",
        ] {
            assert!(chosen(refused).is_err(), "{refused}");
        }
        // A list keeps its local entries only, in order.
        assert_eq!(
            chosen("unixexec:path=/bin/sh;unix:path=/a;tcp:host=h;unix:abstract=b").as_deref(),
            Ok("unix:path=/a;unix:abstract=b")
        );
    }

    #[test]
    fn without_an_address_only_the_runtime_dir_socket_is_used() {
        let dir = tempfile::tempdir().unwrap();
        assert!(local_address(None, Some(dir.path().to_owned())).is_err());
        assert!(local_address(None, None).is_err());
        std::fs::write(dir.path().join("bus"), "").unwrap();
        let address = local_address(Some(OsStr::new("")), Some(dir.path().to_owned())).unwrap();
        assert!(address.starts_with("unix:path=/"), "{address}");
        assert!(address.ends_with("/bus"), "{address}");
        assert_eq!(escape("/run/user/1 000"), "/run/user/1%20000");
    }
}
