//! A command this version does not know: from git, ignored silently (the protocol requires
//! it); from a person at a terminal, the closest command and a usage error.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use super::Cli;
use crate::diagnostics::note;

/// An operation this version does not know. From git (stdin not a terminal) it is ignored
/// silently, as the protocol requires; a person at a terminal gets the closest command and
/// exit 2, like any other usage error.
pub(super) fn unknown_command(words: &[OsString], stderr: &mut dyn Write) -> ExitCode {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        return ExitCode::SUCCESS;
    }
    let typed = words
        .first()
        .map(|w| w.to_string_lossy().into_owned())
        .unwrap_or_default();
    let names: Vec<String> = <Cli as clap::CommandFactory>::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_owned())
        .collect();
    let closest = names
        .iter()
        .map(|name| (strsim::levenshtein(&typed, name), name))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    let hint = match closest {
        Some((_, name)) => format!("; did you mean '{name}'?"),
        None => String::new(),
    };
    note(
        stderr,
        &format!("unknown command '{typed}'{hint} (see --help)"),
    );
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    #[test]
    fn mistyped_commands_are_near_their_intent() {
        assert_eq!(strsim::levenshtein("logut", "logout"), 1);
        assert_eq!(strsim::levenshtein("stauts", "status"), 2);
    }
}
