//! The man pages and shell completions, generated from the clap definition of the command line,
//! and the text they share with `--help` (the examples, the stores, the environment).
//!
//! Why generated: a hand-written man page drifts from `--help` the first time an option is
//! added. The release scripts (scripts/dist.sh) run the hidden `generate-docs DIR` command of
//! the very binary they package, so the pages and completions describe exactly that binary.

mod completions;
pub mod examples;
mod pages;
pub mod reference;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// `generate-docs DIR`: the man pages and completions of `command` (this very command line)
/// for packagers; prints the paths written. Reads no configuration and opens no store.
pub fn write_docs(
    command: clap::Command,
    dir: &Path,
    stdout: &mut dyn io::Write,
) -> anyhow::Result<std::process::ExitCode> {
    use anyhow::Context as _;
    let written = generate(command, dir)
        .with_context(|| format!("could not write the docs into {}", dir.display()))?;
    for path in written {
        writeln!(stdout, "{}", path.display())?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Writes `DIR/man/*.1` (one page for the program, one per visible command) and
/// `DIR/completions/*`, and returns the paths written.
pub fn generate(command: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let man_dir = dir.join("man");
    let completions_dir = dir.join("completions");
    fs::create_dir_all(&man_dir)?;
    fs::create_dir_all(&completions_dir)?;
    let mut written = pages::generate(&command, &man_dir)?;
    written.extend(completions::generate(&command, &completions_dir)?);
    written.sort();
    Ok(written)
}
