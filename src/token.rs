//! The secret newtype.
//!
//! A token is wrapped from the moment its bytes are read until the keychain call or the
//! `password=` line that needs it. `Debug` prints `Token(REDACTED)`, the memory is zeroed on
//! drop, and [`Token::expose`] is the one door to the plain text, so every use of the secret
//! can be found with a search for that name.

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
    /// Takes ownership of the text; the `String` is moved, not copied.
    pub fn new(text: String) -> Self {
        Self(SecretString::from(text))
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

    /// The first characters and the last four, e.g. `ATATT…1A2B`: enough to tell two tokens
    /// apart in a listing, far too little to use. Short secrets show only their length.
    pub fn fingerprint(&self) -> String {
        let text = self.expose();
        let chars = text.chars().count();
        if chars < 16 {
            return format!("({chars} characters)");
        }
        let prefix: String = text
            .chars()
            .take_while(|c| c.is_ascii_uppercase())
            .take(5)
            .collect();
        let suffix: String = text.chars().skip(chars - 4).collect();
        format!("{prefix}…{suffix}")
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

#[cfg(test)]
mod tests {
    use super::Token;

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
    fn fingerprint_shows_prefix_and_last_four_only() {
        let token = Token::new("ATATT3xFfGF0abcdefghijklmnop=1A2B3C4D".into());
        assert_eq!(token.fingerprint(), "ATATT…3C4D");
        assert_eq!(Token::new("short".into()).fingerprint(), "(5 characters)");
    }

    #[test]
    fn non_utf8_bytes_are_refused() {
        assert!(Token::from_bytes(vec![0xff, 0xfe]).is_none());
        assert_eq!(Token::from_bytes(b"ok".to_vec()).unwrap().expose(), "ok");
    }
}
