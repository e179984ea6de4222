//! Token files on a real file system: what is read, and each refusal beside a file that is read.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;

const TOKEN: &str = "ATATT3xFfGF0-not-a-real-token=0123ABCD";

/// A file in `dir` holding `bytes`, with `mode`.
fn file(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn text(path: &Path) -> String {
    read(path).unwrap().token.expose().to_owned()
}

#[test]
fn one_trailing_line_end_is_dropped_and_nothing_else_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("plain", TOKEN.to_owned()),
        ("echo", format!("{TOKEN}\n")),
        ("notepad", format!("{TOKEN}\r\n")),
    ] {
        let path = file(dir.path(), name, bytes.as_bytes(), 0o600);
        assert_eq!(text(&path), TOKEN, "{name}");
    }
    for (name, bytes) in [
        ("two line ends", format!("{TOKEN}\n\n")),
        ("second line", format!("{TOKEN}\nsecond\n")),
        ("leading space", format!(" {TOKEN}\n")),
        ("trailing space", format!("{TOKEN} \n")),
        ("byte-order mark", format!("\u{feff}{TOKEN}\n")),
        ("tab", format!("{TOKEN}\t\n")),
    ] {
        let path = file(dir.path(), "refused", bytes.as_bytes(), 0o600);
        let error = read(&path).unwrap_err();
        assert!(
            matches!(error, TokenFileError::NotOneToken(_)),
            "{name}: {error}"
        );
        assert!(!error.to_string().contains("ATATT"), "never the content");
    }
    let path = file(dir.path(), "not utf-8", b"ATATT\xff\xfe\n", 0o600);
    assert!(matches!(read(&path), Err(TokenFileError::NotOneToken(_))));
    for empty in [&b""[..], b"\n", b"\r\n"] {
        let path = file(dir.path(), "empty", empty, 0o600);
        assert!(matches!(read(&path), Err(TokenFileError::Empty(_))));
    }
}

#[test]
fn a_file_others_may_write_is_refused_one_they_may_read_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o620, 0o602, 0o666] {
        let path = file(dir.path(), "token", TOKEN.as_bytes(), mode);
        let error = read(&path).unwrap_err();
        assert!(
            matches!(error, TokenFileError::WritableByOthers { .. }),
            "{mode:o}: {error}"
        );
        assert!(error.to_string().contains("chmod go-w"), "{error}");
    }
    // Control: the same file, readable by all as Kubernetes mounts it by default, or read-only.
    for mode in [0o644, 0o400, 0o600] {
        let path = file(dir.path(), "token", TOKEN.as_bytes(), mode);
        let read = read(&path).unwrap();
        assert_eq!((read.token.expose(), read.mode), (TOKEN, Some(mode)));
    }
}

#[test]
fn a_symlink_is_followed_and_the_file_it_reaches_is_checked() {
    // Kubernetes: token -> ..data/token, ..data -> ..2024_01_01.
    let dir = tempfile::tempdir().unwrap();
    let version = dir.path().join("..2024_01_01");
    std::fs::create_dir(&version).unwrap();
    let target = file(&version, "token", format!("{TOKEN}\n").as_bytes(), 0o644);
    std::os::unix::fs::symlink("..2024_01_01", dir.path().join("..data")).unwrap();
    let link = dir.path().join("token");
    std::os::unix::fs::symlink("..data/token", &link).unwrap();
    assert_eq!(text(&link), TOKEN);
    // The link's own mode (0777) is not what counts; the target's is.
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert!(matches!(
        read(&link),
        Err(TokenFileError::WritableByOthers { mode: 0o666, .. })
    ));
    std::fs::remove_file(&target).unwrap();
    assert!(matches!(read(&link), Err(TokenFileError::Missing(_))));
}

// FIFOs are made on Linux only (`make_fifo`); the code under test is the same on macOS.
#[cfg(target_os = "linux")]
#[test]
fn a_fifo_a_directory_and_a_device_are_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    crate::private_file::make_fifo(&fifo);
    use std::time::{Duration, Instant};
    // Every open of the FIFO by read() would block forever without O_NONBLOCK: no writer ever
    // comes. A thread keeps a hang from hanging the test.
    let started = Instant::now();
    let (send, receive) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || send.send(read(&path).map(|_| ())));
    let result = receive.recv_timeout(Duration::from_secs(5));
    assert!(
        matches!(result, Ok(Err(TokenFileError::NotRegular(_)))),
        "{result:?} after {:?}",
        started.elapsed()
    );
    for path in [dir.path(), Path::new("/dev/null")] {
        assert!(
            matches!(read(path), Err(TokenFileError::NotRegular(_))),
            "{}",
            path.display()
        );
    }
    // Control: a regular file beside them is read.
    let path = file(dir.path(), "token", TOKEN.as_bytes(), 0o600);
    assert_eq!(text(&path), TOKEN);
}

#[test]
fn a_file_is_read_up_to_its_limit_and_a_relative_or_missing_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = TOKEN.as_bytes().to_vec();
    big.resize(MAX_TOKEN_FILE_BYTES + 1, b'A');
    let path = file(dir.path(), "big", &big, 0o600);
    assert!(matches!(read(&path), Err(TokenFileError::TooLarge(_))));
    // Control: at the limit it is read (and is one long token).
    big.truncate(MAX_TOKEN_FILE_BYTES);
    let path = file(dir.path(), "big", &big, 0o600);
    assert_eq!(text(&path).len(), MAX_TOKEN_FILE_BYTES);

    assert!(matches!(
        read(Path::new("token")),
        Err(TokenFileError::Relative(_))
    ));
    assert!(matches!(
        read(&dir.path().join("absent")),
        Err(TokenFileError::Missing(_))
    ));
}
