//! `login --verify` hands the token to the helper git starts through a pipe the helper
//! inherits: never through argv, the environment or a file. Only the pipe's number (a file
//! descriptor on Unix, a handle value on Windows) travels on git's command line, and the pipe
//! is gone when git exits.
//!
//! Inheriting differs per platform, so each side lives in its own file. The Windows side is the
//! crate's one audited use of `unsafe` (docs/security.md).

use std::io::Write as _;

use crate::token::Token;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

/// Configuration git needs so the helper it runs inherits the pipe. Git for Windows passes only
/// stdin, stdout and stderr to the programs it starts unless told otherwise; git elsewhere
/// ignores the key.
pub const GIT_CONFIG: &str = "core.restrictInheritedHandles=false";

/// A pipe holding one token, its write end already closed, whose read end the next child
/// process inherits. Dropping it closes the read end.
pub struct TokenPipe {
    reader: std::io::PipeReader,
}

impl TokenPipe {
    /// Writes `token` into a new pipe and marks the read end inheritable. A token fits in the
    /// pipe's buffer (64 KiB on Linux, 4 KiB for std's pipes on Windows; tokens are ~200 bytes).
    pub fn new(token: &Token) -> std::io::Result<Self> {
        let (reader, mut writer) = std::io::pipe()?;
        writer.write_all(token.expose().as_bytes())?;
        drop(writer);
        platform::make_inheritable(&reader)?;
        Ok(Self { reader })
    }

    /// The number the child names the pipe by (`--token-fd N`).
    pub fn number(&self) -> u64 {
        platform::number_of(&self.reader)
    }
}

/// Opens the pipe a parent process left us as `number`, as a reader of our own (the inherited
/// one is left as it is).
pub fn open_inherited(number: u64) -> std::io::Result<std::fs::File> {
    platform::open_inherited(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn a_number_that_is_no_open_pipe_is_an_error() {
        assert!(open_inherited(987_654).is_err());
        assert!(open_inherited(u64::MAX).is_err());
    }

    /// The number a parent would pass for an open file (a descriptor, or a handle value).
    fn number_of_file(file: &std::fs::File) -> u64 {
        #[cfg(unix)]
        let raw = std::os::fd::AsRawFd::as_raw_fd(file) as u64;
        #[cfg(windows)]
        let raw = std::os::windows::io::AsRawHandle::as_raw_handle(file) as usize as u64;
        raw
    }

    /// A number naming a FIFO (a planted descriptor): with no writer, opening it would wait
    /// for one; with a writer that never writes, reading would. Either comes back at once,
    /// never with bytes; the deadline here only catches the wait.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_fifo_without_a_writer_or_with_a_silent_one_is_left_at_once() {
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        crate::private_file::make_fifo(&path);
        let nobody_writes = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&path)
            .unwrap();
        let silent_writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        for held in [&nobody_writes, &silent_writer] {
            let number = number_of_file(held);
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut text = String::new();
                let read = open_inherited(number).and_then(|mut f| f.read_to_string(&mut text));
                let _ = tx.send(read.map(|_| text.is_empty()).unwrap_or(true));
            });
            let answered = rx.recv_timeout(std::time::Duration::from_secs(10));
            assert_eq!(answered, Ok(true), "waited on the FIFO, or read from it");
        }
        drop(silent_writer);
    }

    /// Unix and Windows alike (Windows under Wine: scripts/wine-unit-tests.sh).
    #[test]
    fn an_open_file_that_is_not_a_pipe_is_refused_and_a_pipe_is_read() {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, b"ATATTplanted=00000000").unwrap();
        std::io::Seek::rewind(&mut file).unwrap();
        let error = open_inherited(number_of_file(&file)).unwrap_err();
        assert_eq!(error.to_string(), "not a pipe");
        // Control: a pipe under a number is read, whole.
        let pipe = TokenPipe::new(&Token::new("ATATTpiped=00000000".into())).unwrap();
        let mut text = String::new();
        open_inherited(pipe.number())
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "ATATTpiped=00000000");
    }
}
