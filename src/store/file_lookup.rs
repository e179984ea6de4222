//! One entry of a map file (`tokens`, `metadata`) without reading the rest: what `get` needs.
//!
//! Why: a `get` wants one token and its one metadata record, but parsing a whole file into a
//! map costs time in proportion to everything stored (with 1,000 workspace tokens it was most
//! of a `get`). This reads the file in chunks and stops at the first line that holds the key
//! and reads as an entry: the entry [`super::file_format::parse`] keeps too (the first). The
//! lines before it are checked in place, without copying, so a damaged one is still reported
//! by number. Every byte read passes through buffers that are zeroed when dropped: the file
//! holds secrets.

use std::io::Read;

use zeroize::Zeroizing;

use super::file_format::{self, DamagedLine};

/// What a lookup found.
pub enum Lookup {
    Found(Zeroizing<Vec<u8>>),
    Missing,
    /// The file is longer than the limit: refused, as a whole read would refuse it.
    TooLarge,
}

const CHUNK: usize = 16 * 1024;

/// The value for `(service, user)` in the map file read from `file`, reading at most `limit`
/// bytes and only as far as the entry; damaged lines on the way are added to `damaged`.
pub fn find(
    file: &mut dyn Read,
    (service, user): (&str, &str),
    limit: u64,
    damaged: &mut Vec<DamagedLine>,
) -> std::io::Result<Lookup> {
    let mut buffer = Zeroizing::new(vec![0u8; CHUNK]);
    let (mut start, mut end, mut total, mut number) = (0usize, 0usize, 0u64, 0usize);
    let mut examine = |line: &[u8], number: usize| -> Option<Zeroizing<Vec<u8>>> {
        if file_format::is_blank_or_comment(line) {
            return None;
        }
        match file_format::check_line(line) {
            Ok(entry) if entry.service == service && entry.user == user => {
                Some(Zeroizing::new(entry.value.to_vec()))
            }
            Ok(_) => None,
            Err(damage) => {
                damaged.push(damage.into_damaged_line(number, line));
                None
            }
        }
    };
    loop {
        while let Some(newline) = buffer[start..end].iter().position(|&b| b == b'\n') {
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
        let mut damaged = Vec::new();
        let found = find(&mut Trickle(text, chunk_reads), key, 1 << 20, &mut damaged).unwrap();
        let value = match found {
            Lookup::Found(v) => Some(v.to_vec()),
            Lookup::Missing => None,
            Lookup::TooLarge => panic!("too large"),
        };
        (value, damaged.iter().map(|d| d.number).collect())
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
        let parsed = file_format::parse(text.as_bytes());
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
        let found = find(&mut reader, ("svc", "a"), 1 << 20, &mut damaged).unwrap();
        assert!(matches!(found, Lookup::Found(v) if v.as_slice() == b"value"));
        assert!(reader.len() >= 100_000 - CHUNK, "read only the first chunk");
        let mut reader: &[u8] = &text;
        let found = find(&mut reader, ("svc", "b"), 50_000, &mut damaged).unwrap();
        assert!(matches!(found, Lookup::TooLarge));
    }
}
