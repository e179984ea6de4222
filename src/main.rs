//! The binary: parse the command line, hand the process's streams to the library, and print
//! any error as `git-credential-bitbucket: {err:#}`. Nothing else lives here.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use git_credential_bitbucket::cli::Cli;
use git_credential_bitbucket::diagnostics::note;

fn main() -> ExitCode {
    make_undumpable();
    let cli =
        Cli::from_git_command_line(std::env::args_os().skip(1), &|name| std::env::var_os(name))
            .unwrap_or_else(Cli::parse);
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut stderr = std::io::stderr().lock();
    match cli.run(&mut stdin, &mut stdout, &mut stderr) {
        Ok(code) => code,
        Err(err) => {
            note(&mut stderr, &format!("{err:#}"));
            let _ = stderr.flush();
            ExitCode::FAILURE
        }
    }
}

/// No core dumps and no ptrace by other processes of the same user: the token is in memory.
#[cfg(target_os = "linux")]
fn make_undumpable() {
    use rustix::process::{DumpableBehavior, set_dumpable_behavior};
    let _ = set_dumpable_behavior(DumpableBehavior::NotDumpable);
}

#[cfg(not(target_os = "linux"))]
fn make_undumpable() {}
