//! A session bus that stops answering never hangs git. git waits for the helper on every
//! fetch and push; libdbus, which the helper used before its own client, had no deadline on
//! connecting (src/store/secret_service/session_bus.rs). Here, through real `git clone`: a stopped
//! dbus-daemon, a socket that accepts and never speaks, one that authenticates and never
//! replies, and a bus killed while the helper waits for `GetSecret`. Each time the helper
//! gives up within its bound (2 s to connect, 2 s per reply, and no wait at all once one reply
//! was late, so about 2 s for each of git's `get` and `store`), says why on stderr, git
//! prompts and the clone succeeds, and the token stored before is still there afterwards.
//!
//! No timing is asserted: git runs under `timeout`, far beyond the helper's bound, so that a
//! hang fails the test instead of hanging the suite.

use std::os::unix::net::UnixStream;
use std::process::Command;

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{
    Output, SecretServiceSession, TestEnv, WedgedBus, fake_api_token, helper_bin, skip_or_panic,
};

/// Seconds after which git is killed: only a hang gets there.
const HANG_SECONDS: &str = "30";

/// `git clone` of the rig's repository, killed if it is still running after HANG_SECONDS.
fn clone_or_kill(rig: &Rig) -> Output {
    let mut cmd = rig.env.command("timeout");
    cmd.args(["-s", "KILL", HANG_SECONDS, "git", "clone", "-q"])
        .arg(rig.server.url("ws/repo.git"))
        .arg("clone");
    let out = Output::run(&mut cmd, "");
    rig.assert_no_leak(&out, false);
    // `timeout -s KILL` kills its own process group, itself included: no exit code then.
    assert!(
        out.status.code().is_some_and(|code| code != 128 + 9),
        "git was still waiting after {HANG_SECONDS} s: {out:?}"
    );
    out
}

/// git prompted once, cloned, and the helper said `why` on stderr.
#[track_caller]
fn assert_prompted_and_cloned(rig: &Rig, out: &Output, why: &str) {
    out.assert_success();
    assert_eq!(rig.env.prompt_count(), 1, "{:?}", rig.env.prompts());
    assert!(
        out.stderr.contains(why),
        "stderr should say {why:?}: {out:?}"
    );
    assert!(!out.stderr.contains("panicked"), "{out:?}");
}

/// A Secret Service rig on a private session, with a token (not the one the server accepts)
/// stored through the helper before the fault, and the accepted one answered at the prompt.
fn rig_on_private_session() -> Option<(Rig, String)> {
    let mut rig = Rig::private(StoreUnderTest::SecretService)?;
    let stored = rig.secret(fake_api_token());
    rig.typed("", &stored);
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()), "control");
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    Some((rig, stored))
}

fn signal(signal: &str, pid: u32) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} {pid}");
}

#[test]
fn a_stopped_session_bus_means_a_prompt_and_the_stored_token_survives() {
    let Some((rig, stored)) = rig_on_private_session() else {
        return;
    };
    signal("-STOP", rig.session().dbus_pid());
    let out = clone_or_kill(&rig);
    signal("-CONT", rig.session().dbus_pid());
    assert_prompted_and_cloned(&rig, &out, "the session bus did not answer within 2 s");
    assert!(out.stderr.contains("not saved"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()));
}

/// A clone with the Secret Service store behind `bus` prompts once and succeeds.
fn clone_prompts_through(bus: &WedgedBus) {
    let mut rig = Rig::on_bus(&bus.address());
    rig.will_answer(Some(&rig.token.clone()));
    let out = clone_or_kill(&rig);
    assert_prompted_and_cloned(&rig, &out, "the session bus did not answer within 2 s");
}

#[test]
fn a_bus_that_accepts_and_never_speaks_means_a_prompt() {
    clone_prompts_through(&WedgedBus::silent());
}

#[test]
fn a_bus_that_authenticates_and_never_replies_means_a_prompt_and_auto_uses_keyutils() {
    let bus = WedgedBus::authenticated_silent();
    clone_prompts_through(&bus);

    // `auto` takes the wedged bus for a missing one and keeps the token in keyutils.
    let Some(mut keyutils) = Rig::new(StoreUnderTest::Keyutils) else {
        return;
    };
    keyutils
        .env
        .set_env("DBUS_SESSION_BUS_ADDRESS", bus.address());
    let token = keyutils.token.clone();
    let host = keyutils.server.host();
    let auto = |operation: &str, input: &str| {
        let out = keyutils
            .env
            .run_helper(&["--store", "auto", "--host", &host, operation], input);
        keyutils.assert_no_leak(&out, operation == "get");
        out.assert_success();
        out
    };
    assert_eq!(
        auto("get", &keyutils.request("")).password(),
        None,
        "git prompts"
    );
    let stored = auto("store", &keyutils.request(&format!("password={token}")));
    assert!(stored.stderr.contains("kernel keyring"), "{stored:?}");
    assert_eq!(auto("get", &keyutils.request("")).password(), Some(token));
}

#[test]
fn a_bus_killed_while_the_helper_waits_for_the_secret_means_a_prompt_and_the_token_survives() {
    let Some((mut rig, stored)) = rig_on_private_session() else {
        return;
    };
    let dbus = rig.session().dbus_pid();
    let relay = WedgedBus::relay_killing_on(rig.session().bus_socket(), "GetSecret", move || {
        signal("-KILL", dbus)
    });
    rig.env.set_env("DBUS_SESSION_BUS_ADDRESS", relay.address());
    let out = clone_or_kill(&rig);
    assert_prompted_and_cloned(&rig, &out, "secret-service store");
    assert!(out.stderr.contains("not saved"), "{out:?}");

    // A new bus and keyring daemon on the same files: the token is still there.
    drop(relay);
    rig.restart_session();
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()));
}

/// A session bus with no Secret Service on it (a server's user bus, say) says so at once, and
/// the helper leaves it then (it used to wait 2 s more, for the reply to a call it never
/// sent). Watched with `strace`, not timed: the last read from the bus must be the one that
/// brought the answer, not one that waited in vain.
#[test]
fn a_bus_without_a_secret_service_is_left_as_soon_as_it_says_so() {
    let Some(session) = SecretServiceSession::start_or_skip() else {
        return;
    };
    session.kill_keyring();
    let mut env = TestEnv::new();
    env.use_secret_service(&session);
    let log = env.home().join("strace.log");
    let out = Output::run(
        env.command("strace")
            .args(["-qq", "-e", "trace=connect,read,recvfrom,close", "-o"])
            .arg(&log)
            .arg(helper_bin())
            .args(["--store", "secret-service", "get"]),
        "protocol=https\nhost=bitbucket.org\n\n",
    );
    if out.stderr.contains("strace") && !out.success() {
        skip_or_panic("strace", &out.stderr);
        return;
    }
    out.assert_success();
    // Control: the bus did answer, and said there is no Secret Service.
    assert!(
        out.stderr.contains("no Secret Service on the session bus"),
        "{out:?}"
    );
    let log = std::fs::read_to_string(&log).unwrap();
    let socket = session.bus_socket().display().to_string();
    let connected = log
        .lines()
        .find(|line| line.starts_with("connect(") && line.contains(&socket))
        .unwrap_or_else(|| panic!("no connection to the bus: {log}"));
    let fd = connected["connect(".len()..].split(',').next().unwrap();
    let reads: Vec<&str> = log
        .lines()
        .skip_while(|line| *line != connected)
        .take_while(|line| !line.starts_with(&format!("close({fd})")))
        .filter(|line| {
            line.starts_with(&format!("read({fd},")) || line.starts_with(&format!("recvfrom({fd},"))
        })
        .collect();
    let last = reads.last().unwrap_or_else(|| panic!("no read: {log}"));
    let returned = last.rsplit_once(" = ").map(|(_, returned)| returned);
    assert!(
        returned
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n > 0),
        "the helper waited on the bus after its answer: {reads:#?}"
    );
}

/// A bus address listing several sockets that never accept (a stopped dbus-daemon whose listen
/// queue is full) costs one connect deadline in all, not one per entry (it cost 2 s each).
/// `timeout` is only a hang detector: 20 entries at 2 s each would pass it.
#[test]
fn many_sockets_that_never_accept_cost_one_connect_deadline_in_all() {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketType};
    let mut env = TestEnv::new();
    let path = env.home().join("bus");
    let listener = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
    rustix::net::bind(&listener, &SocketAddrUnix::new(&path).unwrap()).unwrap();
    rustix::net::listen(&listener, 0).unwrap();
    // Never accepted: it fills the queue, so the next connect waits.
    let _queued = UnixStream::connect(&path).unwrap();
    let entry = format!("unix:path={}", path.display());
    env.set_env("DBUS_SESSION_BUS_ADDRESS", vec![entry; 20].join(";"));
    let mut cmd = env.command("timeout");
    cmd.args(["-s", "KILL", HANG_SECONDS])
        .arg(helper_bin())
        .args(["--store", "secret-service", "get"]);
    let out = Output::run(&mut cmd, "protocol=https\nhost=bitbucket.org\n\n");
    assert!(
        out.status.code().is_some_and(|code| code != 128 + 9),
        "the helper was still connecting after {HANG_SECONDS} s: {out:?}"
    );
    out.assert_success();
    assert!(
        out.stderr
            .contains("the session bus did not answer within 2 s"),
        "{out:?}"
    );
    assert_eq!(out.password(), None, "{out:?}");
}

/// What a bus may send before it is given up costs bounded memory. Two floods, each the
/// reply of a peer that owns the bus: 256 MiB of replies to calls never sent (each is dropped
/// as it is read, not kept for a wait that never comes), and one reply of 15 MiB holding
/// `a(((y)))`, which takes eight bytes a struct on the wire and many times that as values (the
/// reader counts what it allocates and refuses it). Peak memory is measured with GNU time; a
/// healthy `get` takes 1.5 MiB, and the bound below leaves room for the one 15 MiB message.
#[test]
fn a_hostile_bus_costs_bounded_memory() {
    if !crate::support::gnu_time_or_skip() {
        return;
    }
    let unasked = || {
        let body = {
            let mut body = (65536u32 - 4).to_le_bytes().to_vec();
            body.resize(65536, 0x41);
            body
        };
        (0..4096u32)
            .flat_map(|n| crate::support::wedged_bus::method_return(0x10000 + n, "ay", &body))
            .collect::<Vec<u8>>()
    };
    let nested = || {
        let structs = 15 << 17; // eight bytes each: 15 MiB
        let mut body = ((structs * 8 - 7) as u32).to_le_bytes().to_vec();
        body.extend_from_slice(&[0; 4]);
        for _ in 0..structs {
            body.extend_from_slice(&[0x42, 0, 0, 0, 0, 0, 0, 0]);
        }
        body.truncate(body.len() - 7);
        // The reply to Hello (the first call): read before anything else.
        crate::support::wedged_bus::method_return(1, "a(((y)))", &body)
    };
    for (what, flood) in [("unasked replies", unasked()), ("nested structs", nested())] {
        let bus = WedgedBus::hostile(flood);
        let mut env = TestEnv::new();
        env.set_env("DBUS_SESSION_BUS_ADDRESS", bus.address());
        let run = crate::support::run_watched(
            &env,
            &["--store", "secret-service", "get"],
            b"protocol=https\nhost=bitbucket.org\n\n",
            false,
        );
        run.assert_no_crash(what);
        assert_eq!(run.code(), 0, "{what}: {}", run.stderr);
        assert_eq!(
            String::from_utf8_lossy(&run.stdout),
            "username=x-bitbucket-api-token-auth\n",
            "{what}: git prompts"
        );
        assert!(
            run.max_rss_kib < 64 * 1024,
            "{what}: the helper peaked at {} KiB",
            run.max_rss_kib
        );
    }
}
