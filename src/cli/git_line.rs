//! The command lines git runs on every fetch and push, `[--store S] [--host H]...
//! [--unlock-timeout N] get|store|erase`, parsed by hand: clap builds its whole command tree
//! first, about 7% of a `get`'s time (docs/performance.md). Anything else — help, another
//! command, an option or value out of the ordinary, a bad store name — is left to clap, which
//! parses it (and reports errors) as always. A unit test holds the two parsers to the same
//! result.

use std::ffi::OsString;

use super::{Cli, Command, GlobalOptions};
use crate::environment::{STORE_ENV, UNLOCK_TIMEOUT_ENV};
use crate::store::MAX_UNLOCK_TIMEOUT;
use crate::store::StoreChoice;

impl Cli {
    /// Parses one of git's own command lines, or `None` to leave it to clap.
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
            // Clap without its environment fallbacks, as the fast parser is given none here:
            // a developer's own GIT_CREDENTIAL_BITBUCKET_* variables change neither side.
            let command = <Cli as clap::CommandFactory>::command()
                .mut_arg("store", |a| a.env(None))
                .mut_arg("unlock_timeout", |a| a.env(None));
            let matches = command
                .try_get_matches_from(std::iter::once("x").chain(line.iter().copied()))
                .expect("clap parses it too");
            let clap = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
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
