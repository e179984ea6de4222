//! Fake Bitbucket credentials with the real shapes.
//!
//! Why: tests must never hold a real token (docs/facts.md), yet the helper checks the shape
//! and the CRC-32 checksum of an `ATATT` API token, so fakes must be well-formed. Randomness
//! comes from std's randomly keyed hasher, so no `rand` dev-dependency is needed; the CRC-32 is
//! written out here so the tests do not trust the same crate (`crc32fast`) as the code under test.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The prefix of today's Atlassian API tokens.
pub const API_TOKEN_PREFIX: &str = "ATATT3xFfGF0";

const TOKEN_BODY_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// CRC-32 lookup table for the IEEE polynomial (reflected 0xEDB88320), as zlib uses.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, the zlib one) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        CRC_TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

/// A fresh unpredictable 64-bit number (distinct across calls, threads and processes).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.finish()
}

/// `len` characters drawn from `alphabet` (whose length must divide 256 for no bias: 64 does;
/// 62 has a negligible bias, fine for tests).
fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for byte in random_u64().to_le_bytes() {
            if out.len() < len {
                out.push(alphabet[usize::from(byte) % alphabet.len()] as char);
            }
        }
    }
    out
}

/// A well-formed fake Atlassian API token: `ATATT3xFfGF0` + 180 random `[A-Za-z0-9_-]` + `=` +
/// the CRC-32 of everything before it as 8 upper-case hex digits (201 characters in all).
pub fn fake_api_token() -> String {
    let mut token = format!(
        "{API_TOKEN_PREFIX}{}=",
        random_string(TOKEN_BODY_CHARS, 180)
    );
    let crc = crc32(token.as_bytes());
    token.push_str(&format!("{crc:08X}"));
    token
}

/// A fake legacy app password: `ATBB` + 32 random alphanumerics.
pub fn fake_app_password() -> String {
    format!("ATBB{}", random_string(ALNUM, 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn fake_api_tokens_are_well_formed_and_distinct() {
        let a = fake_api_token();
        let b = fake_api_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 12 + 180 + 1 + 8);
        assert!(a.starts_with(API_TOKEN_PREFIX));
        let (body, crc) = a.split_at(a.len() - 8);
        assert!(body.ends_with('='));
        assert_eq!(crc, format!("{:08X}", crc32(body.as_bytes())));
        assert!(
            body[..body.len() - 1]
                .bytes()
                .all(|c| TOKEN_BODY_CHARS.contains(&c))
        );
    }

    #[test]
    fn fake_app_passwords_look_like_app_passwords() {
        let p = fake_app_password();
        assert_eq!(p.len(), 36);
        assert!(p.starts_with("ATBB"));
        assert!(p.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(p, fake_app_password());
    }
}
