//! The command line: the three protocol operations git runs, plus commands for people.
//!
//! git runs `git credential-bitbucket [OPTIONS] get|store|erase` through the shell, so every
//! option must also work inside a `credential.helper` string. An operation this version does
//! not know is ignored silently (exit 0, no output), as git's protocol requires.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::helper::{Helper, Operation};
use crate::policy::ServedHosts;
use crate::protocol;
use crate::store::{DataDir, Keychain, StoreChoice};
use crate::token::Token;

/// The environment variable holding a token for CI; read by `get`, never written anywhere.
pub const TOKEN_ENV: &str = "BITBUCKET_API_TOKEN";

#[derive(Debug, Parser)]
#[command(
    name = "git-credential-bitbucket",
    version,
    about = "A git credential helper for Bitbucket Cloud API tokens, kept in your OS keychain.",
    long_about = "A git credential helper for Bitbucket Cloud API tokens, kept in your OS \
keychain.\n\nConfigure it with `credential.https://bitbucket.org.helper=bitbucket` (install.sh \
does this). git then runs it as `git credential-bitbucket get|store|erase`: it always answers \
with the username x-bitbucket-api-token-auth, hands back the stored API token, and refuses \
legacy app passwords.",
    after_help = "Environment:\n  BITBUCKET_API_TOKEN             a token for CI; used by `get` \
before any store, never saved\n  GIT_CREDENTIAL_BITBUCKET_STORE  the store when --store is not given"
)]
pub struct Cli {
    #[command(flatten)]
    pub options: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the command name.
#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// Where tokens are kept.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        env = "GIT_CREDENTIAL_BITBUCKET_STORE",
        value_name = "STORE"
    )]
    pub store: StoreChoice,

    /// Another host to serve besides bitbucket.org, matched exactly with its port
    /// (repeatable). Loopback hosts named here may use plain http (test servers).
    #[arg(long = "host", global = true, value_name = "HOST[:PORT]")]
    pub hosts: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// (git) Answer git's request for credentials on stdin.
    Get,
    /// (git) Save the token git just used successfully.
    Store,
    /// (git) Forget a token Bitbucket rejected.
    Erase,
    /// Any other operation: ignored, as git's protocol requires.
    #[command(external_subcommand)]
    Unknown(Vec<OsString>),
}

impl Cli {
    /// Runs the command. Only this layer sees the process's streams.
    pub fn run(
        self,
        stdin: &mut dyn BufRead,
        stdout: &mut dyn Write,
        stderr: &mut dyn Write,
    ) -> anyhow::Result<ExitCode> {
        let operation = match self.command {
            Command::Get => Operation::Get,
            Command::Store => Operation::Store,
            Command::Erase => Operation::Erase,
            Command::Unknown(_) => return Ok(ExitCode::SUCCESS),
        };
        let hosts = ServedHosts::new(&self.options.hosts).map_err(anyhow::Error::msg)?;
        let request = match protocol::decode(stdin) {
            Ok(request) => request,
            Err(e) => {
                note(stderr, &e.to_string());
                return Ok(ExitCode::SUCCESS);
            }
        };
        let choice = self.options.store;
        let open_store = || Keychain::open(choice, DataDir::for_user().as_ref());
        let helper = Helper {
            hosts: &hosts,
            env_token: env_token(),
            open_store: &open_store,
        };
        let outcome = helper.run(operation, &request);
        for line in &outcome.notes {
            note(stderr, line);
        }
        if let Some(response) = outcome.response {
            response.encode(stdout).context("could not answer git")?;
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// `BITBUCKET_API_TOKEN`, trimmed (CI secrets often end in a newline); empty means unset.
pub fn env_token() -> Option<Token> {
    let value = std::env::var(TOKEN_ENV).ok()?;
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| Token::new(trimmed.to_owned()))
}

/// One diagnostic for stderr, each line prefixed with the program's name.
pub fn note(stderr: &mut dyn Write, message: &str) {
    for line in message.lines() {
        let _ = writeln!(stderr, "git-credential-bitbucket: {line}");
    }
}
