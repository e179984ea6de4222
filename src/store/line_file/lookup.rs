//! One entry of a map file (`tokens`, `metadata`) without reading the rest: what `get` needs.
//!
//! Why: a `get` wants one token and its one metadata record, but parsing a whole file into a
//! map costs time in proportion to everything stored (with 1,000 workspace tokens it was most
//! of a `get`). This reads the file in chunks and stops at the first line that holds the key
//! and reads as an entry: the entry [`super::format::parse`] keeps too (the first). The
//! lines before it are checked in place, without copying, so a damaged one is still reported
//! by number. Every byte read passes through buffers that are zeroed when dropped: the file
//! holds secrets.

use std::io::Read;

use zeroize::Zeroizing;

use super::format::{self, DamagedLine};

/// What a lookup found.
pub enum Lookup {
    Found(Zeroizing<Vec<u8>>),
    Missing,
    /// The file is longer than the limit: refused, as a whole read would refuse it.
    TooLarge,
}

const CHUNK: usize = 16 * 1024;

/// The value for `(service, user)` in the map file read from `file`, reading at most `limit`
/// bytes and only as far as the entry. With `damaged`, every line on the way is checked and
/// the damaged ones are added to it; without, only lines that begin with the key are read
/// closely (a few instructions for each other line: the metadata file, whose damage nobody
/// reports, is passed that way).
pub fn find(
    file: &mut dyn Read,
    (service, user): (&str, &str),
    limit: u64,
    mut damaged: Option<&mut Vec<DamagedLine>>,
) -> std::io::Result<Lookup> {
    let mut buffer = Zeroizing::new(vec![0u8; CHUNK]);
    let (mut start, mut end, mut total, mut number) = (0usize, 0usize, 0u64, 0usize);
    let key = format!("{service}\t{user}\t");
    let mut examine = |line: &[u8], number: usize| -> Option<Zeroizing<Vec<u8>>> {
        if !begins_with(line, key.as_bytes()) {
            // Not our entry: only its damage could matter, and only if it is reported.
            let checked = damaged.as_deref_mut().filter(|_| {
                !format::is_blank_or_comment(line) && format::plain_line(line).is_none()
            });
            if let Some(damaged) = checked
                && let Err(damage) = format::check_line(line)
            {
                damaged.push(damage.into_damaged_line(number, line));
            }
            return None;
        }
        // `service\tuser\t…`: the entry if the whole line reads as one, else damage.
        match format::check_line(line) {
            Ok(entry) => Some(Zeroizing::new(entry.value.to_vec())),
            Err(damage) => {
                if let Some(damaged) = damaged.as_deref_mut() {
                    damaged.push(damage.into_damaged_line(number, line));
                }
                None
            }
        }
    };
    loop {
        while let Some(newline) = memchr::memchr(b'\n', &buffer[start..end]) {
            number += 1;
            let found = examine(&buffer[start..start + newline], number);
            start += newline + 1;
            if let Some(value) = found {
                return Ok(Lookup::Found(value));
            }
        }
        // Keep the incomplete line at the front; grow the buffer for a line longer than it.
        buffer.copy_within(start..end, 0);
        end -= start;
        start = 0;
        if end == buffer.len() {
            let mut bigger = Zeroizing::new(vec![0u8; buffer.len() * 2]);
            bigger[..end].copy_from_slice(&buffer[..end]);
            buffer = bigger; // the smaller one is zeroed as it drops
        }
        let read = match file.read(&mut buffer[end..]) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += read as u64;
        if total > limit {
            return Ok(Lookup::TooLarge);
        }
        if read == 0 {
            // The last line may lack its LF.
            return Ok(match examine(&buffer[..end], number + 1) {
                Some(value) => Lookup::Found(value),
                None => Lookup::Missing,
            });
        }
        end += read;
    }
}

/// `line.starts_with(key)`, compared from the key's end: keys in one file share long
/// beginnings (`git-credential-bitbucket\tbitbucket.org/…`) and differ at their ends, and
/// a byte loop stops at the first difference where the C library's `memcmp` (musl's goes
/// byte by byte from the front) would walk the common part of every line.
fn begins_with(line: &[u8], key: &[u8]) -> bool {
    line.len() >= key.len() && line[..key.len()].iter().rev().eq(key.iter().rev())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(text: &[u8], key: (&str, &str), chunk_reads: usize) -> (Option<Vec<u8>>, Vec<usize>) {
        /// Hands out at most `n` bytes per read, so lines straddle reads.
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.1.min(out.len()).min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let value = |found: Lookup| match found {
            Lookup::Found(v) => Some(v.to_vec()),
            Lookup::Missing => None,
            Lookup::TooLarge => panic!("too large"),
        };
        let mut damaged = Vec::new();
        let found = find(
            &mut Trickle(text, chunk_reads),
            key,
            1 << 20,
            Some(&mut damaged),
        );
        let found = value(found.unwrap());
        // Without damage reports (the metadata's lookups): the same entry.
        let quiet = value(find(&mut Trickle(text, chunk_reads), key, 1 << 20, None).unwrap());
        assert_eq!(quiet, found, "{key:?}");
        (found, damaged.iter().map(|d| d.number).collect())
    }

    /// Every key of a file (with damaged lines, a duplicate, a long line and no final LF)
    /// gives exactly what parsing the whole file gives, however the reads are cut.
    #[test]
    fn finds_what_parse_finds_and_reports_damage_before_the_entry() {
        let long = "x".repeat(40_000);
        let text = format!(
            "# header\nsvc\ta\tfirst-a\nsvc\tbad\tcr\r\nsvc\tb\t{long}\nsvc\ta\tsecond-a\n\
             no tabs here\nsvc\tc\tlast-without-lf"
        );
        let parsed = format::parse(text.as_bytes());
        for chunk in [1, 7, 4096, 1 << 20] {
            for user in ["a", "b", "c", "bad", "missing"] {
                let (found, _) = lookup(text.as_bytes(), ("svc", user), chunk);
                let expected = parsed.map.get(&("svc".to_owned(), user.to_owned()));
                assert_eq!(
                    found.as_deref(),
                    expected.map(|v| v.as_slice()),
                    "{user} {chunk}"
                );
            }
        }
        assert_eq!(
            lookup(text.as_bytes(), ("svc", "a"), 3).1,
            Vec::<usize>::new()
        );
        assert_eq!(lookup(text.as_bytes(), ("svc", "b"), 3).1, [3]);
        assert_eq!(lookup(text.as_bytes(), ("svc", "missing"), 3).1, [3, 6]);
    }

    #[test]
    fn stops_reading_at_the_entry_and_refuses_a_file_past_the_limit() {
        let mut text = b"svc\ta\tvalue\n".to_vec();
        text.extend(std::iter::repeat_n(b'z', 100_000));
        let mut reader: &[u8] = &text;
        let mut damaged = Vec::new();
        let found = find(&mut reader, ("svc", "a"), 1 << 20, Some(&mut damaged)).unwrap();
        assert!(matches!(found, Lookup::Found(v) if v.as_slice() == b"value"));
        assert!(reader.len() >= 100_000 - CHUNK, "read only the first chunk");
        let mut reader: &[u8] = &text;
        let found = find(&mut reader, ("svc", "b"), 50_000, Some(&mut damaged)).unwrap();
        assert!(matches!(found, Lookup::TooLarge));
    }
}
