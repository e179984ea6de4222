//! Finding credentials where git would use or leak them — the scan `doctor` reports and
//! `migrate` acts on, so the two never disagree about what exists.
//!
//! Looked at, as git really uses them: remote and submodule URLs in every configuration file
//! git reads (includes, `config.worktree`, global and system too), `.gitmodules` and the
//! submodules' own repositories, `url.<base>.insteadOf`/`pushInsteadOf` bases,
//! `http[.<url>].extraHeader` with an `Authorization` header, git-credential-store's files,
//! and the order of credential helpers. Secrets stay wrapped; places are named by file and
//! key, never by the secret they hold.

pub mod config;
pub mod credential_files;
pub mod helpers;
pub mod secrets;

use std::path::PathBuf;

use zeroize::Zeroizing;

use crate::policy::{BITBUCKET_HOST, HostKey, ServedHosts};
pub use config::{Entry, Origin, Repository};
pub use secrets::EmbeddedSecret;

/// A secret somewhere git reads it.
pub struct Finding {
    pub origin: Origin,
    pub spot: Spot,
    pub secret: EmbeddedSecret,
}

/// What holds the secret inside its file, and so how it comes out.
pub enum Spot {
    /// `remote.NAME.url`/`pushurl` or `submodule.NAME.url` holds `user:secret@`.
    UrlValue {
        key: String,
        value: Zeroizing<String>,
        clean: String,
    },
    /// A `[url "BASE"]` section whose base holds `user:secret@` (for `insteadOf` and
    /// `pushInsteadOf`).
    RewriteBase {
        base: Zeroizing<String>,
        clean: String,
    },
    /// `http[.URL].extraHeader = Authorization: …`.
    Header {
        key: String,
        value: Zeroizing<String>,
    },
    /// A line of a git-credentials file.
    CredentialLine {
        number: usize,
        text: Zeroizing<Vec<u8>>,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = &self.origin;
        match &self.spot {
            Spot::UrlValue { key, .. } => {
                let entry = key.split_once('.').map_or("", |(s, _)| s);
                let name = key
                    .split_once('.')
                    .and_then(|(_, rest)| rest.rsplit_once('.'))
                    .map_or(key.as_str(), |(n, _)| n);
                write!(f, "{entry} '{name}' ({key}) in {origin}")
            }
            Spot::RewriteBase { clean, .. } => {
                write!(f, "url \"{clean}\" (insteadOf) in {origin}")
            }
            Spot::Header { key, .. } => write!(f, "{} in {origin}", secrets::shown_key(key)),
            Spot::CredentialLine { number, .. } => write!(f, "{origin} line {number}"),
        }
    }
}

/// Everything the scan reads once: configuration as git applies it here, and the findings.
pub struct Scan {
    pub repository: Option<Repository>,
    pub entries: Vec<Entry>,
    pub findings: Vec<Finding>,
}

impl Scan {
    /// Reads git's configuration, the submodules and the credentials files from the current
    /// directory.
    pub fn here(hosts: &ServedHosts) -> std::io::Result<Scan> {
        let repository = Repository::here()?;
        let entries = config::effective(repository.as_ref().map(|r| r.top.as_path()))?;
        let mut findings = Vec::new();
        let mut extra_files: Vec<PathBuf> = Vec::new();
        if let Some(repo) = &repository {
            extra_files.extend(repo.gitmodules());
            extra_files.extend(repo.submodule_configs());
        }
        let mut extra_entries: Vec<Entry> = Vec::new();
        for path in &extra_files {
            extra_entries.extend(config::file(path)?);
        }
        for entry in entries.iter().chain(&extra_entries) {
            if let Some(finding) = classify(entry, hosts)
                && !findings.iter().any(|f| same_place(f, &finding))
            {
                findings.push(finding);
            }
        }
        for path in credential_files::paths() {
            for line in credential_files::bitbucket_lines(&path, hosts) {
                findings.push(Finding {
                    origin: Origin::File(path.clone()),
                    spot: Spot::CredentialLine {
                        number: line.number,
                        text: line.text,
                    },
                    secret: line.secret,
                });
            }
        }
        Ok(Scan {
            repository,
            entries,
            findings,
        })
    }

    /// The helpers git asks for URLs under `scope` (`https://bitbucket.org`).
    pub fn helper_order(&self, scope: &str) -> helpers::HelperOrder {
        helpers::HelperOrder::from_entries(&self.entries, scope)
    }
}

/// Only the helper order, for commands that need nothing else (reads no credentials file).
pub fn helper_order_here(scope: &str) -> std::io::Result<helpers::HelperOrder> {
    let repository = Repository::here()?;
    let entries = config::effective(repository.as_ref().map(|r| r.top.as_path()))?;
    Ok(helpers::HelperOrder::from_entries(&entries, scope))
}

/// One leak per place: a file included twice, or a section with both `insteadOf` and
/// `pushInsteadOf`, is still one thing to fix.
fn same_place(a: &Finding, b: &Finding) -> bool {
    a.origin == b.origin
        && match (&a.spot, &b.spot) {
            (
                Spot::UrlValue {
                    key: k1, value: v1, ..
                },
                Spot::UrlValue {
                    key: k2, value: v2, ..
                },
            )
            | (Spot::Header { key: k1, value: v1 }, Spot::Header { key: k2, value: v2 }) => {
                k1 == k2 && v1 == v2
            }
            (Spot::RewriteBase { base: b1, .. }, Spot::RewriteBase { base: b2, .. }) => b1 == b2,
            _ => false,
        }
}

/// The finding a configuration entry is, if it holds a secret for a served host.
fn classify(entry: &Entry, hosts: &ServedHosts) -> Option<Finding> {
    let (section, subsection, variable) = entry.parts();
    let value = entry.value();
    let (spot, secret) = match (section, subsection, variable) {
        ("remote", Some(_), "url" | "pushurl") | ("submodule", Some(_), "url") => {
            let secret = secrets::in_url(value, hosts)?;
            let spot = Spot::UrlValue {
                key: entry.key.clone(),
                value: Zeroizing::new(value.to_owned()),
                clean: secrets::without_userinfo(value),
            };
            (spot, secret)
        }
        ("url", Some(base), "insteadof" | "pushinsteadof") => {
            let secret = secrets::in_url(base, hosts)?;
            let spot = Spot::RewriteBase {
                base: Zeroizing::new(base.to_owned()),
                clean: secrets::without_userinfo(base),
            };
            (spot, secret)
        }
        ("http", url, "extraheader") => {
            let host = match url {
                None => HostKey::parse(BITBUCKET_HOST)?,
                Some(url) => secrets::served_host(url, hosts)?.0,
            };
            let secret = secrets::in_header(value, host)?;
            let spot = Spot::Header {
                key: entry.key.clone(),
                value: Zeroizing::new(value.to_owned()),
            };
            (spot, secret)
        }
        _ => return None,
    };
    Some(Finding {
        origin: entry.origin.clone(),
        spot,
        secret,
    })
}
