//! One entry of a map file (`tokens`, `metadata`) without reading the rest: what `get` needs.
//!
//! Why: a `get` wants one token and its one metadata record, but parsing a whole file into a
//! map costs time in proportion to everything stored (with 1,000 workspace tokens it was most
//! of a `get`). This reads the file in chunks and stops at the first line that holds the key
//! and reads as an entry: the entry [`super::format::parse`] keeps too (the first). The
//! lines before it are checked in place, without copying, so a damaged one is still reported
//! by number. Each byte is searched for a line end once, however the reads are cut (a pipe may
//! hand out one byte at a time). Every byte read passes through buffers that are zeroed when
//! dropped: the file holds secrets.

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
/// The smallest first buffer, however small the file said it was.
const FIRST_AT_LEAST: usize = 256;

/// The value for `(service, user)` in the map file read from `file`, reading at most `limit`
/// bytes and only as far as the entry. With `damaged`, every line on the way is checked and
/// the damaged ones are added to it; without, only lines that begin with the key are read
/// closely (a few instructions for each other line: the metadata file, whose damage nobody
/// reports, is passed that way).
///
/// `length` is the file's length when it was opened: the first buffer is sized to it (a `get`
/// reads two small files, and a 16 KiB buffer cost more to clear and to zero than everything
/// else the lookup did). A file that grew since is read on as usual.
pub fn find(
    file: &mut dyn Read,
    length: u64,
    key: (&str, &str),
    limit: u64,
    damaged: Option<&mut Vec<DamagedLine>>,
) -> std::io::Result<Lookup> {
    let first = usize::try_from(length)
        .unwrap_or(CHUNK)
        .saturating_add(1)
        .clamp(FIRST_AT_LEAST, CHUNK);
    find_counting(file, key, limit, damaged, first, &mut Work::default())
}

/// The buffer work a lookup did: each count stays within a small multiple of the bytes read,
/// however the reads are cut, so a slow reader (a pipe, a network file system handing out a
/// few bytes at a time) costs no more than a fast one. A test holds the lookup to that.
#[derive(Default)]
struct Work {
    /// Bytes searched for a line end.
    scanned: u64,
    /// Bytes moved inside the buffer (to its front, or into a larger one).
    moved: u64,
}

fn find_counting(
    file: &mut dyn Read,
    (service, user): (&str, &str),
    limit: u64,
    mut damaged: Option<&mut Vec<DamagedLine>>,
    first_buffer: usize,
    work: &mut Work,
) -> std::io::Result<Lookup> {
    let mut buffer = Zeroizing::new(vec![0u8; first_buffer]);
    // `buffer[start..end]` is the incomplete line; `buffer[start..scanned]` holds no LF.
    let (mut start, mut scanned, mut end) = (0usize, 0usize, 0usize);
    let (mut total, mut number) = (0u64, 0usize);
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
        // Only the bytes not searched yet: a line that straddles many reads is searched once.
        while let Some(newline) = memchr::memchr(b'\n', &buffer[scanned..end]) {
            work.scanned += newline as u64 + 1;
            let line_end = scanned + newline;
            number += 1;
            let found = examine(&buffer[start..line_end], number);
            (start, scanned) = (line_end + 1, line_end + 1);
            if let Some(value) = found {
                return Ok(Lookup::Found(value));
            }
        }
        work.scanned += (end - scanned) as u64;
        scanned = end;
        if end == buffer.len() {
            // Full: the incomplete line moves to the front, into a buffer twice as large when it
            // fills more than half, so every byte moved makes room for at least one new byte.
            let incomplete = end - start;
            if incomplete > buffer.len() / 2 {
                let mut bigger = Zeroizing::new(vec![0u8; buffer.len() * 2]);
                bigger[..incomplete].copy_from_slice(&buffer[start..end]);
                buffer = bigger; // the smaller one is zeroed as it drops
            } else {
                buffer.copy_within(start..end, 0);
            }
            work.moved += incomplete as u64;
            (start, scanned, end) = (0, incomplete, incomplete);
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
            return Ok(match examine(&buffer[start..end], number + 1) {
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

    fn lookup(text: &[u8], key: (&str, &str), chunk_reads: usize) -> (Option<Vec<u8>>, Vec<usize>) {
        let value = |found: Lookup| match found {
            Lookup::Found(v) => Some(v.to_vec()),
            Lookup::Missing => None,
            Lookup::TooLarge => panic!("too large"),
        };
        let mut damaged = Vec::new();
        let found = find(
            &mut Trickle(text, chunk_reads),
            CHUNK as u64,
            key,
            1 << 20,
            Some(&mut damaged),
        );
        let found = value(found.unwrap());
        // Without damage reports (the metadata's lookups): the same entry.
        let quiet = value(find(&mut Trickle(text, chunk_reads), 0, key, 1 << 20, None).unwrap());
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
        let found = find(
            &mut reader,
            CHUNK as u64,
            ("svc", "a"),
            1 << 20,
            Some(&mut damaged),
        )
        .unwrap();
        assert!(matches!(found, Lookup::Found(v) if v.as_slice() == b"value"));
        assert!(reader.len() >= 100_000 - CHUNK, "read only the first chunk");
        let mut reader: &[u8] = &text;
        let found = find(
            &mut reader,
            CHUNK as u64,
            ("svc", "b"),
            50_000,
            Some(&mut damaged),
        )
        .unwrap();
        assert!(matches!(found, Lookup::TooLarge));
    }

    /// A line far longer than the first buffer, handed out one byte at a time: each byte is
    /// searched for a line end once, and moved at most twice (once on average), so the work
    /// grows with the file, not with the square of its longest line. Structural, not timed:
    /// the earlier lookup searched and moved the whole incomplete line after every read.
    #[test]
    fn slow_reads_search_each_byte_once_and_move_it_a_bounded_number_of_times() {
        let long = "x".repeat(10 * CHUNK);
        let text = format!("svc\tlong\t{long}\nsvc\tb\tvalue\n");
        let read = text.len() as u64;
        for chunk in [1, 7, CHUNK - 1, CHUNK, 1 << 20] {
            let mut work = Work::default();
            let found = find_counting(
                &mut Trickle(text.as_bytes(), chunk),
                ("svc", "b"),
                1 << 20,
                Some(&mut Vec::new()),
                CHUNK,
                &mut work,
            )
            .unwrap();
            assert!(matches!(found, Lookup::Found(v) if v.as_slice() == b"value"));
            assert_eq!(work.scanned, read, "searched once, chunk {chunk}");
            // Positive control: the long line outgrew the first buffer, so it did move.
            assert!(work.moved >= long.len() as u64 / 2, "chunk {chunk}");
            assert!(
                work.moved <= 2 * read,
                "moved {} bytes, chunk {chunk}",
                work.moved
            );
        }
    }

    #[test]
    fn a_file_longer_than_it_was_when_opened_is_still_read_to_its_entry() {
        let filler: String = (0..2000).map(|i| format!("svc\tu{i}\tv{i}\n")).collect();
        let text = format!("{filler}svc\tlast\tfound\n");
        for (length, chunk) in [(0, 1 << 20), (10, 3), (text.len() as u64, 1 << 20)] {
            let found = find(
                &mut Trickle(text.as_bytes(), chunk),
                length,
                ("svc", "last"),
                1 << 20,
                None,
            )
            .unwrap();
            assert!(
                matches!(found, Lookup::Found(ref v) if v.as_slice() == b"found"),
                "said {length} bytes"
            );
        }
    }
}
