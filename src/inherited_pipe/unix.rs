//! Unix: clear close-on-exec on the read end; the child opens `/dev/fd/N`.

use std::os::fd::AsRawFd;

use rustix::io::{FdFlags, fcntl_setfd};

pub fn make_inheritable(reader: &std::io::PipeReader) -> std::io::Result<()> {
    Ok(fcntl_setfd(reader, FdFlags::empty())?)
}

pub fn number_of(reader: &std::io::PipeReader) -> u64 {
    // A valid descriptor is never negative.
    u64::try_from(reader.as_raw_fd()).unwrap_or(u64::MAX)
}

pub fn open_inherited(number: u64) -> std::io::Result<std::fs::File> {
    if i32::try_from(number).is_err() {
        return Err(std::io::Error::other("not a file descriptor"));
    }
    // Opened without waiting: a number naming a FIFO nobody writes to would otherwise block
    // the open itself, before the check below, and a read from one whose writer stays open
    // now fails at once instead of waiting. Our pipe has its token and no writer left, so it
    // reads to its end either way.
    let file = crate::private_file::open_without_waiting(
        std::path::Path::new(&format!("/dev/fd/{number}")),
        crate::private_file::FinalSymlink::Follow,
    )?;
    // Only a pipe: its writer is gone, so reading ends. A terminal or another open file (a
    // mistyped or planted number) could block `get` with no deadline, or hand out its bytes.
    use std::os::unix::fs::FileTypeExt as _;
    if !file.metadata()?.file_type().is_fifo() {
        return Err(std::io::Error::other("not a pipe"));
    }
    Ok(file)
}
