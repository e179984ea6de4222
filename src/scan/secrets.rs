//! Recognising a secret inside something git reads: a URL with `user:secret@`, or an
//! `Authorization` header. What is found stays wrapped in a [`Token`]; only its masked
//! fingerprint is ever shown.

use crate::policy::{HostKey, Scope, ServedHosts};
use crate::protocol;
use crate::token::{Token, TokenKind};

/// A secret found inside a URL or a header, for a served host.
#[derive(Debug)]
pub struct EmbeddedSecret {
    pub kind: TokenKind,
    pub fingerprint: String,
    pub token: Token,
    pub host: HostKey,
    pub path: Option<String>,
}

impl EmbeddedSecret {
    fn new(token: Token, host: HostKey, path: Option<String>) -> Self {
        EmbeddedSecret {
            kind: TokenKind::of_token(&token),
            fingerprint: token.fingerprint(),
            token,
            host,
            path,
        }
    }

    /// `api-token, ATATT…1A2B`.
    pub fn describe(&self) -> String {
        format!("{}, {}", self.kind.label(), self.fingerprint)
    }
}

/// The served host `url` points at (plain http only for loopback test servers).
pub fn served_host(url: &str, hosts: &ServedHosts) -> Option<(HostKey, protocol::Request)> {
    let request = protocol::decode(format!("url={url}\n").as_bytes()).ok()?;
    match hosts.scope(request.protocol.as_deref(), request.host.as_deref()) {
        Scope::Served(host) | Scope::PlainHttp(host) => Some((host, request)),
        Scope::NotOurs => None,
    }
}

/// The secret in `url` when it points at a served host and has one.
pub fn in_url(url: &str, hosts: &ServedHosts) -> Option<EmbeddedSecret> {
    let (host, mut request) = served_host(url, hosts)?;
    let token = request.password.take()?;
    Some(EmbeddedSecret::new(token, host, request.path.take()))
}

/// The secret in an `Authorization: Basic …` (its password) or `Authorization: Bearer …`
/// header value, for requests to `host`.
pub fn in_header(value: &str, host: HostKey) -> Option<EmbeddedSecret> {
    let (name, rest) = value.split_once(':')?;
    if !name.trim().eq_ignore_ascii_case("authorization") {
        return None;
    }
    let (scheme, credential) = rest.trim().split_once(char::is_whitespace)?;
    let credential = credential.trim();
    let token = if scheme.eq_ignore_ascii_case("basic") {
        let decoded = zeroize::Zeroizing::new(base64_decode(credential)?);
        let text = std::str::from_utf8(&decoded).ok()?;
        let (_user, password) = text.split_once(':')?;
        Token::new(password.to_owned())
    } else {
        Token::new(credential.to_owned())
    };
    (!token.expose().is_empty()).then(|| EmbeddedSecret::new(token, host, None))
}

/// Where the password of `url` sits, as a byte range of the text as written (still
/// percent-encoded): after the first `:` of the userinfo, before its `@`.
pub fn password_span(url: &str) -> Option<std::ops::Range<usize>> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |e| start + e);
    let at = start + url[start..end].rfind('@')?;
    let colon = start + url[start..at].find(':')?;
    Some(colon + 1..at)
}

/// Drops `user[:password]@` the way git splits a URL: the userinfo ends at the last `@`
/// before the path.
pub fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// A configuration key fit to show: a URL subsection (`http.<url>.extraHeader`,
/// `credential.<url>.helper`) loses any `user:password@`.
pub fn shown_key(key: &str) -> String {
    let Some((section, rest)) = key.split_once('.') else {
        return key.to_owned();
    };
    match rest.rsplit_once('.') {
        Some((subsection, variable)) if subsection.contains("://") => {
            format!("{section}.{}.{variable}", without_userinfo(subsection))
        }
        _ => key.to_owned(),
    }
}

/// Standard base64, or its URL-safe alphabet (padding optional, as people write headers by
/// hand); `None` for anything else. Ours rather than a crate's: a dozen lines, for one caller.
/// The tests check it against a reference implementation (the `base64` crate).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in text.trim_end_matches('=').bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    zeroize::Zeroize::zeroize(&mut buffer);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> ServedHosts {
        ServedHosts::new(&[]).expect("no extra hosts")
    }

    #[test]
    fn secrets_in_urls_are_found_masked_and_removed_from_the_url() {
        let url = "https://me:ATBB0123456789abcdefABCDEF012345@bitbucket.org/ws/r.git";
        let found = in_url(url, &hosts()).unwrap();
        assert_eq!(found.kind, TokenKind::AppPassword);
        assert_eq!(without_userinfo(url), "https://bitbucket.org/ws/r.git");
        assert!(!found.fingerprint.contains("0123456789abcdef"));
        assert_eq!(found.path.as_deref(), Some("ws/r.git"));
        assert_eq!(
            &url[password_span(url).unwrap()],
            "ATBB0123456789abcdefABCDEF012345"
        );
        assert!(in_url("https://me@bitbucket.org/ws/r.git", &hosts()).is_none());
        assert!(in_url("https://me:pw@github.com/ws/r.git", &hosts()).is_none());
    }

    #[test]
    fn keys_are_shown_without_credentials_in_their_url() {
        assert_eq!(
            shown_key("http.https://u:s3cret@bitbucket.org/.extraheader"),
            "http.https://bitbucket.org/.extraheader"
        );
        assert_eq!(shown_key("remote.origin.url"), "remote.origin.url");
        assert_eq!(shown_key("credential.helper"), "credential.helper");
    }

    #[test]
    fn authorization_headers_give_up_their_secret() {
        let host = HostKey::parse("bitbucket.org").unwrap();
        // base64("x-token-auth:s3cret")
        let basic = in_header(
            "Authorization: Basic eC10b2tlbi1hdXRoOnMzY3JldA==",
            host.clone(),
        );
        assert_eq!(basic.unwrap().token.expose(), "s3cret");
        let bearer = in_header("authorization:  bearer ATCTT3xFfGF0abc", host.clone());
        assert_eq!(bearer.unwrap().kind, TokenKind::AccessToken);
        assert!(in_header("X-Trace: 1", host.clone()).is_none());
        assert!(in_header("Authorization: Basic !!!", host).is_none());
    }

    mod against_a_reference {
        use super::super::*;
        use base64::Engine as _;
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        use proptest::prelude::*;

        proptest! {
            /// Whatever bytes the reference encodes, in either alphabet, padded or not, ours
            /// decodes back to them; and a Basic header's password comes out whole.
            #[test]
            fn decodes_what_the_reference_encodes(
                bytes in proptest::collection::vec(any::<u8>(), 0..200),
                password in "[^\x00]{1,60}",
            ) {
                for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
                    prop_assert_eq!(base64_decode(&engine.encode(&bytes)), Some(bytes.clone()));
                }
                let header = format!(
                    "Authorization: Basic {}",
                    STANDARD.encode(format!("x-token-auth:{password}"))
                );
                let host = HostKey::parse("bitbucket.org").unwrap();
                let found = in_header(&header, host).map(|s| s.token.expose().to_owned());
                prop_assert_eq!(found.as_deref(), Some(password.as_str()));
            }

            /// A character of neither alphabet is refused, by ours as by the reference.
            #[test]
            fn refuses_a_character_of_neither_alphabet(
                before in "[A-Za-z0-9]{0,12}",
                bad in "[^A-Za-z0-9+/_=-]",
                after in "[A-Za-z0-9]{0,12}",
            ) {
                let text = format!("{before}{bad}{after}");
                prop_assert!(STANDARD_NO_PAD.decode(&text).is_err());
                prop_assert!(URL_SAFE_NO_PAD.decode(&text).is_err());
                prop_assert_eq!(base64_decode(&text), None);
            }
        }
    }
}
