//! Private keychains for tests: a Secret Service (gnome-keyring, KeePassXC or KWallet) on a
//! private D-Bus, and named kernel session keyrings (keyutils).
//!
//! Why: the helper keeps tokens in the OS keychain, and tests must show it really does so,
//! without ever reading or writing the developer's own keychain. Each Secret Service here runs on
//! its own bus (no service activation, so nothing else can be started on it) with its own HOME;
//! keyutils tests run their processes under `keyctl session NAME`, a keyring nobody else joins.
//!
//! Cleanup: statics are never dropped, so each Secret Service also gets a watchdog: a `sh`
//! blocked reading a pipe whose only write end this process holds. When this process ends, in
//! any way, the kernel closes that pipe, and the watchdog kills the daemons (pids listed in a file)
//! and deletes their directory. A keyutils session keyring lives as long as a holder process
//! whose stdin we hold the same way.

mod keyutils;
mod secret_service;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::git::shell_quote;
use super::output::Output;

pub use keyutils::KeyutilsSession;
pub use secret_service::{PromptOutcome, PrompterMode, Provider, SecretServiceSession};

/// Set this to let tests skip (loudly) when a keychain cannot be started; CI must not set it.
pub const ALLOW_SKIP_VAR: &str = "GCB_TEST_ALLOW_SKIP";

/// Is `program` an executable on PATH?
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// For a keychain that could not start: `true` (after saying so) if skipping is allowed,
/// otherwise a panic that explains how to allow it.
#[track_caller]
pub fn skip_or_panic(what: &str, why: &str) -> bool {
    if std::env::var_os(ALLOW_SKIP_VAR).is_some_and(|v| !v.is_empty()) {
        eprintln!("SKIPPED: {what} unavailable ({why}); {ALLOW_SKIP_VAR} is set");
        true
    } else {
        panic!("{what} unavailable: {why} (set {ALLOW_SKIP_VAR}=1 to skip such tests)");
    }
}

/// Is this process root?
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

/// For a test that plays another user: true when this process is root and has `tools`;
/// otherwise says why, through [`skip_or_panic`], and is false.
#[track_caller]
pub fn root_with(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .filter(|t| {
            std::process::Command::new(t)
                .arg("--version")
                .output()
                .is_err()
        })
        .copied()
        .collect();
    if is_root() && missing.is_empty() {
        return true;
    }
    let why = format!("needs root and {}", tools.join(", "));
    skip_or_panic("another uid", &why);
    false
}

/// Runs `sh -c SCRIPT` (behind `wrapper`, such as `keyctl session -`) as root of a user
/// namespace of its own whose uids and gids 0–65535 map onto themselves: a test can then play
/// several users (`setpriv`) and own keyrings, and touch nothing outside. The child gets PATH,
/// `vars` and nothing else, in `dir`; what it did comes back once it ends (under the runner's
/// deadline). Only root can write such a map, and only once the child has made the
/// namespace: the child says `ready` and waits for `go` while this process writes it.
/// Call after [`root_with`]`(&["unshare", …])`.
pub fn run_as_namespace_root(
    wrapper: &[&str],
    script: &str,
    vars: &[(&str, &OsStr)],
    dir: &Path,
) -> Output {
    let inner: Vec<String> = wrapper.iter().map(|w| shell_quote(w)).collect();
    let mut child = Command::new("unshare")
        .args(["--user", "--", "sh", "-c"])
        .arg(format!(
            "echo ready; read go; exec {} sh -c {}",
            inner.join(" "),
            shell_quote(script)
        ))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("unshare");
    let mut ready = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut ready)
        .expect("ready");
    assert_eq!(ready.trim(), "ready", "unshare --user did not start");
    for map in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{}/{map}", child.id()), "0 0 65536\n").expect("map ids");
    }
    writeln!(child.stdin.as_mut().expect("stdin"), "go").expect("go");
    drop(child.stdin.take());
    Output::collect_or_panic(child, "a script in a user namespace")
}
