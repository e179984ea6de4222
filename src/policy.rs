//! Bitbucket's rules, in one place: which requests we serve, which kinds of secret we refuse
//! (the kinds themselves are told apart in [`crate::token`]), and what to tell a person when
//! something else turns up.
//!
//! Matching is exact on purpose. A global `credential.helper=bitbucket` is asked about every
//! host git talks to, so a prefix, suffix or look-alike match would hand the token to someone
//! else. Facts behind the rules: docs/facts.md (token shapes, checksum, what the server answers).

use crate::token::TokenKind;

/// The one username Bitbucket Cloud accepts with an API token over git HTTPS.
pub const API_TOKEN_USERNAME: &str = "x-bitbucket-api-token-auth";

/// The Bitbucket Cloud host.
pub const BITBUCKET_HOST: &str = "bitbucket.org";

/// What the helper does with a request, decided from its protocol and host alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A served host over https (or http to a loopback `--host`): answer from the store.
    Served(HostKey),
    /// A served host over plain http: refuse and make git stop, so no secret goes in clear.
    PlainHttp(HostKey),
    /// Anything else: no output, no keychain access.
    NotOurs,
}

/// A host as we store it: lower case, with `:443` removed for https.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostKey(String);

impl HostKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Normalises a `host[:port]` as given by git or `--host`, where `:443` is the https
    /// default. Returns `None` for an empty host or one with characters no host name has
    /// (space, `/`, `@`, control characters…).
    pub fn parse(host: &str) -> Option<HostKey> {
        Self::parse_with_default_port(host, ":443")
    }

    fn parse_with_default_port(host: &str, default_port: &str) -> Option<HostKey> {
        let lower = host.to_ascii_lowercase();
        let lower = lower.strip_suffix(default_port).unwrap_or(&lower);
        let valid = !lower.is_empty()
            && lower
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
        valid.then(|| HostKey(lower.to_owned()))
    }

    /// The host as written (brackets kept) and its port, if one is given.
    fn split_port(&self) -> (&str, Option<&str>) {
        let text = self.as_str();
        let after_brackets = text.rfind(']').map_or(0, |i| i + 1);
        match text[after_brackets..].rfind(':') {
            Some(i) => {
                let colon = after_brackets + i;
                let port = &text[colon + 1..];
                let numeric = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
                if numeric && (after_brackets > 0 || !text[..colon].contains(':')) {
                    (&text[..colon], Some(port))
                } else {
                    (text, None)
                }
            }
            None => (text, None),
        }
    }

    /// Host name without the port: `127.0.0.1:8080` → `127.0.0.1`, `[::1]:80` → `::1`.
    fn name(&self) -> &str {
        let text = self.as_str();
        if let Some(rest) = text.strip_prefix('[') {
            return rest.split(']').next().unwrap_or(rest);
        }
        match text.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => text,
        }
    }

    /// Loopback addresses may use plain http (test servers); nothing else may.
    pub fn is_loopback(&self) -> bool {
        let name = self.name();
        if name == "localhost" || name == "::1" {
            return true;
        }
        name.parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
    }
}

/// The hosts this helper answers for: bitbucket.org plus any named with `--host`.
#[derive(Debug, Clone)]
pub struct ServedHosts {
    /// As given (lower-cased): an explicit port is kept, so `--host 127.0.0.1:443` is never
    /// matched by `http://127.0.0.1` (port 80).
    extra: Vec<HostKey>,
}

impl ServedHosts {
    /// Builds the list; an extra host that cannot be a host name is an error naming it.
    pub fn new(extra: &[String]) -> Result<Self, String> {
        let extra = extra
            .iter()
            .map(|h| {
                HostKey::parse_with_default_port(h, "")
                    .ok_or_else(|| format!("--host {h:?} is not a host[:port]"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { extra })
    }

    /// Decides what to do with a request for `protocol://host`.
    pub fn scope(&self, protocol: Option<&str>, host: Option<&str>) -> Scope {
        let (Some(protocol), Some(host)) = (protocol, host) else {
            return Scope::NotOurs;
        };
        let protocol = protocol.to_ascii_lowercase();
        if protocol != "https" && protocol != "http" {
            return Scope::NotOurs;
        }
        let https = protocol == "https";
        let default_port = if https { "443" } else { "80" };
        let Some(given) = HostKey::parse_with_default_port(host, "") else {
            return Scope::NotOurs;
        };
        let (name, port) = given.split_port();
        let port = port.unwrap_or(default_port);
        let same = |other: &HostKey| {
            let (other_name, other_port) = other.split_port();
            other_name == name && other_port.unwrap_or(default_port) == port
        };
        let is_bitbucket = name == BITBUCKET_HOST && port == default_port;
        let is_extra = self.extra.iter().any(same);
        // The entry: `host` for https on 443, else `host:port` with the port the request used,
        // so a token saved for https is never the one answered for http on another port.
        let key = match (https, port) {
            (true, "443") => HostKey(name.to_owned()),
            _ => HostKey(format!("{name}:{port}")),
        };
        match (https, is_bitbucket || is_extra) {
            (_, false) => Scope::NotOurs,
            (true, true) => Scope::Served(key),
            (false, true) if is_extra && key.is_loopback() => Scope::Served(key),
            // Named as the person wrote it, for the message.
            (false, true) if port == default_port => Scope::PlainHttp(HostKey(name.to_owned())),
            (false, true) => Scope::PlainHttp(key),
        }
    }
}

/// The first path segment, when it looks like a Bitbucket workspace slug. Anything else
/// (empty, odd characters) means "no workspace": the host entry is used.
pub fn workspace_of(path: Option<&str>) -> Option<String> {
    let first = path?.trim_start_matches('/').split('/').next()?;
    is_slug(first).then(|| first.to_ascii_lowercase())
}

/// A Bitbucket slug: letters, digits, `-`, `_`, `.`; not `.` or `..`; 1 to 128 characters.
fn is_slug(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 128
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The repository a path names, `workspace/repo` in lower case without `.git`, when it is
/// exactly that: two slugs (letters, digits, `-`, `_`, `.`; not `.` or `..`; at most 128
/// characters each). Anything else (one segment, more than two, percent signs, odd
/// characters) names no repository this helper can tell apart, and `None` says so.
pub fn repository_of(path: &str) -> Option<String> {
    let path = path.trim_matches('/');
    let (workspace, repo) = path.split_once('/')?;
    let repo = repo.strip_suffix(".git").unwrap_or(repo);
    (is_slug(workspace) && is_slug(repo))
        .then(|| format!("{workspace}/{repo}").to_ascii_lowercase())
}

/// True when a segment of `path`, percent-decoded as the server will decode it, is `.` or
/// `..` (`bob/%2e%2e/alice/repo.git` reaches alice's repository, not bob's): such a path names
/// no workspace we can trust.
pub fn path_has_dot_segments(path: &str) -> bool {
    let decoded = crate::percent::decode(path);
    String::from_utf8_lossy(&decoded.bytes)
        .split(['/', '\\'])
        .any(|segment| segment == "." || segment == "..")
}

/// Why this helper will not store or hand back a secret of this kind, or `None` if it will.
pub fn refusal(kind: TokenKind) -> Option<&'static str> {
    match kind {
        TokenKind::AppPassword => Some(APP_PASSWORD_REFUSAL),
        TokenKind::AccessToken => Some(ACCESS_TOKEN_REFUSAL),
        TokenKind::DataCenterToken => Some(DATA_CENTER_REFUSAL),
        TokenKind::ApiToken | TokenKind::ApiTokenBadChecksum | TokenKind::Unknown => None,
    }
}

/// What to create instead of an app password; shared by every message that needs it (with
/// [`how_to_create`]'s word on where it then goes).
pub const HOW_TO_CREATE_A_TOKEN: &str = "Create an API token at https://id.atlassian.com/manage-profile/security/api-tokens \
(\"Create API token with scopes\", app Bitbucket) with read:repository:bitbucket, plus \
write:repository:bitbucket to push.";

/// How to create a token, and where it then goes: for a person, git asks once and this helper
/// keeps it; in CI (`ci`), where nobody is asked, the job's secret store hands it over.
pub fn how_to_create(ci: bool) -> String {
    let then = match ci {
        false => "git asks for it once; this helper keeps it in your keychain.",
        true => {
            "In CI nobody is asked: give it to the job from its secret store as \
                 BITBUCKET_API_TOKEN_FILE or BITBUCKET_API_TOKEN (docs/servers-and-ci.md)."
        }
    };
    format!("{HOW_TO_CREATE_A_TOKEN} {then}")
}

pub const APP_PASSWORD_REFUSAL: &str = "this is a Bitbucket app password (ATBB…). App passwords no \
longer work: Bitbucket rejects them since 2026-07-28. It was not stored and will not be sent.";

pub const ACCESS_TOKEN_REFUSAL: &str = "this is a repository, project or workspace access token \
(ATCTT…). Those go with the username x-token-auth; this helper serves personal API tokens \
(ATATT…) with the username x-bitbucket-api-token-auth. It was not stored.";

pub const DATA_CENTER_REFUSAL: &str = "this is a Bitbucket Data Center token (BBDC-…), for a \
self-hosted server, not Bitbucket Cloud. It was not stored.";

#[cfg(test)]
mod tests {
    use super::*;

    fn served() -> ServedHosts {
        ServedHosts::new(&["127.0.0.1:8080".into(), "git.example.com".into()]).unwrap()
    }

    fn key(s: &str) -> HostKey {
        HostKey::parse(s).unwrap()
    }

    #[test]
    fn bitbucket_over_https_is_served_in_any_case_and_with_port_443() {
        for host in ["bitbucket.org", "BitBucket.ORG", "bitbucket.org:443"] {
            assert_eq!(
                served().scope(Some("https"), Some(host)),
                Scope::Served(key("bitbucket.org")),
                "{host}"
            );
        }
    }

    #[test]
    fn look_alike_hosts_are_not_ours() {
        for host in [
            "evilbitbucket.org",
            "bitbucket.org.evil.example",
            "bitbucket.org:8443",
            "api.bitbucket.org",
            "bitbucket.org@evil.example",
            "bitbucket.org.",
            "xn--bitbucket-1za.org",
            "bitbucket.оrg",
            "",
            "127.0.0.1:8081",
            "127.0.0.1",
        ] {
            assert_eq!(
                served().scope(Some("https"), Some(host)),
                Scope::NotOurs,
                "{host}"
            );
        }
    }

    #[test]
    fn plain_http_to_bitbucket_is_refused_but_loopback_extra_hosts_may_use_it() {
        assert_eq!(
            served().scope(Some("http"), Some("bitbucket.org")),
            Scope::PlainHttp(key("bitbucket.org"))
        );
        assert_eq!(
            served().scope(Some("http"), Some("git.example.com")),
            Scope::PlainHttp(key("git.example.com"))
        );
        assert_eq!(
            served().scope(Some("http"), Some("127.0.0.1:8080")),
            Scope::Served(key("127.0.0.1:8080"))
        );
        assert_eq!(
            served().scope(Some("http"), Some("bitbucket.org:443")),
            Scope::NotOurs
        );
    }

    #[test]
    fn an_explicit_port_is_kept_so_https_entries_never_go_to_plain_http() {
        let hosts = ServedHosts::new(&["127.0.0.1:443".into(), "[::1]".into()]).unwrap();
        for https in ["127.0.0.1", "127.0.0.1:443"] {
            assert_eq!(
                hosts.scope(Some("https"), Some(https)),
                Scope::Served(key("127.0.0.1"))
            );
        }
        assert_eq!(hosts.scope(Some("http"), Some("127.0.0.1")), Scope::NotOurs);
        assert_eq!(
            hosts.scope(Some("http"), Some("127.0.0.1:80")),
            Scope::NotOurs
        );
        assert_eq!(
            hosts.scope(Some("http"), Some("127.0.0.1:443")),
            Scope::Served(HostKey("127.0.0.1:443".into()))
        );
        assert_eq!(
            hosts.scope(Some("http"), Some("[::1]")),
            Scope::Served(key("[::1]:80"))
        );
        assert_eq!(
            hosts.scope(Some("https"), Some("[::1]:443")),
            Scope::Served(key("[::1]"))
        );
        assert_ne!(key("127.0.0.1"), key("127.0.0.1:80"));
    }

    #[test]
    fn other_protocols_and_missing_fields_are_not_ours() {
        assert_eq!(
            served().scope(Some("ssh"), Some("bitbucket.org")),
            Scope::NotOurs
        );
        assert_eq!(served().scope(None, Some("bitbucket.org")), Scope::NotOurs);
        assert_eq!(served().scope(Some("https"), None), Scope::NotOurs);
    }

    #[test]
    fn loopback_is_recognised_only_for_loopback_names() {
        assert!(key("127.0.0.1:8080").is_loopback());
        assert!(key("127.1.2.3").is_loopback());
        assert!(key("localhost:9").is_loopback());
        assert!(key("[::1]:8080").is_loopback());
        assert!(!key("128.0.0.1").is_loopback());
        assert!(!key("localhost.evil.example").is_loopback());
    }

    #[test]
    fn workspace_is_the_first_path_segment_in_lower_case() {
        assert_eq!(workspace_of(Some("Acme/repo.git")), Some("acme".into()));
        assert_eq!(workspace_of(Some("/acme")), Some("acme".into()));
        assert_eq!(workspace_of(Some("")), None);
        assert_eq!(workspace_of(Some("a b/repo")), None);
        assert_eq!(workspace_of(Some("../x")), None);
        assert_eq!(workspace_of(None), None);
    }

    #[test]
    fn a_repository_is_exactly_two_slugs() {
        assert_eq!(repository_of("Acme/App.git").as_deref(), Some("acme/app"));
        assert_eq!(repository_of("/acme/app/").as_deref(), Some("acme/app"));
        assert_eq!(repository_of("acme/app").as_deref(), Some("acme/app"));
        let long = "a".repeat(129);
        for odd in [
            "acme",
            "acme/app/extra",
            "a~b/c.git",
            "+/x",
            "!/x",
            "{a}/b",
            "acme/%2e%2e",
            "acme/..",
            "./x",
            "acme/.git",
            "",
            &format!("{long}/x"),
        ] {
            assert_eq!(repository_of(odd), None, "{odd}");
        }
    }

    #[test]
    fn paths_with_dot_segments_are_recognised_however_encoded() {
        for path in [
            "bob/%2e%2e/alice/repo.git",
            "bob/%2E%2e/alice",
            "bob/../alice",
            "bob/./repo.git",
            "bob/%2e/repo.git",
            "bob/.%2E",
        ] {
            assert!(path_has_dot_segments(path), "{path}");
        }
        for path in [
            "bob/repo.git",
            "bob/..repo.git",
            "bob/repo..git",
            "bob/%2e%2ex",
            "",
        ] {
            assert!(!path_has_dot_segments(path), "{path}");
        }
    }

    #[test]
    fn only_legacy_access_and_data_center_tokens_are_refused() {
        assert!(refusal(TokenKind::AppPassword).is_some());
        assert!(refusal(TokenKind::AccessToken).is_some());
        assert!(refusal(TokenKind::DataCenterToken).is_some());
        assert!(refusal(TokenKind::ApiToken).is_none());
        assert!(refusal(TokenKind::ApiTokenBadChecksum).is_none());
        assert!(refusal(TokenKind::Unknown).is_none());
    }
}
