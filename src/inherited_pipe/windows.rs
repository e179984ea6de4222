//! Windows: set `HANDLE_FLAG_INHERIT` on the read end, so `CreateProcess` (with inheritance,
//! as std and Git for Windows call it) copies the handle, under the same value, into git and on
//! into the helper git runs through its shell. The child duplicates the handle it was named.
//!
//! The crate's one audited exception to `forbid(unsafe_code)` (docs/security.md): three FFI
//! calls that only read or set a handle's flags or read its type, and one borrow of a handle
//! checked to be open. Nothing here reads or writes memory through a pointer.
#![allow(unsafe_code)]

use std::os::windows::io::{AsRawHandle, BorrowedHandle, RawHandle};

use windows_sys::Win32::Foundation::{
    GetHandleInformation, HANDLE, HANDLE_FLAG_INHERIT, SetHandleInformation,
};
use windows_sys::Win32::Storage::FileSystem::{FILE_TYPE_PIPE, GetFileType};

pub fn make_inheritable(reader: &std::io::PipeReader) -> std::io::Result<()> {
    let handle = reader.as_raw_handle() as HANDLE;
    // SAFETY: `handle` is owned by `reader`, which outlives the call; the call changes only
    // the handle's inherit flag.
    if unsafe { SetHandleInformation(handle, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub fn number_of(reader: &std::io::PipeReader) -> u64 {
    reader.as_raw_handle() as usize as u64
}

pub fn open_inherited(number: u64) -> std::io::Result<std::fs::File> {
    // Kernel handles fit in 32 bits (so 32- and 64-bit processes can share them); this also
    // keeps out the pseudo-handles such as -1, the current process.
    let value = u32::try_from(number)
        .ok()
        .filter(|&v| v != 0)
        .ok_or_else(|| std::io::Error::other("not a handle"))?;
    let raw = value as usize as RawHandle;
    let mut flags = 0u32;
    // SAFETY: the call only reads the flags of whatever `raw` names into `flags`, a live local;
    // a value that is no open handle makes it fail, which we report.
    if unsafe { GetHandleInformation(raw as HANDLE, &mut flags) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the handle was just seen open, and this process never closes it: we borrow it
    // only to duplicate it, then own and close the duplicate alone.
    let borrowed = unsafe { BorrowedHandle::borrow_raw(raw) };
    let file = std::fs::File::from(borrowed.try_clone_to_owned()?);
    // Only a pipe: its writer is gone, so reading ends. A console or another open file (a
    // mistyped or planted number) could block `get` with no deadline, or hand out its bytes.
    // SAFETY: `file` owns the handle and outlives the call, which only reads the handle's
    // type (a value, no pointer).
    if unsafe { GetFileType(file.as_raw_handle() as HANDLE) } != FILE_TYPE_PIPE {
        return Err(std::io::Error::other("not a pipe"));
    }
    Ok(file)
}

/// Windows only; compiled for `x86_64-pc-windows-msvc` by scripts/cross-check.sh and run under
/// Wine by scripts/wine-unit-tests.sh.
#[cfg(test)]
mod tests {
    use super::*;

    fn inherits(handle: RawHandle) -> bool {
        let mut flags = 0u32;
        // SAFETY: reads the flags of a handle the caller owns into a live local.
        let ok = unsafe { GetHandleInformation(handle as HANDLE, &mut flags) };
        ok != 0 && flags & HANDLE_FLAG_INHERIT != 0
    }

    #[test]
    fn the_read_end_is_marked_inheritable_and_std_pipes_are_not() {
        let (reader, writer) = std::io::pipe().unwrap();
        assert!(!inherits(reader.as_raw_handle()), "std's default");
        make_inheritable(&reader).unwrap();
        assert!(inherits(reader.as_raw_handle()));
        assert!(
            !inherits(writer.as_raw_handle()),
            "the write end stays private"
        );
    }

    #[test]
    fn zero_pseudo_and_wide_handle_values_are_refused() {
        for number in [0, u64::MAX, u64::from(u32::MAX) + 4, u64::MAX - 1] {
            assert!(open_inherited(number).is_err(), "{number:#x}");
        }
    }

    #[test]
    fn the_duplicate_is_ours_and_the_inherited_handle_stays_open() {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(writer);
        let number = number_of(&reader);
        drop(open_inherited(number).unwrap());
        assert!(
            open_inherited(number).is_ok(),
            "closing our duplicate left the original open"
        );
    }

    /// Set in the child process of the test below: the handle number to read.
    const CHILD_VAR: &str = "GCB_TEST_INHERITED_HANDLE";

    /// The child half: reads the pipe its parent named and prints what came through.
    #[test]
    #[allow(
        clippy::print_stdout,
        reason = "the parent test reads the child's stdout"
    )]
    fn child_reads_the_inherited_handle() {
        use std::io::Read as _;
        let Some(number) = std::env::var(CHILD_VAR).ok() else {
            return; // run on its own: nothing to read
        };
        let mut text = String::new();
        open_inherited(number.parse().unwrap())
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        println!("through the pipe: {text}");
    }

    /// A real child process (this test binary again) inherits the read end under the same
    /// number, as git and the helper it starts do in `login --verify`.
    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "a unit test runs its own binary again; it is not a child of the helper"
    )]
    fn a_child_process_reads_the_token_through_the_inherited_handle() {
        let token = crate::token::Token::new("ATATTchild=00000000".into());
        let pipe = crate::inherited_pipe::TokenPipe::new(&token).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "inherited_pipe::windows::tests::child_reads_the_inherited_handle",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_VAR, pipe.number().to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}");
        assert!(
            stdout.contains("through the pipe: ATATTchild=00000000"),
            "{stdout}"
        );
    }
}
