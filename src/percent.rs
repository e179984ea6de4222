//! Percent-decoding (`%XX`), for the two places that read it: URLs git hands the helper
//! (`protocol.rs`, as git's `credential_from_url` decodes them) and D-Bus addresses
//! (`store/secret_service/session_bus.rs`). They differ only in what a `%` without two hex
//! digits means: git keeps it as it is, D-Bus calls the address malformed; so the decoder keeps
//! it and says it saw one.

use zeroize::Zeroizing;

/// What [`decode`] made of a text.
pub struct Decoded {
    /// The bytes, zeroed when dropped (a URL may carry a password).
    pub bytes: Zeroizing<Vec<u8>>,
    /// A `%` was not followed by two hex digits (and was kept as it was).
    pub malformed: bool,
}

/// Decodes every `%XX` escape of `text`.
pub fn decode(text: &str) -> Decoded {
    let bytes = text.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut malformed = false;
    let mut i = 0;
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
    while i < bytes.len() {
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                malformed |= byte == b'%';
                out.push(byte);
                i += 1;
            }
        }
    }
    Decoded {
        bytes: out,
        malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_decoded_and_a_lone_percent_is_kept_and_flagged() {
        let plain = decode("/run/user/1%20000/a%2Fb");
        assert_eq!(plain.bytes.as_slice(), b"/run/user/1 000/a/b");
        assert!(!plain.malformed);
        for (text, kept) in [("50%", "50%"), ("%zz", "%zz"), ("a%2", "a%2")] {
            let decoded = decode(text);
            assert_eq!(decoded.bytes.as_slice(), kept.as_bytes(), "{text}");
            assert!(decoded.malformed, "{text}");
        }
    }
}
