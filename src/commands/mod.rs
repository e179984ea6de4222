//! Commands for people (and provisioning scripts): one file per command. Each takes the same
//! `--store` and `--host` options as the protocol operations, writes its report to the given
//! writers, and never prints more of a token than its masked fingerprint.

pub mod doctor;
pub mod expiry;
pub mod login;
pub mod logout;
pub mod migrate;
pub mod setup;
pub mod shell;
pub mod status;
pub mod store_switch;
pub mod verify;

use std::io::{BufRead, Write};

use anyhow::Context as _;

use crate::policy::{BITBUCKET_HOST, HostKey, ServedHosts};
use crate::store::lock::LockError;
use crate::store::{DataDir, EntryKey, Opening, StoreChoice, Stored, TokenStore, Unlock, Writer};

/// The options of the helper git runs for `https://bitbucket.org`, as its configuration line
/// gives them: so that `login` saves where `get` will look, and `status`, `logout` and
/// `doctor` see the hosts it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    /// `auto` when the line names no store (`None`: a store this version does not know).
    pub store: Option<StoreChoice>,
    pub hosts: Vec<String>,
    pub unlock_timeout: Option<u64>,
}

/// [`Configured`] from git's configuration; `None` when git does not run this helper for
/// `https://bitbucket.org`; an error when git hung reading its configuration.
pub fn configured_helper() -> anyhow::Result<Option<Configured>> {
    let order = crate::scan::helper_order_here(&format!("https://{BITBUCKET_HOST}"))
        .context("cannot find the store git's helper uses (name one with --store)")?;
    Ok(order
        .helpers
        .iter()
        .find(|h| h.is_ours())
        .map(|helper| configured_from(&helper.value)))
}

/// The options in a helper's configuration value (`/path/git-credential-bitbucket --store
/// file --host h.example`), each as `--name value` or `--name=value`, read as the shell git
/// runs the line through reads it (`setup` quotes a host such as `[::1]:7999`), with the
/// bounds git's own command line has.
fn configured_from(value: &str) -> Configured {
    let mut configured = Configured {
        store: Some(StoreChoice::Auto),
        hosts: Vec::new(),
        unlock_timeout: None,
    };
    let words = shell::shell_words(value.strip_prefix('!').unwrap_or(value));
    let mut words = words.iter().map(String::as_str);
    while let Some(word) = words.next() {
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value)),
            _ => (word, None),
        };
        if !matches!(name, "--store" | "--host" | "--unlock-timeout") {
            continue;
        }
        let Some(value) = inline.or_else(|| words.next()) else {
            break;
        };
        match name {
            "--store" => configured.store = clap::ValueEnum::from_str(value, false).ok(),
            "--host" => configured.hosts.push(value.to_owned()),
            _ => {
                configured.unlock_timeout = value
                    .parse()
                    .ok()
                    .filter(|s| *s <= crate::store::MAX_UNLOCK_TIMEOUT)
            }
        }
    }
    configured
}

/// A store as `--store` spells it (`secret-service`).
pub fn store_flag(choice: StoreChoice) -> String {
    clap::ValueEnum::to_possible_value(&choice)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// What every command gets: the options, the user's data directory and the streams.
pub struct Context<'a> {
    pub store: StoreChoice,
    /// Whether and how long to wait for a person to unlock the keychain.
    pub unlock: Unlock,
    /// `--unlock-timeout` as given (or configured), for `setup` to write into the helper line.
    pub unlock_timeout: Option<u64>,
    pub extra_hosts: Vec<String>,
    pub hosts: ServedHosts,
    pub data_dir: Option<DataDir>,
    pub stdin: &'a mut dyn BufRead,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

impl Context<'_> {
    /// Opens the chosen store, with an error that says what to do.
    pub fn token_store(&self) -> anyhow::Result<TokenStore> {
        self.open_store(self.store)
    }

    /// Opens `choice`, with the data directory of this context.
    pub fn open_store(&self, choice: StoreChoice) -> anyhow::Result<TokenStore> {
        let opening = Opening {
            data_dir: self.data_dir.as_ref(),
            unlock: self.unlock.clone(),
        };
        TokenStore::open(choice, &opening)
            .context("cannot open the token store (choose another with --store)")
    }

    /// The tokens `auto` left in its fallback store while the Secret Service was locked, and
    /// the sentence that says so: `status` and `doctor` show them beside the others, so that
    /// a token is never in two stores unannounced. `None` when there are none.
    pub fn stray_tokens(&self, store: &TokenStore) -> Option<(Vec<Stored>, String)> {
        let stray = store.stray_entries(&self.served_hosts())?.ok()?;
        let first = stray.first()?;
        let said = format!(
            "{} token(s) are in the {} store, where auto saved them while the Secret Service \
             was locked; the next git operation that needs one moves it to the {} store",
            stray.len(),
            first.found_in.name(),
            store.backend().name()
        );
        Some((stray, said))
    }

    /// The host a command acts on: the only `--host` given, else bitbucket.org.
    pub fn default_host(&self) -> HostKey {
        match self.extra_hosts.as_slice() {
            [only] => HostKey::parse(only),
            _ => None,
        }
        .or_else(|| HostKey::parse(BITBUCKET_HOST))
        .expect("bitbucket.org is a valid host")
    }

    /// Every served host: bitbucket.org and each `--host`.
    pub fn served_hosts(&self) -> Vec<HostKey> {
        std::iter::once(BITBUCKET_HOST)
            .chain(self.extra_hosts.iter().map(String::as_str))
            .filter_map(HostKey::parse)
            .collect()
    }

    /// The entry for `workspace` (lower-cased) on the default host, or the host entry.
    pub fn entry_key(&self, workspace: Option<&str>) -> anyhow::Result<EntryKey> {
        let host = self.default_host();
        match workspace {
            None => Ok(EntryKey::host(host)),
            Some(ws) => {
                let ws = crate::policy::workspace_of(Some(ws))
                    .with_context(|| format!("{ws:?} is not a workspace slug"))?;
                Ok(EntryKey::workspace(host, ws))
            }
        }
    }

    /// A line for the person, on stdout.
    pub fn say(&mut self, line: impl AsRef<str>) {
        let _ = writeln!(self.out, "{}", line.as_ref());
    }

    /// A warning, on stderr with the program's prefix.
    pub fn warn(&mut self, message: impl AsRef<str>) {
        crate::diagnostics::note(self.err, message.as_ref());
    }
}

/// The writer of `store`, as `store` and `erase` take it. `deleting`: a command that removes
/// tokens fails when the lock cannot be taken at all, rather than delete unlocked; one that only
/// adds goes on without it when the data directory cannot hold it.
pub fn writer(store: &TokenStore, deleting: bool) -> anyhow::Result<Writer<'_>> {
    store.writer(deleting).map_err(|e| {
        let what = match e {
            LockError::Busy { .. } => "nothing was changed",
            LockError::Unavailable { .. } => "nothing was removed",
        };
        anyhow::Error::new(e).context(what)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_line_gives_its_store_hosts_and_unlock_timeout() {
        let line = "!'/home/u/.local/bin/git-credential-bitbucket' --store=file --host a.example \
                    --host=b.example:8443 --unlock-timeout 0";
        assert_eq!(
            configured_from(line),
            Configured {
                store: Some(StoreChoice::File),
                hosts: vec!["a.example".into(), "b.example:8443".into()],
                unlock_timeout: Some(0),
            }
        );
        let plain = configured_from("/usr/bin/git-credential-bitbucket");
        assert_eq!(
            (plain.store, plain.hosts.len()),
            (Some(StoreChoice::Auto), 0)
        );
        assert_eq!(configured_from("x --store nonsense").store, None);
    }

    /// `setup` quotes what the shell needs quoted; the line reads back as it was given.
    #[test]
    fn a_host_setup_quoted_reads_back_unquoted_and_the_wait_stays_bounded() {
        let exe = "/my tools/git-credential-bitbucket";
        let line = format!(
            "!{} --host {} --unlock-timeout 99999",
            shell::shell_quote(exe),
            shell::shell_quote("[::1]:7999")
        );
        let configured = configured_from(&line);
        assert_eq!(configured.hosts, ["[::1]:7999"]);
        assert_eq!(
            configured.unlock_timeout, None,
            "over the hour git's line allows"
        );
        assert_eq!(
            configured_from("x --unlock-timeout 3600").unlock_timeout,
            Some(3600)
        );
    }
}
