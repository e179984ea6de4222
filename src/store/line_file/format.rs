//! The text of a map file (`tokens`, `metadata`): a `#` header, then one
//! `service<TAB>user<TAB>value` line per entry.
//!
//! People edit these files, so a line we cannot read (a CRLF ending, a tab inside a token, a
//! byte that is not UTF-8, a missing field) must not make every other entry unusable: it is
//! kept exactly as it was, never used, and reported by file and line number — never by its
//! content, which may be a secret. Writing a key replaces any damaged line for that same key.

use std::collections::BTreeSet;
use std::path::Path;

use zeroize::Zeroizing;

use super::{LineFileError, LineMap, Result};

/// A line kept as it was because it could not be read.
pub struct DamagedLine {
    /// 1-based line number in the file as read.
    pub number: usize,
    /// The line's bytes, without its LF.
    pub bytes: Zeroizing<Vec<u8>>,
    /// Its `(service, user)` when those two fields could be read, so a write of that key can
    /// replace it.
    pub key: Option<(String, String)>,
    pub why: &'static str,
}

impl DamagedLine {
    /// What to tell a person: file and line, never the content.
    pub fn describe(&self, path: &Path) -> String {
        format!(
            "line {} of {} is not used: {}; fix or remove that line",
            self.number,
            path.display(),
            self.why
        )
    }
}

/// A parsed file: the entries that could be read, and the lines that could not.
#[derive(Default)]
pub struct Parsed {
    pub map: LineMap,
    pub damaged: Vec<DamagedLine>,
}

/// Reads every line; never fails on a single bad line. When a key appears on two lines, the
/// first wins, as it does for [`super::lookup::find`], which stops there.
pub fn parse(bytes: &[u8]) -> Parsed {
    let mut parsed = Parsed::default();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if is_blank_or_comment(line) {
            continue;
        }
        match check_line(line) {
            Ok(entry) => {
                parsed
                    .map
                    .entry((entry.service.to_owned(), entry.user.to_owned()))
                    .or_insert_with(|| Zeroizing::new(entry.value.to_vec()));
            }
            Err(damage) => parsed
                .damaged
                .push(damage.into_damaged_line(index + 1, line)),
        }
    }
    parsed
}

/// Lines that hold no entry.
pub fn is_blank_or_comment(line: &[u8]) -> bool {
    line.is_empty() || line.starts_with(b"#")
}

/// The fields of a line that is plainly an entry: printable ASCII, exactly two tabs, a value.
/// Nearly every line is one, and [`check_line`] accepts each of them as the same fields; this
/// tells so at a few instructions a byte (no UTF-8 decoding, no field-by-field checks), so a
/// lookup can pass thousands of lines quickly. `None` means "ask [`check_line`]", not damage.
pub fn plain_line(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let first = memchr::memchr(b'\t', line)?;
    let second = first + 1 + memchr::memchr(b'\t', &line[first + 1..])?;
    let value = &line[second + 1..];
    // Without an early exit, so that the compiler checks many bytes at once.
    let unusual = line.iter().fold(false, |seen, &b| {
        seen | (b < 0x20 && b != b'\t') | (b >= 0x7f)
    });
    if unusual || value.is_empty() || memchr::memchr(b'\t', value).is_some() {
        return None;
    }
    Some((&line[..first], &line[first + 1..second], value))
}

/// An entry line's fields, borrowed from the line.
pub struct LineEntry<'a> {
    pub service: &'a str,
    pub user: &'a str,
    pub value: &'a [u8],
}

/// Why a line holds no usable entry, and its key when that much could be read.
pub struct LineDamage<'a> {
    key: Option<(&'a str, &'a str)>,
    why: &'static str,
}

impl LineDamage<'_> {
    pub fn into_damaged_line(self, number: usize, line: &[u8]) -> DamagedLine {
        DamagedLine {
            number,
            bytes: Zeroizing::new(line.to_vec()),
            key: self.key.map(|(s, u)| (s.to_owned(), u.to_owned())),
            why: self.why,
        }
    }
}

/// Checks one line without copying it: `service<TAB>user<TAB>value`, UTF-8, no CR, tab or NUL
/// in the value, which must not be empty.
pub fn check_line(line: &[u8]) -> std::result::Result<LineEntry<'_>, LineDamage<'_>> {
    let mut fields = line.splitn(3, |&b| b == b'\t');
    let (Some(service), Some(user), Some(value)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(LineDamage {
            key: None,
            why: "it is not service<TAB>user<TAB>value",
        });
    };
    let (Ok(service), Ok(user)) = (std::str::from_utf8(service), std::str::from_utf8(user)) else {
        return Err(LineDamage {
            key: None,
            why: "it is not UTF-8",
        });
    };
    let damage = |why| {
        Err(LineDamage {
            key: Some((service, user)),
            why,
        })
    };
    if value.ends_with(b"\r") {
        return damage("it ends in CR (a Windows line ending)");
    }
    if value.iter().any(|b| matches!(b, b'\t' | b'\r' | 0)) {
        return damage("its value holds a tab, CR or NUL");
    }
    if std::str::from_utf8(value).is_err() {
        return damage("its value is not UTF-8");
    }
    if value.is_empty() {
        return damage("its value is empty");
    }
    Ok(LineEntry {
        service,
        user,
        value,
    })
}

/// The file's text: `header`, the entries, then the damaged lines whose key was not written
/// (`written`: keys whose value this write sets or removes).
pub fn encode(
    header: &str,
    map: &LineMap,
    damaged: &[DamagedLine],
    written: &BTreeSet<(String, String)>,
) -> Result<Zeroizing<Vec<u8>>> {
    let mut text = Zeroizing::new(Vec::with_capacity(4096 + map.len() * 256));
    text.extend_from_slice(header.as_bytes());
    for ((service, user), secret) in map {
        for field in [service.as_bytes(), user.as_bytes(), secret.as_slice()] {
            if field.iter().any(|b| matches!(b, b'\t' | b'\n' | b'\r' | 0)) {
                return Err(LineFileError::Unwritable);
            }
        }
        text.extend_from_slice(service.as_bytes());
        text.push(b'\t');
        text.extend_from_slice(user.as_bytes());
        text.push(b'\t');
        text.extend_from_slice(secret);
        text.push(b'\n');
    }
    for line in damaged {
        if line.key.as_ref().is_some_and(|k| written.contains(k)) {
            continue;
        }
        text.extend_from_slice(&line.bytes);
        text.push(b'\n');
    }
    Ok(text)
}

/// The keys whose value differs between `before` and `after`.
pub fn changed_keys(before: &LineMap, after: &LineMap) -> BTreeSet<(String, String)> {
    let mut changed = BTreeSet::new();
    for (key, value) in before {
        if after.get(key).map(|v| v.as_slice()) != Some(value.as_slice()) {
            changed.insert(key.clone());
        }
    }
    for (key, value) in after {
        if before.get(key).map(|v| v.as_slice()) != Some(value.as_slice()) {
            changed.insert(key.clone());
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_kept_reported_by_number_and_does_not_hide_the_others() {
        let text =
            b"# header\nsvc\ta\tgood-a\r\nsvc\tb\tgood-b\nsvc\tc\tx\ty\nsvc\t\xffd\tz\nnonsense\n";
        let parsed = parse(text);
        assert_eq!(parsed.map.len(), 1);
        assert_eq!(
            parsed.map[&("svc".to_owned(), "b".to_owned())].as_slice(),
            b"good-b"
        );
        let numbers: Vec<usize> = parsed.damaged.iter().map(|d| d.number).collect();
        assert_eq!(numbers, [2, 4, 5, 6]);
        let said = parsed.damaged[0].describe(Path::new("/d/tokens"));
        assert!(said.starts_with("line 2 of /d/tokens"), "{said}");
        assert!(!said.contains("good-a"), "{said}");

        // Writing key `a` replaces its damaged line; the other damaged lines stay as they were.
        let mut map = parsed.map.clone();
        map.insert(
            ("svc".into(), "a".into()),
            Zeroizing::new(b"new-a".to_vec()),
        );
        let written = changed_keys(&parsed.map, &map);
        let out = encode("# h\n", &map, &parsed.damaged, &written).unwrap();
        let out = String::from_utf8_lossy(&out);
        assert!(!out.contains("good-a"), "{out}");
        assert!(out.contains("svc\ta\tnew-a\n") && out.contains("svc\tb\tgood-b\n"));
        assert!(out.contains("svc\tc\tx\ty\n") && out.contains("nonsense\n"));
    }

    proptest::proptest! {
        /// The fast path never disagrees with the full check: a line it takes is an entry
        /// with the same fields (lines drawn mostly from tabs, ASCII, CR, NUL and non-ASCII).
        #[test]
        fn a_plain_line_is_exactly_what_check_line_reads(
            line in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::sample::select(b"ab=.-_9".to_vec()),
                    2 => proptest::strategy::Just(b'\t'),
                    1 => proptest::sample::select(vec![b'\r', 0u8, 0x7f, 0x01, 0xc3, 0xa9, 0xff]),
                ],
                0..24,
            )
        ) {
            if let Some((service, user, value)) = plain_line(&line) {
                let entry = check_line(&line);
                proptest::prop_assert!(entry.is_ok(), "{:?}", line);
                let entry = entry.ok().unwrap();
                proptest::prop_assert_eq!(entry.service.as_bytes(), service);
                proptest::prop_assert_eq!(entry.user.as_bytes(), user);
                proptest::prop_assert_eq!(entry.value, value);
            }
        }
    }

    #[test]
    fn plain_lines_are_the_common_ones() {
        assert!(plain_line(b"svc\tbitbucket.org/acme\tATATT-value=").is_some());
        for unusual in [
            &b"svc\tuser\t"[..],
            b"svc\tuser\tva\tlue",
            b"svc\tuser\tvalue\r",
            b"svc\tus\xc3\xa9r\tvalue",
            b"svc\tuser",
            b"svc\tuser\tval\0ue",
        ] {
            assert!(plain_line(unusual).is_none(), "{unusual:?}");
        }
    }
}
