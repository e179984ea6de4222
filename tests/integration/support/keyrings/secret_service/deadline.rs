//! Running a client of a Secret Service with a deadline.
//!
//! Why: some providers never answer on purpose here (KeePassXC's unlock dialog and a stand-in
//! prompter told to stay silent are invisible headless), so a client such as `secret-tool` can
//! wait forever. Tests must both prove such a hang and never hang themselves: every client run
//! has a deadline ([`Output::run_within`]), after which it is killed (with its process group)
//! and the caller told.

use std::process::Command;
use std::time::Duration;

use crate::support::output::Output;

/// Longer than any honest answer on a loaded machine; a client past it is taken to hang.
pub const CLIENT_DEADLINE: Duration = Duration::from_secs(30);

/// [`Output::run_within`] with [`CLIENT_DEADLINE`], for a client expected to answer: panics
/// with `what` if it hangs.
#[track_caller]
pub fn run_answered(cmd: &mut Command, stdin: &str, what: &str) -> Output {
    Output::run_within(cmd, stdin.as_bytes(), CLIENT_DEADLINE).unwrap_or_else(|| {
        panic!(
            "{what}: no answer within {}s (killed)",
            CLIENT_DEADLINE.as_secs()
        )
    })
}
