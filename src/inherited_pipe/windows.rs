//! Windows: set `HANDLE_FLAG_INHERIT` on the read end, so `CreateProcess` (with inheritance,
//! as std and Git for Windows call it) copies the handle, under the same value, into git and on
//! into the helper git runs through its shell. The child duplicates the handle it was named.
//!
//! The crate's one audited exception to `forbid(unsafe_code)` (docs/security.md): two FFI
//! calls that only read or set a handle's flags, and one borrow of a handle checked to be open.
//! Nothing here reads or writes memory through a pointer.
#![allow(unsafe_code)]

use std::os::windows::io::{AsRawHandle, BorrowedHandle, RawHandle};

use windows_sys::Win32::Foundation::{
    GetHandleInformation, HANDLE, HANDLE_FLAG_INHERIT, SetHandleInformation,
};

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
    Ok(std::fs::File::from(borrowed.try_clone_to_owned()?))
}
