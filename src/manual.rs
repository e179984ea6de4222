//! The man pages and shell completions, generated from the clap definition of the command line.
//!
//! Why generated: a hand-written man page drifts from `--help` the first time an option is
//! added. The release scripts (scripts/dist.sh) run the hidden `generate-docs DIR` command of
//! the very binary they package, so the pages and completions describe exactly that binary.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// The shells we ship completions for: bash, zsh and fish for Unix packages, PowerShell for
/// the Windows zip.
const SHELLS: [Shell; 4] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell];

/// Writes `DIR/man/*.1` (one page for the program, one per visible command) and
/// `DIR/completions/*`, and returns the paths written.
pub fn generate(command: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let man_dir = dir.join("man");
    let completions_dir = dir.join("completions");
    fs::create_dir_all(&man_dir)?;
    fs::create_dir_all(&completions_dir)?;
    // clap's own `help` command would add a page per command (`…-help-login.1`) saying nothing.
    clap_mangen::generate_to(command.clone().disable_help_subcommand(true), &man_dir)?;
    let name = command.get_name().to_owned();
    let mut command = without_hidden(&command);
    command.build();
    let mut written: Vec<PathBuf> = fs::read_dir(&man_dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    for shell in SHELLS {
        written.push(clap_complete::generate_to(
            shell,
            &mut command,
            &name,
            &completions_dir,
        )?);
    }
    written.sort();
    Ok(written)
}

/// `command` without its hidden commands and options: the bash and PowerShell generators would
/// otherwise offer internal ones (`generate-docs`, `--token-fd`) to people.
fn without_hidden(command: &clap::Command) -> clap::Command {
    let mut visible = clap::Command::new(command.get_name().to_owned())
        .args(
            command
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .cloned(),
        )
        .subcommands(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(without_hidden),
        );
    if let Some(about) = command.get_about() {
        visible = visible.about(about.clone());
    }
    if let Some(version) = command.get_version() {
        visible = visible.version(version.to_owned());
    }
    visible
}
