//! Finding credentials where they should not be, for `doctor` and `migrate`: the helpers git
//! will ask for bitbucket.org, remote URLs with a secret in them, and Bitbucket lines in
//! git-credential-store files. Findings carry the secret wrapped, never as plain text.

use std::path::{Path, PathBuf};

use crate::policy::{BITBUCKET_HOST, HostKey, Scope, ServedHosts, TokenKind};
use crate::protocol;
use crate::token::Token;

/// A secret found inside a URL.
#[derive(Debug)]
pub struct EmbeddedSecret {
    pub kind: TokenKind,
    pub fingerprint: String,
    pub token: Token,
    pub host: HostKey,
    pub path: Option<String>,
    /// The same URL without `user:password@`.
    pub clean_url: String,
}

/// The secret in `url` when it points at bitbucket.org (or a served host) and has one.
pub fn embedded_secret_for(url: &str, hosts: &ServedHosts) -> Option<EmbeddedSecret> {
    let request = protocol::decode(format!("url={url}\n").as_bytes()).ok()?;
    let token = request.password?;
    let host = match hosts.scope(request.protocol.as_deref(), request.host.as_deref()) {
        Scope::Served(host) | Scope::PlainHttp(host) => host,
        Scope::NotOurs => return None,
    };
    Some(EmbeddedSecret {
        kind: TokenKind::of_token(&token),
        fingerprint: token.fingerprint(),
        token,
        host,
        path: request.path,
        clean_url: without_userinfo(url),
    })
}

/// [`embedded_secret_for`] with only bitbucket.org served.
#[cfg(test)]
pub fn embedded_secret(url: &str) -> Option<EmbeddedSecret> {
    embedded_secret_for(url, &ServedHosts::new(&[]).expect("no extra hosts"))
}

/// Drops `user[:password]@` the way git splits a URL: the first `@` before the path.
pub fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].find('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// Every `remote.NAME.url` / `pushurl` of the repository in the current directory, as
/// (config key, url); `None` outside a repository.
pub fn remote_urls() -> Option<Vec<(String, String)>> {
    let inside = crate::git::git(["rev-parse", "--git-dir"]).ok()?;
    if !inside.success {
        return None;
    }
    let out = crate::git::git([
        "config",
        "--local",
        "--null",
        "--get-regexp",
        r"^remote\..*\.(url|pushurl)$",
    ])
    .ok()?;
    Some(
        out.stdout
            .split_terminator('\0')
            .filter_map(|entry| entry.split_once('\n'))
            .map(|(key, url)| (key.to_owned(), url.to_owned()))
            .collect(),
    )
}

/// `remote.origin.url` → `origin`.
pub fn remote_name(key: &str) -> &str {
    let inner = key.strip_prefix("remote.").unwrap_or(key);
    inner.rsplit_once('.').map_or(inner, |(name, _)| name)
}

/// git-credential-store's files: `~/.git-credentials` and `$XDG_CONFIG_HOME/git/credentials`.
pub fn credential_files() -> Vec<PathBuf> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else {
        return Vec::new();
    };
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    [
        home.join(".git-credentials"),
        config.join("git/credentials"),
    ]
    .into_iter()
    .filter(|p| p.is_file())
    .collect()
}

/// The lines of a git-credentials file for a served host, numbered from 1, with their secrets.
pub fn bitbucket_lines_for(path: &Path, hosts: &ServedHosts) -> Vec<(usize, EmbeddedSecret)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let text = zeroize::Zeroizing::new(text);
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| Some((i + 1, embedded_secret_for(line.trim(), hosts)?)))
        .collect()
}

/// The `credential.helper` values git uses for https://bitbucket.org, in order, with `""`
/// resets applied (system, global, then local configuration, as git reads them).
pub fn helpers_for_bitbucket() -> Vec<String> {
    let Ok(out) = crate::git::git([
        "config",
        "--null",
        "--get-regexp",
        r"^credential\..*helper$",
    ]) else {
        return Vec::new();
    };
    let mut helpers = Vec::new();
    for entry in out.stdout.split_terminator('\0') {
        let (key, value) = entry.split_once('\n').unwrap_or((entry, ""));
        let Some(pattern) = key
            .strip_prefix("credential.")
            .and_then(|k| k.strip_suffix("helper"))
        else {
            continue;
        };
        let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
        if !pattern.is_empty() && !matches_bitbucket(pattern) {
            continue;
        }
        if value.is_empty() {
            helpers.clear();
        } else {
            helpers.push(value.to_owned());
        }
    }
    helpers
}

/// Does a `credential.<pattern>` section apply to every https://bitbucket.org URL?
fn matches_bitbucket(pattern: &str) -> bool {
    let Ok(request) = protocol::decode(format!("url={pattern}\n").as_bytes()) else {
        return false;
    };
    request
        .protocol
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
        && request
            .host
            .as_deref()
            .and_then(HostKey::parse)
            .map(|h| h.as_str().to_owned())
            == Some(BITBUCKET_HOST.to_owned())
        && request.path.is_none()
        && request.username.is_none()
}

/// True for a helper value that runs this program.
pub fn is_this_helper(value: &str) -> bool {
    value.split_whitespace().next() == Some("bitbucket")
        || value.contains("git-credential-bitbucket")
}

/// A helper's name for a report: its first word, or "an inline shell helper" for `!…` scripts
/// (which sometimes embed a secret).
pub fn helper_name(value: &str) -> String {
    if value.starts_with('!') && !is_this_helper(value) {
        return "an inline shell helper".to_owned();
    }
    format!("'{}'", value.split_whitespace().next().unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_urls_are_found_masked_and_removed_from_the_url() {
        let url = "https://me:ATBB0123456789abcdefABCDEF012345@bitbucket.org/ws/r.git";
        let found = embedded_secret(url).unwrap();
        assert_eq!(found.kind, TokenKind::AppPassword);
        assert_eq!(found.clean_url, "https://bitbucket.org/ws/r.git");
        assert!(!found.fingerprint.contains("0123456789abcdef"));
        assert_eq!(found.path.as_deref(), Some("ws/r.git"));
        assert!(embedded_secret("https://me@bitbucket.org/ws/r.git").is_none());
        assert!(embedded_secret("https://me:pw@github.com/ws/r.git").is_none());
    }

    #[test]
    fn only_whole_host_patterns_for_https_bitbucket_match() {
        assert!(matches_bitbucket("https://bitbucket.org"));
        assert!(matches_bitbucket("https://BitBucket.org/"));
        assert!(!matches_bitbucket("https://bitbucket.org/ws"));
        assert!(!matches_bitbucket("https://github.com"));
        assert!(!matches_bitbucket("bitbucket.org"));
    }

    #[test]
    fn helper_names_hide_inline_scripts() {
        assert_eq!(
            helper_name("!f() { echo password=x; }; f"),
            "an inline shell helper"
        );
        assert_eq!(helper_name("osxkeychain"), "'osxkeychain'");
        assert!(is_this_helper("bitbucket --store file"));
        assert!(is_this_helper(
            "!'/opt/x/git-credential-bitbucket' --host h"
        ));
        assert!(!is_this_helper("store"));
    }

    #[test]
    fn remote_names_come_from_config_keys() {
        assert_eq!(remote_name("remote.origin.url"), "origin");
        assert_eq!(remote_name("remote.my.fork.pushurl"), "my.fork");
    }
}
