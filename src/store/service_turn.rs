//! Our helpers use the Secret Service one at a time: a lock file, held from before a
//! connection is made until it is closed.
//!
//! Why: gnome-keyring 42.1 aborts (`GLib-ERROR … g_variant_new: expected GVariant of type 'v'`,
//! SIGTRAP) when it handles a new client's `OpenSession` before it has registered that client:
//! it registers clients from an idle callback that a D-Bus message filter queues, and under
//! load that callback can come after the call it was meant to precede (`plain_negotiate:
//! assertion 'session' failed` in its log). With forty helpers at once (`git fetch` in forty
//! repositories) it died in about 1 run in 70, taking every secret of the session with it
//! until it was restarted and unlocked again; the next `get` found no token at all. With our
//! connections taking turns the daemon sees one of them at a time and never died in 800 runs
//! (tests/integration/concurrency.rs; numbers in docs/security.md).
//!
//! A turn is short (a `get` holds it about 3 ms), so forty helpers wait about 0.1 s in all.
//! The wait is bounded: after [`TURN_TIMEOUT`] the helper goes on without its turn rather than
//! make git wait longer, since a holder that slow is stuck on a wedged bus, and that holder
//! gives up within its own deadlines anyway. A lock file that cannot be made (read-only HOME)
//! also means going on without a turn: never a failure of git's operation.

use std::fs::File;
use std::sync::mpsc;
use std::time::Duration;

use super::{DataDir, file};

/// How long to wait for our turn. A turn lasts about 3 ms (under 40 helpers on 2 busy cores,
/// rarely 100 ms), and a holder on a wedged bus gives up within about 4 s.
pub const TURN_TIMEOUT: Duration = Duration::from_secs(3);

/// Waits (within [`TURN_TIMEOUT`]) until no other helper of this user is talking to the
/// Secret Service; the turn lasts as long as the returned file. `None`: go on without one.
pub fn wait_for_turn() -> Option<File> {
    let dir = DataDir::for_user()?;
    file::create_private_dir(&dir.0).ok()?;
    let turn = file::private_options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.0.join("secret-service.lock"))
        .ok()?;
    if turn.try_lock().is_ok() {
        return Some(turn);
    }
    // Someone else's turn: wait for it on a thread, so that the wait can end.
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name("secret-service-turn".into())
        .spawn(move || {
            if turn.lock().is_ok() {
                // If we stopped waiting, the file (and the lock) is dropped here.
                let _ = sender.send(turn);
            }
        })
        .ok()?;
    receiver.recv_timeout(TURN_TIMEOUT).ok()
}
