//! doctor's check that git can run the configured helper when it runs with cron's PATH.
//!
//! Why: a helper configured by its bare name (`bitbucket`) is looked up on PATH at every git
//! call. A login shell finds `~/.local/bin`; cron, systemd units and CI runners start git with
//! `/usr/bin:/bin`, where git says `'credential-bitbucket' is not a git command` and then
//! `could not read Username … terminal prompts disabled`. Everything else doctor checks can
//! pass in the person's own shell while every scheduled fetch fails, so the check runs the
//! helper's value as git builds it, under that PATH, with `--version` (no store is opened).

use super::{Check, Level, check};
use crate::git::{self, Bound, MINIMAL_PATH};
use crate::scan::helpers::Helper;

/// The check for the helper git asks for a served host (`ours`, as configured).
pub(super) fn git_finds_helper(ours: &Helper, fix: &str) -> Check {
    let probe = format!("{} --version", command_git_runs(&ours.value));
    let outcome = git::run(&mut git::minimal_shell(&probe), Bound::Local);
    let answered = outcome.as_ref().is_ok_and(|out| {
        out.success && out.stdout.starts_with(concat!(env!("CARGO_PKG_NAME"), " "))
    });
    if answered {
        return check(
            Level::Pass,
            format!(
                "git runs the configured helper {} with cron's PATH ({MINIMAL_PATH})",
                ours.name()
            ),
            None,
        );
    }
    // A full path that names nothing fails under any PATH: say that, not cron's.
    let program = crate::commands::shell::shell_words(&command_git_runs(&ours.value))
        .into_iter()
        .next()
        .filter(|word| word.starts_with('/'));
    if let Some(program) = program.filter(|p| !std::path::Path::new(p).exists()) {
        return check(
            Level::Fail,
            format!(
                "the helper {} (in {}) names {program}, which does not exist (moved or \
                 uninstalled?), so git gets no token from it",
                ours.name(),
                ours.origin
            ),
            Some(&format!("{fix}   (writes the helper's full path)")),
        );
    }
    let why = match &outcome {
        Ok(out) => out
            .stderr
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty())
            .unwrap_or("it printed no version")
            .to_owned(),
        Err(e) => format!("{e}"),
    };
    check(
        Level::Fail,
        format!(
            "git cannot run the helper {} (in {}) with cron's PATH ({MINIMAL_PATH}), so \
             scheduled jobs and services get no token: {why}",
            ours.name(),
            ours.origin
        ),
        Some(&format!("{fix}   (writes the helper's full path)")),
    )
}

/// The shell command git runs for a `credential.helper` value, before the operation
/// (gitcredentials(7)): a `!` value is a shell snippet, an absolute path runs as it stands,
/// anything else is `git credential-VALUE`.
fn command_git_runs(value: &str) -> String {
    if let Some(snippet) = value.strip_prefix('!') {
        snippet.to_owned()
    } else if value.starts_with('/') {
        value.to_owned()
    } else {
        format!("git credential-{value}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_values_become_the_commands_git_runs() {
        assert_eq!(
            command_git_runs("bitbucket --store file"),
            "git credential-bitbucket --store file"
        );
        assert_eq!(
            command_git_runs("/opt/bin/git-credential-bitbucket"),
            "/opt/bin/git-credential-bitbucket"
        );
        assert_eq!(
            command_git_runs("!'/home/a b/git-credential-bitbucket' --host h"),
            "'/home/a b/git-credential-bitbucket' --host h"
        );
    }
}
