//! The structure behind the helper's speed, which git pays on every fetch and push. Timings
//! stay out of the tests (test machines are too noisy; bench/run.sh measures them): these
//! check what the time depends on.
//!
//! - A host we do not serve costs no store: not even a connection to the session bus.
//! - A `get` on the Secret Service is three calls to the service: a read of its `Collections`
//!   property (so that gnome-keyring has registered us before a call that needs it;
//!   src/store/secret_service/bus.rs, `greet`), `OpenSession`, then `GetSecret` of the
//!   remembered item (src/store/secret_service/item_paths.rs): no search, whose cost grows with the keychain.
//!   Without the hint, a `SearchItems` comes before `GetSecret`. A `store` of the token already
//!   stored is the same three calls and no write.
//! - A `store` of the token already in the file store leaves the file as it was.
//!
//! How far each file-store operation reads its files is in `file_reads.rs`.

use std::io::{BufRead, BufReader, ErrorKind};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::support::{
    KeyutilsSession, Output, SecretServiceSession, TestEnv, fake_api_token, skip_or_panic,
};

const GET_GITHUB: &str = "protocol=https\nhost=github.com\n\n";
const GET_BITBUCKET: &str = "protocol=https\nhost=bitbucket.org\n\n";

fn store_request(token: &str) -> String {
    format!(
        "protocol=https\nhost=bitbucket.org\nusername=x-bitbucket-api-token-auth\n\
         password={token}\n\n"
    )
}

#[test]
fn a_host_we_do_not_serve_opens_no_store_and_no_bus_connection() {
    // `auto` and `keyutils` would reach a keyring if the helper opened one: a session of the
    // test's own, never the user's persistent keyring.
    let Some(keyutils) = KeyutilsSession::new_or_skip() else {
        return;
    };
    let mut env = TestEnv::new();
    env.use_keyutils(&keyutils);
    let socket = env.home().join("bus");
    let listener = UnixListener::bind(&socket).expect("listen on a stand-in session bus");
    listener.set_nonblocking(true).unwrap();
    env.set_env(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", socket.display()),
    );
    for store in ["auto", "secret-service", "keyutils", "file"] {
        let out = env.run_helper(&["--store", store, "get"], GET_GITHUB);
        out.assert_success();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "the helper connected to the session bus for a host it does not serve"
    );
    assert!(
        !env.home()
            .join(".local/share/git-credential-bitbucket")
            .exists(),
        "the file store was touched"
    );

    // Control: a served host does connect (the bus then hangs up, so the store is unavailable).
    let acceptor = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match listener.accept() {
                Ok(_) => return true, // the connection is dropped at once
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
    });
    let out = env.run_helper(&["--store", "secret-service", "get"], GET_BITBUCKET);
    assert!(
        acceptor.join().unwrap(),
        "a served host never reached the bus"
    );
    out.assert_success();
    assert!(out.stderr.contains("not available"), "{out:?}");
}

#[test]
fn a_secret_service_get_is_three_calls_with_no_search_and_storing_the_same_token_writes_nothing() {
    let Some(session) = SecretServiceSession::start_or_skip() else {
        return;
    };
    let mut env = TestEnv::new();
    env.use_secret_service(&session);
    let token = fake_api_token();
    let helper = |operation: &str, input: &str| {
        let out = env.run_helper(&["--store", "secret-service", operation], input);
        out.assert_success();
        out
    };
    // Typed at git's prompt: the get that answered without a password, then the store.
    assert_eq!(helper("get", GET_BITBUCKET).password(), None);
    helper("store", &store_request(&token));
    let Some(mut monitor) = CallMonitor::start(&session) else {
        return;
    };

    let mut answer = None;
    let calls = monitor.calls_during(|| answer = Some(helper("get", GET_BITBUCKET)));
    let answer = answer.unwrap();
    assert!(
        answer
            .stdout
            .lines()
            .any(|l| l == format!("password={token}")),
        "get did not answer the stored token"
    );
    let get = [
        "org.freedesktop.DBus.Properties.Get",
        "org.freedesktop.Secret.Service.OpenSession",
        "org.freedesktop.Secret.Item.GetSecret",
    ];
    assert_eq!(calls, get, "the calls of one get");

    // Without the remembered path: the collections' locks read together (a locked one is
    // never searched: KeePassXC would hold the search), one search, which remembers the path.
    let hints = env
        .home()
        .join(".local/share/git-credential-bitbucket/secret-service-items");
    std::fs::remove_dir_all(&hints).expect("the store remembered where the item is");
    let calls = monitor.calls_during(|| {
        let out = helper("get", GET_BITBUCKET);
        assert_eq!(out.password(), Some(token.clone()));
    });
    // gnome-keyring here has two collections, `login` and `session`.
    let searched = [
        "org.freedesktop.DBus.Properties.Get",
        "org.freedesktop.Secret.Service.OpenSession",
        "org.freedesktop.DBus.Properties.Get",
        "org.freedesktop.DBus.Properties.Get",
        "org.freedesktop.Secret.Service.SearchItems",
        "org.freedesktop.Secret.Item.GetSecret",
    ];
    assert_eq!(calls, searched, "a get without the hint");
    let calls = monitor.calls_during(|| {
        helper("get", GET_BITBUCKET);
    });
    assert_eq!(calls, get, "the hint is back");

    let calls = monitor.calls_during(|| {
        let out = helper("store", &store_request(&token));
        assert_eq!(out.stderr, "");
    });
    assert_eq!(
        calls, get,
        "storing the token already there must only read it"
    );

    let calls = monitor.calls_during(|| {
        helper("get", GET_GITHUB);
    });
    assert_eq!(calls, [] as [&str; 0], "a host we do not serve");
}

#[test]
fn storing_the_token_already_in_the_file_store_leaves_the_file_untouched() {
    let env = TestEnv::new();
    let token = fake_api_token();
    let store = |input: &str| {
        let out = env.run_helper(&["--store", "file", "store"], input);
        out.assert_success();
        out
    };
    env.typed(&["--store", "file"], GET_BITBUCKET, &token);
    let dir = env.home().join(".local/share/git-credential-bitbucket");
    let snapshot = || {
        let file = std::fs::metadata(dir.join("tokens")).expect("the token file");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        let times = (
            file.mtime(),
            file.mtime_nsec(),
            file.ctime(),
            file.ctime_nsec(),
        );
        (file.ino(), file.len(), times, names)
    };
    let before = snapshot();
    std::thread::sleep(Duration::from_millis(20)); // a rewrite would show in the times
    let out = store(&store_request(&token));
    assert_eq!(out.stderr, "", "no write, so no plaintext warning");
    assert_eq!(
        snapshot(),
        before,
        "the token file or its directory changed"
    );

    // Control: a different token is written (a new file renamed over the old one).
    env.run_helper(&["--store", "file", "login", "--stdin"], &fake_api_token())
        .assert_success();
    assert_ne!(snapshot().0, before.0, "a changed token replaces the file");
}

/// `dbus-monitor` on a private session bus, reporting the method calls sent to the Secret
/// Service as `interface.member`. Windows between calls are delimited by marker calls (a
/// `Peer.Ping` to a path of our own), so nothing is missed or counted twice.
struct CallMonitor<'a> {
    session: &'a SecretServiceSession,
    child: Child,
    lines: Receiver<String>,
    markers: usize,
}

const MARKER_PATH: &str = "/gcb/test/marker/";

impl<'a> CallMonitor<'a> {
    fn start(session: &'a SecretServiceSession) -> Option<CallMonitor<'a>> {
        let spawned = session
            .command("dbus-monitor")
            .args([
                "--session",
                "--monitor",
                "type='method_call',destination='org.freedesktop.secrets'",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                skip_or_panic("dbus-monitor", &e.to_string());
                return None;
            }
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("method call ") && send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut monitor = CallMonitor {
            session,
            child,
            lines,
            markers: 0,
        };
        monitor.mark(); // the monitor is listening once it sees a marker
        Some(monitor)
    }

    /// Runs `run` and returns the calls to the Secret Service made meanwhile.
    fn calls_during(&mut self, run: impl FnOnce()) -> Vec<String> {
        run();
        self.mark()
    }

    /// Sends a marker (again and again until the monitor sees it) and returns the calls seen
    /// since the previous marker.
    fn mark(&mut self) -> Vec<String> {
        self.markers += 1;
        let marker = format!("{MARKER_PATH}{}", self.markers);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut calls = Vec::new();
        loop {
            assert!(Instant::now() < deadline, "dbus-monitor never saw {marker}");
            let mut ping = self.session.command("dbus-send");
            ping.args([
                "--session",
                "--type=method_call",
                "--dest=org.freedesktop.secrets",
                &marker,
                "org.freedesktop.DBus.Peer.Ping",
            ]);
            Output::run(&mut ping, "").assert_success();
            while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                let field = |name: &str| {
                    line.split([' ', ';'])
                        .find_map(|f| f.strip_prefix(name))
                        .unwrap_or("")
                        .to_owned()
                };
                let path = field("path=");
                if path == marker {
                    return calls;
                }
                if !path.starts_with(MARKER_PATH) {
                    calls.push(format!("{}.{}", field("interface="), field("member=")));
                }
            }
        }
    }
}

impl Drop for CallMonitor<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
