//! git's credential-helper wire format: lenient decode, strict encode.
//!
//! Decoding follows git's own `credential_read`: `key=value` lines split on the first `=`, up to
//! a blank line or EOF, unknown keys ignored, `url=` replacing what came before it, `key[]`
//! lists where an empty value resets the list. Memory stays bounded whatever arrives: one line
//! buffer of at most [`MAX_LINE`] bytes, reused and zeroed, and at most [`MAX_REQUEST`] bytes in
//! all. Errors name a line number and a key, never a value. Encoding refuses any value that
//! would break the format (LF, CR, NUL), so nothing we write can inject an attribute.

use std::io::{BufRead, Read, Write};

use zeroize::{Zeroize, Zeroizing};

use crate::token::Token;

/// git's limit for one line (`LARGE_PACKET_MAX`-sized buffers; docs/facts.md).
pub const MAX_LINE: usize = 65535;
/// The most we read for one request. Real requests are a few hundred bytes.
pub const MAX_REQUEST: usize = 1 << 20;
/// The most values kept for one `key[]` list.
const MAX_LIST: usize = 64;

/// What git tells a helper. Only what this helper reads is kept.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub path: Option<String>,
    pub username: Option<String>,
    pub password: Option<Token>,
    pub capabilities: Vec<String>,
    pub wwwauth: Vec<String>,
    /// git 2.46+: the scheme of a credential other than a password (`Bearer`), which an
    /// `erase` names when another helper's credential was rejected.
    pub authtype: Option<String>,
    /// That credential itself: a secret, kept wrapped.
    pub credential: Option<Token>,
}

impl Request {
    /// True when the request names a credential that is not a password (`authtype=` or
    /// `credential=`): never one of this helper's tokens.
    pub fn names_another_credential(&self) -> bool {
        self.authtype.as_deref().is_some_and(|a| !a.is_empty())
            || self
                .credential
                .as_ref()
                .is_some_and(|c| !c.expose().is_empty())
    }
}

/// Why a request cannot be answered. The message names a line and a key, never a value.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("input line {line} is longer than {MAX_LINE} bytes; ignoring the request")]
    LineTooLong { line: usize },
    #[error("the request is larger than {MAX_REQUEST} bytes; ignoring it")]
    TooLarge,
    #[error("the value of `{key}` on input line {line} contains a {what}; ignoring the request")]
    ForbiddenByte {
        line: usize,
        key: String,
        what: &'static str,
    },
    #[error("the value of `{key}` on input line {line} is not UTF-8; ignoring the request")]
    NotUtf8 { line: usize, key: String },
    #[error("`url` on input line {line} is not a URL git would send; ignoring the request")]
    BadUrl { line: usize },
    #[error("reading the request failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one request from `input`, stopping at a blank line or EOF.
pub fn decode(input: impl BufRead) -> Result<Request, DecodeError> {
    let mut input = input.take(MAX_REQUEST as u64);
    let mut request = Request::default();
    // One buffer, allocated once at its full size so no reallocation leaves a copy of a
    // password behind; what was written to it is zeroed after every line and on drop (only
    // that: zeroing all 64 KiB would cost a page fault per untouched page, on every request).
    let mut line = ZeroedWhenDropped(Vec::with_capacity(MAX_LINE + 2));
    let line = &mut line.0;
    let mut number = 0;
    loop {
        number += 1;
        line.clear();
        let read = (&mut input)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', line)?;
        if read == 0 {
            if input.limit() == 0 {
                return Err(DecodeError::TooLarge); // never answer from a truncated request
            }
            break; // EOF
        }
        let ended = line.last() == Some(&b'\n');
        if ended {
            line.pop();
        } else if line.len() > MAX_LINE {
            return Err(DecodeError::LineTooLong { line: number });
        } else if input.limit() == 0 {
            return Err(DecodeError::TooLarge);
        }
        if line.is_empty() {
            break; // the blank line that ends a request
        }
        apply_line(&mut request, line, number)?;
        line.as_mut_slice().zeroize();
    }
    Ok(request)
}

/// Zeroes the vector's contents (not its spare capacity) when dropped.
struct ZeroedWhenDropped(Vec<u8>);

impl Drop for ZeroedWhenDropped {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

fn apply_line(request: &mut Request, line: &[u8], number: usize) -> Result<(), DecodeError> {
    let Some(eq) = line.iter().position(|&b| b == b'=') else {
        return Ok(()); // not key=value: git ignores it too
    };
    let (key, value) = (&line[..eq], &line[eq + 1..]);
    let Ok(key) = std::str::from_utf8(key) else {
        return Ok(()); // no key we know is anything but ASCII
    };
    if !is_known(key) {
        return Ok(());
    }
    if let Some(what) = forbidden_byte(value) {
        return Err(DecodeError::ForbiddenByte {
            line: number,
            key: key.to_owned(),
            what,
        });
    }
    let Ok(value) = std::str::from_utf8(value) else {
        return Err(DecodeError::NotUtf8 {
            line: number,
            key: key.to_owned(),
        });
    };
    match key {
        "protocol" => request.protocol = Some(value.to_owned()),
        "host" => request.host = Some(value.to_owned()),
        "path" => request.path = Some(value.to_owned()),
        "username" => request.username = Some(value.to_owned()),
        "password" => request.password = Some(Token::new(value.to_owned())),
        "url" => apply_url(request, value).ok_or(DecodeError::BadUrl { line: number })?,
        "capability[]" => push_list(&mut request.capabilities, value),
        "wwwauth[]" => push_list(&mut request.wwwauth, value),
        "authtype" => request.authtype = Some(value.to_owned()),
        "credential" => request.credential = Some(Token::new(value.to_owned())),
        _ => unreachable!("is_known lists exactly the keys matched here"),
    }
    Ok(())
}

fn is_known(key: &str) -> bool {
    matches!(
        key,
        "protocol"
            | "host"
            | "path"
            | "username"
            | "password"
            | "url"
            | "capability[]"
            | "wwwauth[]"
            | "authtype"
            | "credential"
    )
}

fn forbidden_byte(value: &[u8]) -> Option<&'static str> {
    if value.contains(&0) {
        Some("NUL byte")
    } else if value.contains(&b'\r') {
        Some("carriage return")
    } else {
        None
    }
}

fn push_list(list: &mut Vec<String>, value: &str) {
    if value.is_empty() {
        list.clear(); // git: an empty value resets the list
    } else if list.len() < MAX_LIST {
        list.push(value.to_owned());
    }
}

/// git's `credential_from_url`, step for step: the URL replaces everything read so far; the
/// host ends at the first `/`, `?` or `#`; user and password come before the *first* `@` if it
/// is inside the host part; every part is percent-decoded; the path loses its outer slashes.
fn apply_url(request: &mut Request, url: &str) -> Option<()> {
    *request = Request::default();
    let (protocol, rest) = url.split_once("://")?;
    if protocol.is_empty() {
        return None;
    }
    let slash = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest.find('@').filter(|&at| at < slash);
    let colon = rest.find(':');
    let mut parsed = Request {
        protocol: Some(protocol.to_owned()),
        ..Request::default()
    };
    let host_start = match (at, colon) {
        (None, _) => 0,
        (Some(at), Some(colon)) if colon < at => {
            parsed.username = Some(percent_decode(&rest[..colon])?);
            parsed.password = Some(Token::new(percent_decode(&rest[colon + 1..at])?));
            at + 1
        }
        (Some(at), _) => {
            parsed.username = Some(percent_decode(&rest[..at])?);
            at + 1
        }
    };
    parsed.host = Some(percent_decode(&rest[host_start..slash])?);
    let path = rest[slash..].trim_start_matches('/').trim_end_matches('/');
    if !path.is_empty() {
        parsed.path = Some(percent_decode(path)?);
    }
    *request = parsed;
    Some(())
}

/// Percent-decodes as git does (a `%` without two hex digits is kept); `None` if the result
/// is not UTF-8 or holds a byte git would refuse.
fn percent_decode(text: &str) -> Option<String> {
    let decoded = crate::percent::decode(text);
    if decoded
        .bytes
        .iter()
        .any(|&b| matches!(b, 0 | b'\n' | b'\r'))
    {
        return None;
    }
    // A password may be decoded here: bytes that are not UTF-8 are zeroed, not just dropped.
    String::from_utf8(decoded.bytes.to_vec())
        .map_err(|e| zeroize::Zeroize::zeroize(&mut e.into_bytes()))
        .ok()
}

/// What a helper answers to `get`.
#[derive(Debug, Default)]
pub struct Response {
    pub username: Option<String>,
    pub password: Option<Token>,
    pub password_expiry_utc: Option<u64>,
    pub quit: bool,
}

/// A value we were about to write would have broken the format.
#[derive(Debug, thiserror::Error)]
#[error("refusing to write `{key}`: its value contains a line break or NUL")]
pub struct EncodeError {
    pub key: &'static str,
}

impl Response {
    /// Writes the response in one `write_all`, from a buffer that is zeroed afterwards.
    pub fn encode<W: Write + ?Sized>(&self, out: &mut W) -> Result<(), EncodeErrorOrIo> {
        let Response {
            username,
            password,
            password_expiry_utc,
            quit,
        } = self;
        let mut buffer = Zeroizing::new(Vec::with_capacity(512));
        let expiry = password_expiry_utc.map(|t| t.to_string());
        let fields: [(&'static str, Option<&str>); 4] = [
            ("username", username.as_deref()),
            ("password", password.as_ref().map(Token::expose)),
            ("password_expiry_utc", expiry.as_deref()),
            ("quit", quit.then_some("1")),
        ];
        for (key, value) in fields {
            let Some(value) = value else { continue };
            if value.bytes().any(|b| matches!(b, 0 | b'\n' | b'\r')) {
                return Err(EncodeError { key }.into());
            }
            buffer.extend_from_slice(key.as_bytes());
            buffer.push(b'=');
            buffer.extend_from_slice(value.as_bytes());
            buffer.push(b'\n');
        }
        out.write_all(&buffer)?;
        out.flush()?;
        Ok(())
    }
}

/// Encoding fails on a bad value or on the write itself.
#[derive(Debug, thiserror::Error)]
pub enum EncodeErrorOrIo {
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("writing the answer to git failed: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
