//! The stand-in for gcr's system prompter, so that a locked gnome-keyring can be unlocked (or
//! refused) over D-Bus the way a desktop does it, with no display.
//!
//! Why: a locked collection answers `Unlock` with a prompt; on `Prompt("")` gnome-keyring asks
//! the prompter on the bus (`org.gnome.keyring.SystemPrompter`) for the password, and with none
//! there it completes the prompt as dismissed at once. The real `gcr-prompter` needs a display,
//! so `prompter.py` (Debian's python3-gi and gir1.2-gcr-3: gcr does the protocol and its
//! encryption) plays the person, answering as the test says. The mode is a file the prompter
//! reads at each question, so a test can change it while the prompter runs.

use std::time::{Duration, Instant};

use super::gnome_keyring::KEYRING_PASSWORD;
use super::prompts::{SYSTEM_PYTHON, python_has};
use super::sandbox::{self, Sandbox};
use super::{Provider, SecretServiceSession, lock};

const SCRIPT: &str = include_str!("prompter.py");
const PROMPTER_NAME: &str = "org.gnome.keyring.SystemPrompter";

/// How the stand-in prompter answers gnome-keyring's password questions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrompterMode {
    /// No prompter on the bus (as on a server): gnome-keyring dismisses every prompt at once.
    Absent,
    /// Answers with the collection's password: the prompt completes and the collection unlocks.
    Unlocks,
    /// Answers a wrong password (gnome-keyring asks again) three times, then cancels.
    WrongPassword,
    /// Cancels, as a person pressing Cancel: the prompt completes as dismissed.
    Cancels,
    /// Never answers, as a dialog nobody looks at; the prompt never completes. The question
    /// stays pending until the mode changes (then it is answered) or the prompter goes.
    NeverAnswers,
}

impl PrompterMode {
    fn file_text(self) -> String {
        match self {
            PrompterMode::Unlocks => format!("unlock\n{KEYRING_PASSWORD}\n"),
            PrompterMode::WrongPassword => "wrong\n".to_owned(),
            PrompterMode::Cancels | PrompterMode::Absent => "cancel\n".to_owned(),
            PrompterMode::NeverAnswers => "silent\n".to_owned(),
        }
    }
}

impl SecretServiceSession {
    /// Puts the stand-in prompter in `mode`: starts it (waiting until it owns its name), tells
    /// it how to answer, or stops it for [`PrompterMode::Absent`]. gnome-keyring only.
    pub fn set_prompter(&self, mode: PrompterMode) -> Result<(), String> {
        assert_eq!(
            self.provider,
            Provider::GnomeKeyring,
            "only gnome-keyring asks a system prompter"
        );
        let mode_file = self.sandbox.path("prompter.mode");
        std::fs::write(&mode_file, mode.file_text()).map_err(|e| format!("prompter.mode: {e}"))?;
        sandbox::set_mode(&mode_file, 0o600)?;
        if mode == PrompterMode::Absent {
            self.stop_prompter();
            return self.wait_until(|s| !s.name_has_owner(PROMPTER_NAME), "the prompter gone");
        }
        if lock(&self.prompter).is_none() {
            self.spawn_prompter()?;
        }
        Ok(())
    }

    /// What the prompter answered so far, in order: `unlock`, `wrong`, `cancel`,
    /// `confirm-cancel` (a question still pending in [`PrompterMode::NeverAnswers`] is not listed).
    pub fn prompter_answers(&self) -> Vec<String> {
        std::fs::read_to_string(self.sandbox.path("prompts.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l != "owned")
            .map(str::to_owned)
            .collect()
    }

    /// Starts `prompter.py` on the bus in the mode already written and waits for its name.
    pub(super) fn spawn_prompter(&self) -> Result<(), String> {
        python_has("gi.require_version('Gcr', '3'); from gi.repository import Gcr")?;
        let script = self.sandbox.path("prompter.py");
        std::fs::write(&script, SCRIPT).map_err(|e| format!("prompter.py: {e}"))?;
        let answers = self.sandbox.path("prompts.log");
        let owned_before = owned_count(&self.sandbox);
        let mut cmd = self.command(SYSTEM_PYTHON);
        cmd.arg(&script)
            .arg(self.sandbox.path("prompter.mode"))
            .arg(&answers);
        let child = self.sandbox.spawn(&mut cmd, "prompter.log", false)?;
        *lock(&self.prompter) = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while owned_count(&self.sandbox) == owned_before {
            let exited = lock(&self.prompter)
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                return Err(self
                    .sandbox
                    .with_logs(&format!("prompter exited: {status}")));
            }
            if Instant::now() > deadline {
                return Err(self.sandbox.with_logs("the prompter never owned its name"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Stops the prompter if one runs; says whether one did.
    pub(super) fn stop_prompter(&self) -> bool {
        match lock(&self.prompter).take() {
            Some(mut child) => {
                sandbox::kill(&mut child);
                true
            }
            None => false,
        }
    }
}

/// How many times a prompter said it owns its name (one per start).
fn owned_count(sandbox: &Sandbox) -> usize {
    std::fs::read_to_string(sandbox.path("prompts.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| *l == "owned")
        .count()
}
