//! One lock for every writer, fail-safe (issue 10): `store`, `erase`, `login`, `logout` and
//! metadata updates share the user's `operations.lock`; a writer that cannot get it in time
//! gives up with a message and deletes nothing, and git's operation goes on; where the lock
//! cannot be made at all, nothing is deleted unlocked; a metadata write never loses a newer
//! record another process wrote.
//!
//! The lock is held by this test process itself, so no timing decides anything; a wait
//! observed (a helper waiting for a lock) is read from /proc (its locks, or the lock file it
//! holds open), with a deadline.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::rig::{Rig, StoreUnderTest};
use crate::support::keyrings::run_as_namespace_root;
use crate::support::{Output, Scope, fake_api_token, helper_bin};

fn data_dir(rig: &Rig) -> PathBuf {
    rig.env.home().join(".local/share/git-credential-bitbucket")
}

/// Holds `dir/name` locked (flock, exclusive) until dropped.
fn hold(dir: &Path, name: &str) -> File {
    std::fs::create_dir_all(dir).expect("data dir");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(name))
        .expect("open lock file");
    file.lock().expect("lock");
    file
}

fn a_writer_that_cannot_get_the_lock_in_time_gives_up_and_removes_nothing(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let token = rig.token.clone();
    rig.typed("", &token);
    let new = rig.secret(fake_api_token());
    rig.server.grant(&new, Scope::ReadWrite);

    let held = hold(&data_dir(&rig), "operations.lock");
    let (erase, store, login, logout, clone, doctor) = std::thread::scope(|s| {
        let doctor = s.spawn(|| rig.cli(&["doctor"], ""));
        let erase = s.spawn(|| rig.helper("erase", &rig.request(&format!("password={token}"))));
        let store = s.spawn(|| rig.helper("store", &rig.request(&format!("password={new}"))));
        let login = s.spawn(|| rig.cli(&["login", "--stdin"], &new));
        let logout = s.spawn(|| rig.cli(&["logout"], ""));
        let clone = s.spawn(|| rig.clone());
        let join = |h: std::thread::ScopedJoinHandle<'_, Output>| h.join().expect("thread");
        (
            join(erase),
            join(store),
            join(login),
            join(logout),
            join(clone),
            join(doctor),
        )
    });
    drop(held);
    // doctor's probe writes and deletes an entry: never without the lock.
    assert!(
        doctor.stdout.contains("round trip was skipped") && doctor.stdout.contains("held the lock"),
        "{doctor:?}"
    );
    assert!(
        !doctor.stdout.contains("saves, reads and removes"),
        "{doctor:?}"
    );
    for out in [&erase, &store, &login, &logout, &clone] {
        assert!(out.stderr.contains("held the lock"), "{out:?}");
    }
    assert!(erase.stderr.contains("nothing was removed"), "{erase:?}");
    assert!(store.stderr.contains("not saved"), "{store:?}");
    login.assert_failure();
    logout.assert_failure();
    clone.assert_success(); // git's operation goes on
    assert_eq!(
        rig.stored().as_deref(),
        Some(token.as_str()),
        "nothing changed"
    );

    // Control: with the lock free, doctor's probe runs and the same erase removes it.
    let out = rig.cli(&["doctor"], "");
    assert!(out.stdout.contains("saves, reads and removes"), "{out:?}");
    let out = rig.helper("erase", &rig.request(&format!("password={token}")));
    assert!(out.stderr.contains("removed from the"), "{out:?}");
    assert_eq!(rig.stored(), None);
}

fn where_the_lock_cannot_be_made_nothing_is_deleted_unlocked(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let token = rig.token.clone();
    rig.typed("", &token);
    let good = rig.env.env_var("XDG_DATA_HOME").expect("set").to_owned();
    // A data directory that cannot exist: below a regular file.
    let blocker = rig.env.home().join("not-a-directory");
    std::fs::write(&blocker, "").expect("write");
    rig.env.set_env("XDG_DATA_HOME", blocker.join("data"));
    let out = rig.helper("erase", &rig.request(&format!("password={token}")));
    assert!(out.stderr.contains("nothing was removed"), "{out:?}");
    assert!(out.stderr.contains("operations.lock"), "{out:?}");
    let out = rig.cli(&["logout"], "");
    out.assert_failure();
    assert!(out.stderr.contains("nothing was removed"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    // Control: where the lock can be made, the same erase removes it.
    rig.env.set_env("XDG_DATA_HOME", good);
    rig.helper("erase", &rig.request(&format!("password={token}")));
    assert_eq!(rig.stored(), None);
}

/// Keychains other than the file store: the file store needs the data directory itself.
mod keychains {
    use super::*;
    #[test]
    fn secret_service() {
        where_the_lock_cannot_be_made_nothing_is_deleted_unlocked(StoreUnderTest::SecretService)
    }
    #[test]
    fn keyutils() {
        where_the_lock_cannot_be_made_nothing_is_deleted_unlocked(StoreUnderTest::Keyutils)
    }
}

/// On the Secret Service, whose own operations take no lock of ours: what is held is the
/// helper's writer lock alone. (The lock is taken before any store is opened, the same for
/// every store; one store keeps the 10 s wait out of the suite's time twice over.)
#[test]
fn a_writer_that_cannot_get_the_lock_in_time_gives_up_and_removes_nothing_secret_service() {
    a_writer_that_cannot_get_the_lock_in_time_gives_up_and_removes_nothing(
        StoreUnderTest::SecretService,
    );
}

/// Waits (bounded) until `pid` has exited or waits for a lock, as /proc/locks shows.
fn exited_or_blocked(child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let waiting = format!(" {} ", child.id());
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return;
        }
        let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
        if locks
            .lines()
            .any(|l| l.contains("->") && l.contains(&waiting))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the helper neither ended nor waited"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_metadata_write_never_loses_a_newer_record_written_meanwhile() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let token = rig.token.clone();
    let soon = |days: u64| {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + days * 86_400;
        let out = Command::new("date")
            .args(["-u", "-d", &format!("@{at}"), "+%F"])
            .output()
            .expect("date");
        String::from_utf8(out.stdout)
            .expect("UTF-8")
            .trim()
            .to_owned()
    };
    rig.cli(&["login", "--stdin", "--expires", &soon(10)], &token)
        .assert_success();
    let metadata = data_dir(&rig).join("metadata");
    let expires = |text: &str| {
        text.split_whitespace()
            .find_map(|f| f.strip_prefix("expires="))
            .map(str::to_owned)
    };
    let before = std::fs::read_to_string(&metadata).expect("metadata");
    let first = expires(&before).expect("login wrote the expiry");

    // A `get` that will note today's warning, while every lock is held by someone else...
    let held = [
        hold(&data_dir(&rig), "operations.lock"),
        hold(&data_dir(&rig), "metadata.lock"),
    ];
    let mut get = rig.env.command(helper_bin());
    get.args(rig.helper_args())
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = get.spawn().expect("spawn get");
    std::io::Write::write_all(
        &mut child.stdin.take().expect("stdin"),
        rig.request("").as_bytes(),
    )
    .expect("request");
    exited_or_blocked(&mut child);
    // ...who meanwhile records a new expiry (as `login --expires` does, under the lock).
    let newer = (first.parse::<u64>().expect("seconds") + 2 * 86_400).to_string();
    let record = before.replace(&format!("expires={first}"), &format!("expires={newer}"));
    std::fs::write(&metadata, record).expect("rewrite");
    drop(held);
    let out = Output::collect_or_panic(child, "get");
    out.assert_success();
    let after = std::fs::read_to_string(&metadata).expect("metadata");
    assert_eq!(
        expires(&after),
        Some(newer.clone()),
        "the newer expiry survived"
    );

    // Control: with the locks free, `get` does write its warning, on the newer record.
    let out = rig.helper("get", &rig.request(""));
    assert!(out.stderr.contains("days left"), "{out:?}");
    let after = std::fs::read_to_string(&metadata).expect("metadata");
    assert!(after.contains("warned="), "{after}");
    assert_eq!(expires(&after), Some(newer));
}

/// With `su`/`sudo` without pam_keyinit, uid 1001 inherits root's session keyring and so
/// "possesses" root's keys. The helper running as 1001 must not read, replace or remove them.
///
/// All of it runs in a user namespace of its own (uids 0–65535 mapped to themselves, so it has
/// its own persistent keyrings and touches no real one), in one session keyring: root plants
/// its token, then the helper runs as uid 1001 under `setpriv`, then as root again (control).
#[test]
fn a_session_inherited_from_root_never_gives_uid_1001_roots_token() {
    if !crate::support::keyrings::root_with(&["setpriv", "unshare", "keyctl"]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let (roots, theirs) = (fake_api_token(), fake_api_token());
    let host = "127.0.0.1:9";
    let request = format!("protocol=http\nhost={host}\n\n");
    std::fs::write(d.join("root-token"), &roots).expect("write");
    std::fs::write(d.join("get"), &request).expect("write");
    let store = format!("protocol=http\nhost={host}\npassword={theirs}\n\n");
    std::fs::write(d.join("store"), store).expect("write");
    for home in ["root", "u"] {
        std::fs::create_dir(d.join(home)).expect("mkdir");
    }
    std::os::unix::fs::chown(d.join("u"), Some(1001), Some(1001)).expect("chown");
    let script = r#"
        set -u
        keyctl padd user "keyring:$HOST@git-credential-bitbucket" @s < "$D/root-token" >/dev/null
        run() { who=$1; shift; home=$D/$who
            env HOME="$home" XDG_DATA_HOME="$home/data" "$@" "$BIN" --store keyutils --host "$HOST" \
                "$OP" < "$IN" > "$D/$who-$OP.out" 2> "$D/$who-$OP.err"; }
        as1001() { run u setpriv --reuid=1001 --regid=1001 --clear-groups --; }
        OP=get IN=$D/get as1001
        OP=store IN=$D/store as1001
        OP=logout IN=/dev/null as1001
        OP=get IN=$D/get run root
    "#;
    let done = run_as_namespace_root(
        &["keyctl", "session", "-"],
        script,
        &[
            ("D", d.as_os_str()),
            ("HOST", host.as_ref()),
            ("BIN", helper_bin().as_os_str()),
        ],
        d,
    );
    let read = |name: &str| std::fs::read_to_string(d.join(name)).unwrap_or_default();
    let said = format!(
        "{}\n{}\n{}",
        done.stderr,
        read("u-get.err"),
        read("u-store.err")
    );
    assert!(done.status.success(), "{said}");
    assert!(!read("u-get.out").contains("password="), "{said}");
    assert!(read("u-get.err").contains("belongs to uid 0"), "{said}");
    assert!(read("u-store.err").contains("not saved"), "{said}");
    for file in [
        "u-get.out",
        "u-get.err",
        "u-store.err",
        "u-logout.out",
        "u-logout.err",
    ] {
        assert!(
            !read(file).contains(&roots),
            "root's token leaked to uid 1001"
        );
    }
    // Control: root still reads its own token, unchanged by 1001's store and logout.
    let root = read("root-get.out");
    assert!(
        root.contains(&format!("password={roots}\n")),
        "{said}\n{}",
        read("root-get.err")
    );
}

/// Waits (bounded, only a hang gets near the deadline) until `child` waits for the lock file
/// `lock`, which this test holds: blocked on it as /proc/locks shows, or holding it open. (The
/// helper polls the lock with a non-blocking try, so /proc/locks alone never shows it; it opens
/// the file only in the lock's acquisition.) `Err(())` if it ended instead.
fn waits_for_the_lock(child: &mut std::process::Child, lock: &Path) -> Result<(), ()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let lock = lock.canonicalize().expect("lock path");
    let blocked = format!(" {} ", child.id());
    let fds = PathBuf::from(format!("/proc/{}/fd", child.id()));
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return Err(());
        }
        let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
        if locks
            .lines()
            .any(|l| l.contains("->") && l.contains(&blocked))
        {
            return Ok(());
        }
        let holds_it_open = std::fs::read_dir(&fds)
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|to| to == lock));
        if holds_it_open {
            return Ok(());
        }
        assert!(
            Instant::now() < deadline,
            "the helper neither ended nor waited for the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A writer connects to its keychain, then waits for the lock another writer holds (here for
/// [`WAITED`] from when it is seen waiting, past the Secret Service's 2 s bound for one
/// operation); its write still goes through: each keychain call has its own deadline, started
/// when the call starts. Before, the deadline ran from the connection, and the write failed
/// with "did not answer within 2 s".
fn a_writer_that_waited_for_the_lock_still_writes(store: StoreUnderTest) {
    /// Longer than the 2 s per-call bound, well short of the 10 s the lock is waited for.
    const WAITED: Duration = Duration::from_millis(3_000);
    let Some(rig) = Rig::new(store) else {
        return;
    };
    let token = rig.token.clone();
    let held = hold(&data_dir(&rig), "operations.lock");
    let mut login = rig.env.helper_command();
    login
        .args(rig.helper_args())
        .args(["login", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = login.spawn().expect("spawn login");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), token.as_bytes())
        .expect("token");
    // The login opens its keychain before it takes the lock: once it waits for the lock, it
    // has connected, and from here on only the wait passes.
    if waits_for_the_lock(&mut child, &data_dir(&rig).join("operations.lock")).is_err() {
        let out = Output::collect_or_panic(child, "login");
        rig.assert_no_leak(&out, false);
        panic!("login ended instead of waiting for the lock: {out:?}");
    }
    let seen = Instant::now();
    // Not a synchronisation: the time that must pass while the login waits, as another
    // writer would make it. The login is checked to be still waiting after it.
    std::thread::sleep(WAITED);
    if child.try_wait().expect("try_wait").is_some() {
        let out = Output::collect_or_panic(child, "login");
        rig.assert_no_leak(&out, false);
        panic!("login stopped waiting within {:?}: {out:?}", seen.elapsed());
    }
    drop(held);
    let login = Output::collect_or_panic(child, "login");
    rig.assert_no_leak(&login, false);
    login.assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()), "{login:?}");
}

mod waited {
    use super::*;

    #[test]
    fn secret_service() {
        a_writer_that_waited_for_the_lock_still_writes(StoreUnderTest::SecretService);
    }

    #[test]
    fn keepassxc() {
        a_writer_that_waited_for_the_lock_still_writes(StoreUnderTest::KeePassXc);
    }

    #[test]
    fn kwallet() {
        a_writer_that_waited_for_the_lock_still_writes(StoreUnderTest::KWallet);
    }
}
