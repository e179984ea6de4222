//! The command line: the three protocol operations git runs, plus commands for people.
//!
//! git runs `git credential-bitbucket [OPTIONS] get|store|erase` through the shell, so every
//! option must also work inside a `credential.helper` string; those command lines are parsed
//! by hand first (`git_line.rs`). An operation this version does not know is ignored silently
//! (exit 0, no output), as git's protocol requires (`unknown.rs`).

mod git_line;
mod unknown;

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::commands::expiry::ExpiryArgs;
use crate::commands::login::LoginArgs;
use crate::commands::logout::LogoutArgs;
use crate::commands::migrate::MigrateArgs;
use crate::commands::setup::ConfigScope;
use crate::commands::status::StatusArgs;
use crate::commands::{self, Context};
use crate::diagnostics::note;
use crate::environment::{EnvironmentToken, STORE_ENV, UNLOCK_TIMEOUT_ENV};
use crate::helper::{Helper, Operation, Recheck, answer_from_pipe};
use crate::policy::ServedHosts;
use crate::protocol;
use crate::store::MAX_UNLOCK_TIMEOUT;
use crate::store::{DataDir, Opening, StoreChoice, TokenStore, UNLOCK_PATIENCE, Unlock};

#[derive(Debug, Parser)]
#[command(
    name = "git-credential-bitbucket",
    version,
    about = "A git credential helper for Bitbucket Cloud API tokens, kept in your OS keychain.",
    long_about = "A git credential helper for Bitbucket Cloud API tokens, kept in your OS \
keychain.\n\n`git-credential-bitbucket setup` (which install.sh runs) configures git to use it \
for bitbucket.org only, by its full path. git then runs it with get, store or erase: it always \
answers with the username x-bitbucket-api-token-auth, hands back the stored API token, and \
refuses legacy app passwords.",
    after_help = format!(
        "{}\n\n{}",
        crate::manual::reference::help_notes(),
        crate::manual::examples::PROGRAM
    )
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
    /// Where tokens are kept: a store listed in `git-credential-bitbucket --help` [default:
    /// auto; commands for people default to the store of the helper git is configured with].
    // The values are listed once, at the top level (manual::reference::help_notes): a global
    // option's list would otherwise fill every command's --help.
    #[arg(
        long,
        global = true,
        value_enum,
        hide_possible_values = true,
        env = STORE_ENV,
        value_name = "STORE"
    )]
    pub store: Option<StoreChoice>,

    /// Another host to serve besides bitbucket.org, matched exactly with its port
    /// (repeatable). Loopback hosts named here may use plain http (test servers).
    #[arg(long = "host", global = true, value_name = "HOST[:PORT]")]
    pub hosts: Vec<String>,

    /// How long to wait for you to unlock a locked keychain (the Secret Service shows its own
    /// dialog on the desktop) [default: 60; 0 never asks: servers, CI].
    #[arg(
        long,
        global = true,
        env = UNLOCK_TIMEOUT_ENV,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(0..=MAX_UNLOCK_TIMEOUT)
    )]
    pub unlock_timeout: Option<u64>,

    /// (internal, for `login --verify`) answer `get` with the token read from this inherited
    /// file descriptor (a handle value on Windows) instead of any store.
    #[arg(long, global = true, hide = true, value_name = "FD")]
    pub token_fd: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// (git) Answer git's request for credentials on stdin.
    #[command(after_help = crate::manual::examples::GET)]
    Get,
    /// (git) Save the token git got from its prompt, once it worked.
    #[command(after_help = crate::manual::examples::STORE)]
    Store,
    /// (git) Forget a token Bitbucket revoked, or what `git credential reject` names.
    #[command(after_help = crate::manual::examples::ERASE)]
    Erase,
    #[command(flatten)]
    People(People),
    /// (packaging) Write the man pages and shell completions into DIR.
    #[command(hide = true)]
    GenerateDocs {
        /// The directory to write `man/` and `completions/` into.
        dir: std::path::PathBuf,
    },
    /// Any other operation: ignored, as git's protocol requires.
    #[command(external_subcommand)]
    Unknown(Vec<OsString>),
}

/// The commands for people (and provisioning scripts).
#[derive(Debug, Subcommand)]
pub enum People {
    /// Save an API token you paste (or pipe in with --stdin), after checking it.
    #[command(after_help = crate::manual::examples::LOGIN)]
    Login(LoginArgs),
    /// Record when the stored token expires, without pasting it again.
    #[command(after_help = crate::manual::examples::EXPIRY)]
    Expiry(ExpiryArgs),
    /// Remove stored tokens.
    #[command(after_help = crate::manual::examples::LOGOUT)]
    Logout(LogoutArgs),
    /// Show stored tokens (masked), their store, kind and expiry.
    #[command(after_help = crate::manual::examples::STATUS)]
    Status(StatusArgs),
    /// Configure git to use this helper for bitbucket.org only (idempotent).
    #[command(after_help = crate::manual::examples::SETUP)]
    Setup(ConfigScope),
    /// Remove the configuration `setup` wrote.
    #[command(after_help = crate::manual::examples::TEARDOWN)]
    Teardown(ConfigScope),
    /// Check this machine and repository; every FAIL comes with the command that fixes it.
    #[command(after_help = crate::manual::examples::DOCTOR)]
    Doctor,
    /// Move tokens out of everywhere git reads them in plain text (remote and submodule URLs,
    /// insteadOf bases, extraHeader, ~/.git-credentials) into the store.
    #[command(after_help = crate::manual::examples::MIGRATE)]
    Migrate(MigrateArgs),
}

impl GlobalOptions {
    /// Whether and how long to wait for a person to unlock the keychain, and how to tell them:
    /// on stderr, at once, with the program's prefix.
    pub fn unlock(&self) -> Unlock {
        Unlock {
            patience: self
                .unlock_timeout
                .map_or(UNLOCK_PATIENCE, std::time::Duration::from_secs),
            announce: Some(std::sync::Arc::new(|line: &str| {
                note(&mut std::io::stderr(), line)
            })),
        }
    }
}

impl Cli {
    /// Runs the command. Only this layer sees the process's streams.
    pub fn run(
        self,
        stdin: &mut dyn BufRead,
        stdout: &mut dyn Write,
        stderr: &mut dyn Write,
    ) -> anyhow::Result<ExitCode> {
        let hosts = ServedHosts::new(&self.options.hosts).map_err(anyhow::Error::msg)?;
        let operation = match self.command {
            Command::Get => Operation::Get,
            Command::Store => Operation::Store,
            Command::Erase => Operation::Erase,
            Command::People(command) => {
                let mut ctx = people_context(self.options, hosts, stdin, stdout, stderr)?;
                return run_for_people(&mut ctx, command);
            }
            Command::GenerateDocs { dir } => {
                let command = <Cli as clap::CommandFactory>::command();
                return crate::manual::write_docs(command, &dir, stdout);
            }
            Command::Unknown(words) => return Ok(unknown::unknown_command(&words, stderr)),
        };
        run_for_git(self.options, hosts, operation, stdin, stdout, stderr)
    }
}

/// `get`, `store` or `erase`, as git runs them: the request on stdin, the answer on stdout,
/// notes on stderr.
fn run_for_git(
    options: GlobalOptions,
    hosts: ServedHosts,
    operation: Operation,
    stdin: &mut dyn BufRead,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let request = match protocol::decode(stdin) {
        Ok(request) => request,
        Err(e) => {
            note(stderr, &e.to_string());
            return Ok(ExitCode::SUCCESS);
        }
    };
    if let Some(fd) = options.token_fd {
        if let Some(response) = answer_from_pipe(fd, operation, &request, &hosts) {
            response.encode(stdout).context("could not answer git")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let choice = options.store.unwrap_or(StoreChoice::Auto);
    let data_dir = DataDir::for_user();
    let opening = Opening {
        data_dir: data_dir.as_ref(),
        unlock: options.unlock(),
    };
    let open_store = || TokenStore::open(choice, &opening);
    let extra_hosts = options.hosts;
    let recheck = |url: &str, token: &crate::token::Token| recheck(url, token, &extra_hosts);
    let helper = Helper {
        hosts: &hosts,
        env_token: EnvironmentToken::from_env(),
        open_store: &open_store,
        recheck: &recheck,
        now: crate::dates::now(),
        ci: crate::environment::in_ci(),
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

/// What a command for people works with: the options (the store, when not given, is the one
/// of the helper git is configured with, so `login` saves where `get` will look), the user's
/// data directory and the streams.
fn people_context<'a>(
    mut options: GlobalOptions,
    mut hosts: ServedHosts,
    stdin: &'a mut dyn BufRead,
    stdout: &'a mut dyn Write,
    stderr: &'a mut dyn Write,
) -> anyhow::Result<Context<'a>> {
    // What the command line (or the environment) leaves open comes from the helper line git
    // runs: its store, its extra hosts, its unlock wait.
    if options.store.is_none() || options.hosts.is_empty() || options.unlock_timeout.is_none() {
        let configured = match commands::configured_helper() {
            Ok(configured) => configured,
            Err(e) if options.store.is_none() => return Err(e),
            Err(_) => None,
        };
        if let Some(configured) = configured {
            if options.hosts.is_empty() && !configured.hosts.is_empty() {
                hosts = ServedHosts::new(&configured.hosts).map_err(anyhow::Error::msg)?;
                options.hosts = configured.hosts;
            }
            options.unlock_timeout = options.unlock_timeout.or(configured.unlock_timeout);
            options.store = options.store.or(configured.store);
        }
    }
    Ok(Context {
        store: options.store.unwrap_or(StoreChoice::Auto),
        unlock: options.unlock(),
        unlock_timeout: options.unlock_timeout,
        extra_hosts: options.hosts,
        hosts,
        data_dir: DataDir::for_user(),
        stdin,
        out: stdout,
        err: stderr,
    })
}

fn run_for_people(ctx: &mut Context, command: People) -> anyhow::Result<ExitCode> {
    match command {
        People::Login(args) => commands::login::run(ctx, &args),
        People::Expiry(args) => commands::expiry::run(ctx, &args),
        People::Logout(args) => commands::logout::run(ctx, &args),
        People::Status(args) => commands::status::run(ctx, &args),
        People::Setup(scope) => commands::setup::run_setup(ctx, &scope),
        People::Teardown(scope) => commands::setup::run_teardown(ctx, &scope),
        People::Doctor => commands::doctor::run(ctx),
        People::Migrate(args) => commands::migrate::run(ctx, &args),
    }
}

/// `erase` asks Bitbucket again, through git and the pipe `login --verify` uses, whether a
/// refused token still opens a repository where it had worked.
fn recheck(url: &str, token: &crate::token::Token, extra_hosts: &[String]) -> Recheck {
    use commands::verify::Verdict;
    match commands::verify::recheck(url, token, extra_hosts) {
        Ok(Verdict::Rejected) => Recheck::Rejected,
        Ok(Verdict::Accepted) => Recheck::Accepted,
        Ok(Verdict::Failed(why)) => Recheck::Unknown(why),
        Ok(Verdict::MissingScope | Verdict::ReadOnly) => {
            Recheck::Unknown("Bitbucket answered 403: the token lacks a scope there".to_owned())
        }
        Ok(Verdict::AppPassword) => Recheck::Unknown("Bitbucket answered 410".to_owned()),
        Err(e) => Recheck::Unknown(format!("{e:#}")),
    }
}
