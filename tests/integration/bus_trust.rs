//! The session bus is not trusted blindly: another local user can leave a socket where the
//! helper looks for its bus (a stale `unix:abstract=` name, a re-created `/tmp/dbus-*` path, a
//! `bus` planted in a shared runtime directory) and would then be handed the token. The helper
//! checks the peer of every socket (`SO_PEERCRED`: this user or root) before it sends a byte,
//! and uses `$XDG_RUNTIME_DIR/bus` only when it is a socket of its own, as libdbus does.
//!
//! Real sockets of a second user: in a user namespace of its own (uids mapped to themselves,
//! so nothing outside is touched), listeners run as uid 1001 and the helper as uid 1000, each
//! under `setpriv`. Each listener records every byte it is sent. The control is a listener
//! run as uid 1000 itself, which the helper does speak to.

use crate::support::helper_bin;
use crate::support::keyrings::run_as_namespace_root;

const LISTENER: &str = r#"
import os, socket, sys
kind, name, out = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX)
s.bind(name if kind == "path" else "\0" + name)
if kind == "path":
    os.chmod(name, 0o777)  # anyone may connect, as an attacker's socket would let them
s.listen(1)
open(out + ".ready", "w").close()
s.settimeout(20)
got = b""
try:
    c, _ = s.accept()
    got = b"(connected)"
    c.settimeout(3)
    while True:
        d = c.recv(4096)
        if not d:
            break
        got += d
except Exception:
    pass
open(out, "wb").write(got)
"#;

const SCRIPT: &str = r#"
set -u
as() { uid=$1; shift; exec setpriv --reuid="$uid" --regid="$uid" --clear-groups -- "$@"; }
as 1001 /usr/bin/python3 "$D/listen.py" path "$D/rogue/bus" "$D/rogue-path.got" &
as 1001 /usr/bin/python3 "$D/listen.py" abstract "$NAME" "$D/rogue-abstract.got" &
as 1000 /usr/bin/python3 "$D/listen.py" path "$D/own/bus" "$D/own.got" &
as 1001 /usr/bin/python3 "$D/listen.py" path "$D/rogue-runtime/bus" "$D/rogue-runtime.got" &
never=$!
for i in $(seq 100); do
  [ -e "$D/rogue-path.got.ready" ] && [ -e "$D/rogue-runtime.got.ready" ] &&
    [ -e "$D/rogue-abstract.got.ready" ] && [ -e "$D/own.got.ready" ] && break
  sleep 0.1
done
helper() { name=$1; shift
  env -i PATH="$PATH" HOME="$D/home" XDG_DATA_HOME="$D/home/data" "$@" \
    setpriv --reuid=1000 --regid=1000 --clear-groups -- \
    "$BIN" --store secret-service get < "$D/get" > "$D/$name.out" 2> "$D/$name.err"; }
helper path DBUS_SESSION_BUS_ADDRESS="unix:path=$D/rogue/bus"
helper abstract DBUS_SESSION_BUS_ADDRESS="unix:abstract=$NAME"
helper runtime XDG_RUNTIME_DIR="$D/rogue-runtime"
helper own DBUS_SESSION_BUS_ADDRESS="unix:path=$D/own/bus"
# The runtime directory's listener is never connected to: stop it; the others end at EOF.
kill "$never" 2>/dev/null
wait
"#;

#[test]
fn a_bus_socket_of_another_user_is_never_spoken_to() {
    if !crate::support::keyrings::root_with(&["setpriv", "unshare", "/usr/bin/python3"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    std::fs::write(d.join("listen.py"), LISTENER).expect("write");
    std::fs::write(d.join("get"), "protocol=https\nhost=bitbucket.org\n\n").expect("write");
    for (sub, uid) in [
        ("rogue", 1001),
        ("rogue-runtime", 1001),
        ("own", 1000),
        ("home", 1000),
    ] {
        std::fs::create_dir(d.join(sub)).expect("mkdir");
        std::os::unix::fs::chown(d.join(sub), Some(uid), Some(uid)).expect("chown");
    }
    // Listeners write their records beside the directories: let both users write there.
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod");
    // Abstract sockets are one namespace per network namespace, which a parallel run (in
    // another PID namespace, with the same pid) may share: named after the random tempdir.
    let name = format!(
        "gcb-rogue-{}",
        d.file_name().expect("a tempdir name").to_string_lossy()
    );
    let done = run_as_namespace_root(
        &[],
        SCRIPT,
        &[
            ("D", d.as_os_str()),
            ("NAME", name.as_ref()),
            ("BIN", helper_bin().as_os_str()),
        ],
        d,
    );
    let read = |file: &str| {
        String::from_utf8_lossy(&std::fs::read(d.join(file)).unwrap_or_default()).into_owned()
    };
    let said = |case: &str| format!("{case}: {}\n{}", read(&format!("{case}.err")), done.stderr);

    // Control: a socket of the helper's own user is spoken to (authentication goes out).
    assert!(read("own.got").contains("AUTH EXTERNAL"), "{}", said("own"));
    for (case, says) in [
        ("path", "served by uid 1001"),
        ("abstract", "served by uid 1001"),
        ("runtime", "not a socket of yours"),
    ] {
        let got = read(&format!("rogue-{case}.got"));
        assert!(
            !got.contains("AUTH"),
            "{case}: the helper spoke to uid 1001's socket: {got:?}"
        );
        assert!(
            read(&format!("{case}.err")).contains(says),
            "{}",
            said(case)
        );
        assert_eq!(
            read(&format!("{case}.out")),
            "username=x-bitbucket-api-token-auth\n",
            "{}",
            said(case)
        );
    }
    // The runtime directory's socket is refused before any connection is made.
    assert_eq!(read("rogue-runtime.got"), "", "{}", said("runtime"));
}
