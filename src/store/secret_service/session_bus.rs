//! Reaching the session bus: only over a local socket, and never for longer than a deadline.
//!
//! Two rules for a program git waits on:
//!
//! - no wait without a deadline. Connecting has [`CONNECT_TIMEOUT`] (the socket's send
//!   timeout bounds `connect` even when a stopped dbus-daemon's backlog is full), and the
//!   authentication, `Hello` and the first calls are answered within the first reply's
//!   deadline (src/store/secret_service/dbus/connection.rs): a stopped dbus-daemon (`kill -STOP`) or a socket
//!   that accepts and never speaks costs a `get` 2 s, then git prompts and `auto` falls back
//!   to keyutils;
//! - only local sockets. `DBUS_SESSION_BUS_ADDRESS` may name any transport: `unixexec:` would
//!   exec a program of the environment's choosing, `autolaunch:` execs `dbus-launch`, and
//!   `tcp:` would carry our plain (unencrypted) session over a network. Only `unix:path=` and
//!   `unix:abstract=` entries are followed, in order; with the variable unset, only
//!   `$XDG_RUNTIME_DIR/bus`, where a systemd login session puts it.

use std::ffi::OsStr;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType, sockopt};

use super::dbus::Connection;

/// How long connecting may take, and then authenticating with `Hello` and the first call. A
/// healthy connection takes about 1 ms, and under 40 helpers at once on 2 busy cores up to
/// ~100 ms (measured; see docs/security.md): 2 s leaves a wide margin and keeps git's wait
/// short.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A private connection to the session bus, authenticated and registered when its first
/// reply is read, or why there is none.
pub fn connect() -> Result<Connection, String> {
    let address = local_address(
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").as_deref(),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
    )?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut last_error = String::new();
    for entry in address.split(';') {
        // One deadline for all the entries, not one each.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match connect_socket(entry, left) {
            Ok(stream) => {
                return Ok(Connection::start(
                    stream,
                    rustix::process::geteuid().as_raw(),
                ));
            }
            Err(e) => last_error = e,
        }
    }
    Err(format!("cannot connect to the session bus: {last_error}"))
}

/// Connects to one `unix:path=` or `unix:abstract=` entry, within `timeout`.
fn connect_socket(entry: &str, timeout: Duration) -> Result<UnixStream, String> {
    let keys = entry.strip_prefix("unix:").unwrap_or_default();
    let address = keys.split(',').find_map(|pair| {
        if let Some(path) = pair.strip_prefix("path=") {
            Some(unescape(path).and_then(|p| SocketAddrUnix::new(p).map_err(|e| e.to_string())))
        } else {
            let name = pair.strip_prefix("abstract=")?;
            Some(
                unescape(name)
                    .and_then(|n| SocketAddrUnix::new_abstract_name(&n).map_err(|e| e.to_string())),
            )
        }
    });
    let address = address.ok_or("no socket in the address")??;
    let socket = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| e.to_string())?;
    sockopt::set_socket_timeout(&socket, sockopt::Timeout::Send, Some(timeout))
        .map_err(|e| e.to_string())?;
    match rustix::net::connect(&socket, &address) {
        Ok(()) => Ok(UnixStream::from(socket)),
        Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INPROGRESS) => Err(format!(
            "the session bus did not answer within {} s (is dbus-daemon stopped or wedged?)",
            CONNECT_TIMEOUT.as_secs()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// An address value with its `%XX` escapes decoded; a malformed escape is refused, as libdbus
/// refuses it.
fn unescape(value: &str) -> Result<Vec<u8>, String> {
    let decoded = crate::percent::decode(value);
    if decoded.malformed {
        return Err("a bad %-escape in the bus address".into());
    }
    Ok(decoded.bytes.to_vec())
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
        assert_eq!(unescape("/run/user/1%20000").unwrap(), b"/run/user/1 000");
        assert!(unescape("/a%2").is_err());
        assert!(unescape("/a%zz").is_err());
    }
}
