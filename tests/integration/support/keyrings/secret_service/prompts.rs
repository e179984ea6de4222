//! Following a Secret Service prompt to its end, as a client with a person at the desk would.
//!
//! Why: `Unlock` (and KeePassXC's `Lock`) answer with a prompt object; the outcome comes as the
//! prompt's `Completed(dismissed, result)` signal after `Prompt("")`, on the caller's own
//! connection (gnome-keyring drops the prompt when its caller leaves; KWallet sends the signal to
//! the caller only). `dbus-send` cannot wait for a signal, so `client.py` (Debian's python3-gi)
//! makes the calls and waits, with a deadline: a prompt nobody answers must not hang a test.

use std::time::Duration;

use super::{DEFAULT_ALIAS, SecretServiceSession};
use crate::support::output::Output;

/// Debian's Python, which has `gi` (a python3 earlier on PATH, e.g. pyenv's, may not).
pub(super) const SYSTEM_PYTHON: &str = "/usr/bin/python3";
const SCRIPT: &str = include_str!("client.py");

/// How a prompted call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptOutcome {
    /// The call needed no prompt (e.g. `Unlock` of an unlocked collection).
    NoPrompt,
    /// The prompt sent `Completed`; `dismissed` is its first argument (cancelled, refused).
    Completed { dismissed: bool },
    /// Nothing came before the deadline: a dialog nobody can see, or a silent prompter.
    NoAnswer,
}

impl SecretServiceSession {
    /// Calls `Service.Unlock` on the `default` collection, then `Prompt("")` on the prompt it
    /// returns, and waits up to `wait` for `Completed`. Needs python3-gi (panics without it).
    pub fn unlock_through_prompt(&self, wait: Duration) -> PromptOutcome {
        let seconds = format!("{:.3}", wait.as_secs_f64());
        let out = run_client(self, &["unlock", DEFAULT_ALIAS, &seconds], "");
        match out.stdout.trim() {
            "no-prompt" => PromptOutcome::NoPrompt,
            "completed dismissed=true" => PromptOutcome::Completed { dismissed: true },
            "completed dismissed=false" => PromptOutcome::Completed { dismissed: false },
            "no-answer" => PromptOutcome::NoAnswer,
            _ => panic!("client.py unlock: {out:?}\n{}", self.diagnostics()),
        }
    }
}

/// Runs `client.py ARGS` on `session`'s bus with `stdin`; panics if python3-gi is missing or
/// the client outlives its own deadline by far.
pub(super) fn run_client(session: &SecretServiceSession, args: &[&str], stdin: &str) -> Output {
    python_has("from gi.repository import Gio").unwrap_or_else(|e| panic!("{e}"));
    let script = session.sandbox.path("client.py");
    std::fs::write(&script, SCRIPT).unwrap_or_else(|e| panic!("client.py: {e}"));
    let mut cmd = session.command(SYSTEM_PYTHON);
    cmd.arg(&script).args(args);
    // Its own waits end sooner (5 s per call, the prompt's deadline): this is a backstop.
    let limit = Duration::from_secs(60);
    Output::run_within(&mut cmd, stdin.as_bytes(), limit)
        .unwrap_or_else(|| panic!("client.py {args:?} hung past {}s", limit.as_secs()))
}

/// Can [`SYSTEM_PYTHON`] run `statement`? (`Err` says what to install.)
pub(super) fn python_has(statement: &str) -> Result<(), String> {
    if !std::path::Path::new(SYSTEM_PYTHON).is_file() {
        return Err(format!(
            "{SYSTEM_PYTHON} is missing (Debian package python3)"
        ));
    }
    let mut cmd = std::process::Command::new(SYSTEM_PYTHON);
    cmd.args(["-c", &format!("import gi; {statement}")]);
    match Output::run_within(&mut cmd, b"", Duration::from_secs(30)) {
        Some(out) if out.success() => Ok(()),
        Some(out) => Err(format!(
            "{SYSTEM_PYTHON} cannot `{statement}` (Debian packages python3-gi, gir1.2-gcr-3): {}",
            out.stderr.trim()
        )),
        None => Err(format!("{SYSTEM_PYTHON} hung on `{statement}`")),
    }
}
