//! The man pages and shell completions, generated from the clap definition of the command line.
//!
//! Why generated: a hand-written man page drifts from `--help` the first time an option is
//! added. The release scripts (scripts/dist.sh) run the hidden `generate-docs DIR` command of
//! the very binary they package, so the pages and completions describe exactly that binary.

mod completions;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Writes `DIR/man/*.1` (one page for the program, one per visible command) and
/// `DIR/completions/*`, and returns the paths written.
pub fn generate(command: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let man_dir = dir.join("man");
    let completions_dir = dir.join("completions");
    fs::create_dir_all(&man_dir)?;
    fs::create_dir_all(&completions_dir)?;
    // clap's own `help` command would add a page per command (`…-help-login.1`) saying nothing.
    clap_mangen::generate_to(command.clone().disable_help_subcommand(true), &man_dir)?;
    let mut written: Vec<PathBuf> = fs::read_dir(&man_dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    written.extend(completions::generate(&command, &completions_dir)?);
    written.sort();
    Ok(written)
}
