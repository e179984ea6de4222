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

use crate::commands::expiry::ExpiryArgs;
use crate::commands::login::LoginArgs;
use crate::commands::logout::LogoutArgs;
use crate::commands::migrate::MigrateArgs;
use crate::commands::setup::ConfigScope;
use crate::commands::status::StatusArgs;
use crate::commands::{self, Context};
use crate::diagnostics::note;
use crate::environment::{EnvironmentToken, STORE_ENV, UNLOCK_TIMEOUT_ENV};
use crate::helper::{Helper, Operation, Recheck};
use crate::policy::{Scope, ServedHosts};
use crate::protocol;
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

/// The longest wait for an unlock that may be asked for: an hour.
const MAX_UNLOCK_TIMEOUT: u64 = 3600;

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
    /// The command lines git runs on every fetch and push, `[--store S] [--host H]...
    /// get|store|erase`, parsed by hand: clap builds its whole
    /// command tree first, about 7% of a `get`'s time (docs/performance.md). Anything else —
    /// help, another command, an option or value out of the ordinary, a bad store name —
    /// returns `None`, and clap parses it (and reports errors) as always. A unit test holds the
    /// two parsers to the same result.
    pub fn from_git_command_line(
        args: impl IntoIterator<Item = OsString>,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Option<Cli> {
        let store_named = |name: &str| <StoreChoice as clap::ValueEnum>::from_str(name, false).ok();
        let seconds = |text: &str| {
            text.parse::<u64>()
                .ok()
                .filter(|s| *s <= MAX_UNLOCK_TIMEOUT && text.bytes().all(|b| b.is_ascii_digit()))
        };
        let (mut store, mut hosts, mut command, mut unlock_timeout) =
            (None, Vec::new(), None, None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = arg.into_string().ok()?;
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
                _ => (arg.as_str(), None),
            };
            let value = match (name, inline) {
                ("--store" | "--host" | "--unlock-timeout", Some(value)) => value,
                ("--store" | "--host" | "--unlock-timeout", None) => {
                    args.next()?.into_string().ok()?
                }
                (_, Some(_)) => return None,
                (_, None) => String::new(),
            };
            if name.starts_with("--")
                && (value.is_empty() || value.starts_with('-') || command.is_some())
            {
                return None; // odd values, and options after the command, are clap's to judge
            }
            match name {
                "get" if command.is_none() => command = Some(Command::Get),
                "store" if command.is_none() => command = Some(Command::Store),
                "erase" if command.is_none() => command = Some(Command::Erase),
                "--store" if store.is_none() => store = Some(store_named(&value)?),
                "--unlock-timeout" if unlock_timeout.is_none() => {
                    unlock_timeout = Some(seconds(&value)?)
                }
                "--host" => hosts.push(value),
                _ => return None,
            }
        }
        if store.is_none()
            && let Some(name) = env(STORE_ENV)
        {
            store = Some(store_named(name.to_str()?)?);
        }
        if unlock_timeout.is_none()
            && let Some(text) = env(UNLOCK_TIMEOUT_ENV)
        {
            unlock_timeout = Some(seconds(text.to_str()?)?);
        }
        Some(Cli {
            options: GlobalOptions {
                store,
                hosts,
                unlock_timeout,
                token_fd: None,
            },
            command: command?,
        })
    }

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
            Command::Unknown(words) => return Ok(unknown_command(&words, stderr)),
            Command::GenerateDocs { dir } => return generate_docs(&dir, stdout),
            command => {
                let store = match self.options.store {
                    Some(store) => store,
                    None => commands::configured_store()?.unwrap_or(StoreChoice::Auto),
                };
                let mut ctx = Context {
                    store,
                    unlock: self.options.unlock(),
                    extra_hosts: self.options.hosts,
                    hosts,
                    data_dir: DataDir::for_user(),
                    stdin,
                    out: stdout,
                    err: stderr,
                };
                return run_command(&mut ctx, command);
            }
        };
        let request = match protocol::decode(stdin) {
            Ok(request) => request,
            Err(e) => {
                note(stderr, &e.to_string());
                return Ok(ExitCode::SUCCESS);
            }
        };
        if let Some(fd) = self.options.token_fd {
            if let Some(response) = answer_from_fd(fd, operation, &request, &hosts) {
                response.encode(stdout).context("could not answer git")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        let choice = self.options.store.unwrap_or(StoreChoice::Auto);
        let data_dir = DataDir::for_user();
        let opening = Opening {
            data_dir: data_dir.as_ref(),
            unlock: self.options.unlock(),
        };
        let open_store = || TokenStore::open(choice, &opening);
        let extra_hosts = self.options.hosts;
        let recheck = |url: &str, token: &crate::token::Token| recheck(url, token, &extra_hosts);
        let helper = Helper {
            hosts: &hosts,
            env_token: EnvironmentToken::from_env(),
            open_store: &open_store,
            recheck: &recheck,
            now: crate::dates::now(),
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

fn run_command(ctx: &mut Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Login(args) => commands::login::run(ctx, &args),
        Command::Expiry(args) => commands::expiry::run(ctx, &args),
        Command::Logout(args) => commands::logout::run(ctx, &args),
        Command::Status(args) => commands::status::run(ctx, &args),
        Command::Setup(scope) => commands::setup::run_setup(ctx, &scope),
        Command::Teardown(scope) => commands::setup::run_teardown(ctx, &scope),
        Command::Doctor => commands::doctor::run(ctx),
        Command::Migrate(args) => commands::migrate::run(ctx, &args),
        Command::Get
        | Command::Store
        | Command::Erase
        | Command::Unknown(_)
        | Command::GenerateDocs { .. } => {
            unreachable!("protocol operations and generate-docs are handled by Cli::run")
        }
    }
}

/// An operation this version does not know. From git (stdin not a terminal) it is ignored
/// silently, as the protocol requires; a person at a terminal gets the closest command and
/// exit 2, like any other usage error.
fn unknown_command(words: &[OsString], stderr: &mut dyn Write) -> ExitCode {
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
        .map(|name| (edit_distance(&typed, name), name))
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

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// `generate-docs DIR`: the man pages and completions of this very command line, for packagers;
/// prints the paths written. Reads no configuration and opens no store.
fn generate_docs(dir: &std::path::Path, stdout: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let command = <Cli as clap::CommandFactory>::command();
    let written = crate::manual::generate(command, dir)
        .with_context(|| format!("could not write the docs into {}", dir.display()))?;
    for path in written {
        writeln!(stdout, "{}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
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

/// `login --verify`: git asks us, and we answer with the token from the pipe `login` made —
/// for a served host and `get` only.
fn answer_from_fd(
    fd: u64,
    operation: Operation,
    request: &protocol::Request,
    hosts: &ServedHosts,
) -> Option<protocol::Response> {
    if operation != Operation::Get {
        return None;
    }
    let Scope::Served(_) = hosts.scope(request.protocol.as_deref(), request.host.as_deref()) else {
        return None;
    };
    let mut file = crate::inherited_pipe::open_inherited(fd).ok()?;
    let token = crate::terminal::read_secret_from(&mut file).ok()??;
    Some(protocol::Response {
        username: Some(crate::policy::API_TOKEN_USERNAME.to_owned()),
        password: Some(token),
        ..protocol::Response::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistyped_commands_are_near_their_intent() {
        assert_eq!(edit_distance("logut", "logout"), 1);
        assert_eq!(edit_distance("stauts", "status"), 2);
        assert_eq!(edit_distance("", "get"), 3);
        assert_eq!(edit_distance("get", "get"), 0);
    }

    /// The hand parser must agree with clap wherever it answers, and leave the rest to clap.
    #[test]
    fn the_git_fast_path_parses_exactly_as_clap_does() {
        let lines: &[&[&str]] = &[
            &["get"],
            &["store"],
            &["erase"],
            &["--store", "file", "get"],
            &["--store=keyutils", "erase"],
            &["--host", "127.0.0.1:8080", "--host=h.example", "store"],
            &["--store", "file", "--host", "a", "--host", "b", "get"],
            &["--unlock-timeout", "0", "get"],
            &["--unlock-timeout=120", "--store", "keyutils", "erase"],
        ];
        for line in lines {
            let args = line.iter().map(OsString::from);
            let fast = Cli::from_git_command_line(args, &|_| None).expect("a git command line");
            let clap = Cli::try_parse_from(std::iter::once("x").chain(line.iter().copied()))
                .expect("clap parses it too");
            assert_eq!(format!("{fast:?}"), format!("{clap:?}"), "{line:?}");
        }
        let env = |store: &'static str, unlock: &'static str| {
            move |name: &str| match name {
                STORE_ENV => Some(OsString::from(store)),
                UNLOCK_TIMEOUT_ENV => Some(OsString::from(unlock)),
                _ => None,
            }
        };
        let from_env = Cli::from_git_command_line([OsString::from("get")], &env("file", "7"));
        let options = from_env.unwrap().options;
        assert_eq!(
            (options.store, options.unlock_timeout),
            (Some(StoreChoice::File), Some(7))
        );
        let refused: &[&[&str]] = &[
            &[],
            &["login"],
            &["--help"],
            &["get", "get"],
            &["--store", "nonsense", "get"],
            &["--store", "get"],
            &["--store=", "get"],
            &["--store", "file", "--store", "file", "get"],
            &["--token-fd", "3", "get"],
            &["get", "extra"],
            &["--version"],
            &["get", "--store", "file"],
            &["--store", "file", "--host", "a", "get", "--host", "b"],
            &["--unlock-timeout", "-1", "get"],
            &["--unlock-timeout", "3601", "get"],
            &["--unlock-timeout", "1", "--unlock-timeout", "2", "get"],
        ];
        for line in refused {
            let args = line.iter().map(OsString::from);
            assert!(
                Cli::from_git_command_line(args, &|_| None).is_none(),
                "{line:?} goes to clap"
            );
        }
        for (store, unlock) in [
            ("bogus", "5"),
            ("file", "-1"),
            ("file", "9999"),
            ("file", "+3"),
        ] {
            let bad_env = Cli::from_git_command_line([OsString::from("get")], &env(store, unlock));
            assert!(bad_env.is_none(), "clap reports a bad {store} or {unlock}");
        }
    }
}
