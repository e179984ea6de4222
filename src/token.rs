//! The secret newtype, and what a secret's shape says it is.
//!
//! A token is wrapped from the moment its bytes are read until the keychain call or the
//! `password=` line that needs it. `Debug` prints `Token(REDACTED)`, the memory is zeroed on
//! drop, and [`Token::expose`] is the one door to the plain text, so every use of the secret
//! can be found with a search for that name.
//!
//! [`TokenKind`] lives here because it is a fact about the secret alone (its prefix and its
//! CRC-32 checksum, docs/facts.md), and the token's own [`Token::fingerprint`] needs it. What the
//! helper does with each kind, and what it tells a person about it, is Bitbucket policy and
//! stays in [`crate::policy`].

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

/// An API token (or whatever git handed us as a password), never printed.
///
/// ```
/// use git_credential_bitbucket::token::Token;
/// let token = Token::new("ATATT-not-a-real-token".to_string());
/// assert_eq!(format!("{token:?}"), "Token(REDACTED)");
/// ```
pub struct Token(SecretString);

impl Token {
    /// Takes ownership of the text. A `String` whose buffer is exactly its length is moved,
    /// not copied; a larger buffer (a keychain read into 64 KiB) is copied to one that fits
    /// and zeroed, since the shrink `SecretString` does would otherwise free it, token and
    /// all, where the allocator moves the text (musl does).
    pub fn new(mut text: String) -> Self {
        if text.capacity() == text.len() {
            return Self(SecretString::from(text));
        }
        let fitted = text.as_str().to_owned();
        text.zeroize();
        Self(SecretString::from(fitted))
    }

    /// Takes bytes from a keychain. Bytes that are not UTF-8 are zeroed and refused.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        match String::from_utf8(bytes) {
            Ok(text) => Some(Self::new(text)),
            Err(err) => {
                err.into_bytes().zeroize();
                None
            }
        }
    }

    /// The plain text. Call it only beside the keychain call or the protocol write.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Compares two tokens without an early exit on the first differing byte, so the time
    /// taken says nothing about how much of a guess was right.
    pub fn constant_time_eq(&self, other: &Token) -> bool {
        let (a, b) = (self.expose().as_bytes(), other.expose().as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        std::hint::black_box(difference) == 0
    }

    /// For an API token with a valid checksum, its prefix and the last four characters of the
    /// checksum, e.g. `ATATT…1A2B`: enough to tell two tokens apart in a listing, and nothing of
    /// the random part. Any other secret (a typed password, a truncated token) shows no part of
    /// itself, only a short hash: `hash:1a2b3c`.
    pub fn fingerprint(&self) -> String {
        let text = self.expose();
        if TokenKind::of(text) == TokenKind::ApiToken {
            let suffix: String = text.chars().skip(text.chars().count() - 4).collect();
            return format!("ATATT…{suffix}");
        }
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(b"git-credential-bitbucket fingerprint\0");
        hasher.update(text.as_bytes());
        // 24 bits: tells two secrets apart, too few to confirm a guessed password.
        format!("hash:{:06x}", hasher.finalize() >> 8)
    }
}

impl Clone for Token {
    fn clone(&self) -> Self {
        Self::new(self.expose().to_owned())
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(REDACTED)")
    }
}

/// What kind of secret a string is, judged offline from its shape (docs/facts.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `ATATT…` whose last eight characters are the CRC-32 of the rest.
    ApiToken,
    /// `ATATT…` whose checksum does not match: truncated or mistyped.
    ApiTokenBadChecksum,
    /// `ATBB…`: a legacy app password, rejected by Bitbucket since 2026-07-28.
    AppPassword,
    /// `ATCTT…`: a repository, project or workspace access token (username `x-token-auth`).
    AccessToken,
    /// `BBDC-…`: a Bitbucket Data Center token, another product.
    DataCenterToken,
    /// Something else. It may still work (very old app passwords had no prefix).
    Unknown,
}

impl TokenKind {
    /// The kind of a wrapped token.
    pub fn of_token(token: &Token) -> TokenKind {
        Self::of(token.expose())
    }

    /// The kind of a secret's plain text, by its prefix and, for API tokens, its checksum.
    pub fn of(secret: &str) -> TokenKind {
        if secret.starts_with("ATBB") {
            TokenKind::AppPassword
        } else if secret.starts_with("ATCTT") {
            TokenKind::AccessToken
        } else if secret.starts_with("BBDC-") {
            TokenKind::DataCenterToken
        } else if secret.starts_with("ATATT") {
            if checksum_matches(secret) {
                TokenKind::ApiToken
            } else {
                TokenKind::ApiTokenBadChecksum
            }
        } else {
            TokenKind::Unknown
        }
    }

    /// A short name for listings.
    pub fn label(self) -> &'static str {
        match self {
            TokenKind::ApiToken => "api-token",
            TokenKind::ApiTokenBadChecksum => "api-token-bad-checksum",
            TokenKind::AppPassword => "app-password",
            TokenKind::AccessToken => "access-token",
            TokenKind::DataCenterToken => "data-center-token",
            TokenKind::Unknown => "unknown",
        }
    }
}

/// True when the last 8 characters are the upper-case hex CRC-32 of everything before them.
pub fn checksum_matches(secret: &str) -> bool {
    let Some(split) = secret.len().checked_sub(8) else {
        return false;
    };
    if !secret.is_char_boundary(split) {
        return false;
    }
    let (body, checksum) = secret.split_at(split);
    let expected = format!("{:08X}", crc32fast::hash(body.as_bytes()));
    checksum == expected
}

#[cfg(test)]
mod tests {
    use super::{Token, TokenKind, checksum_matches};

    #[test]
    fn a_token_read_into_a_larger_buffer_keeps_its_text_in_one_that_fits() {
        let mut read = String::with_capacity(65_536);
        read.push_str("ATATTsecret-body=0123ABCD");
        let token = Token::from_bytes(read.into_bytes()).expect("UTF-8");
        assert_eq!(token.expose(), "ATATTsecret-body=0123ABCD");
        let moved = String::from("ATATTexact");
        let at = moved.as_ptr();
        assert_eq!(
            Token::new(moved).expose().as_ptr(),
            at,
            "an exact buffer is moved"
        );
    }

    #[test]
    fn debug_never_shows_the_text() {
        let token = Token::new("ATATTsecret-body=0123ABCD".into());
        let shown = format!("{token:?} {:?}", Some(&token));
        assert!(!shown.contains("secret-body"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }

    #[test]
    fn equal_tokens_compare_equal_and_others_do_not() {
        let a = Token::new("ATATTabc=00000000".into());
        assert!(a.constant_time_eq(&Token::new("ATATTabc=00000000".into())));
        assert!(!a.constant_time_eq(&Token::new("ATATTabd=00000000".into())));
        assert!(!a.constant_time_eq(&Token::new("ATATTabc=0000000".into())));
    }

    #[test]
    fn fingerprint_shows_an_api_tokens_checksum_and_nothing_of_other_secrets() {
        let token = Token::new(with_checksum("ATATT3xFfGF0abcdefghijklmnop="));
        let shown = token.fingerprint();
        assert!(shown.starts_with("ATATT…") && token.expose().ends_with(&shown[8..]));
        for secret in [
            "HUNTER2-correct-horse-2024",
            "short",
            "ATATT3xFfGF0truncated=1234",
        ] {
            let shown = Token::new(secret.into()).fingerprint();
            assert!(shown.starts_with("hash:") && shown.len() == 11, "{shown}");
            for part in [&secret[..4], &secret[secret.len() - 4..]] {
                assert!(!shown.contains(part), "{shown} shows {part}");
            }
        }
        let (a, b) = (Token::new("pw-one".into()), Token::new("pw-two".into()));
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn non_utf8_bytes_are_refused() {
        assert!(Token::from_bytes(vec![0xff, 0xfe]).is_none());
        assert_eq!(Token::from_bytes(b"ok".to_vec()).unwrap().expose(), "ok");
    }

    fn with_checksum(body: &str) -> String {
        format!("{body}{:08X}", crc32fast::hash(body.as_bytes()))
    }

    #[test]
    fn token_kinds_follow_their_prefixes_and_checksum() {
        let good = with_checksum("ATATT3xFfGF0abcdefGHIJ_-xyz=");
        assert_eq!(TokenKind::of(&good), TokenKind::ApiToken);
        let mut typo = good.clone();
        typo.replace_range(14..15, "Z");
        assert_eq!(TokenKind::of(&typo), TokenKind::ApiTokenBadChecksum);
        assert_eq!(
            TokenKind::of(&good[..good.len() - 1]),
            TokenKind::ApiTokenBadChecksum
        );
        assert_eq!(
            TokenKind::of("ATBB0123456789abcdef0123456789ab"),
            TokenKind::AppPassword
        );
        assert_eq!(TokenKind::of("ATCTT3xFfGF0abc"), TokenKind::AccessToken);
        assert_eq!(TokenKind::of("BBDC-abc"), TokenKind::DataCenterToken);
        assert_eq!(TokenKind::of("hunter2"), TokenKind::Unknown);
    }

    #[test]
    fn checksum_is_crc32_of_everything_before_in_upper_hex() {
        // CRC-32 of "123456789" is CBF43926.
        assert!(checksum_matches("123456789CBF43926"));
        assert!(!checksum_matches("123456789cbf43926"));
        assert!(!checksum_matches("1234567"));
        assert!(!checksum_matches("é1234567"));
    }
}
