//! A leak audit: the whole life of a token through real git — typed at the prompt, stored,
//! used by fetch and push, rejected and erased, replaced by a second one — with canary tokens,
//! then a search for them everywhere they must not be: every output git and the helper
//! produced (the rig checks each one), every file under the test's HOME except the file
//! store's own `tokens` file, and the argv and environment of every program the helper runs.
//! The helper runs none: under `strace -f`, the only program ever executed is the helper
//! itself. Each search has a positive control, so a search that could find nothing fails.

use std::path::{Path, PathBuf};

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, fake_api_token, helper_bin, shell_quote, skip_or_panic};

/// Every file under `dir` (not following symlinks) whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file()
                && std::fs::read(&path)
                    .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Puts the helper under `strace -ff` in git's configuration: one trace file per process, each
/// with the full argv and environment of every `execve`.
pub fn trace_the_helper(rig: &Rig, traces: &Path) -> bool {
    let ok = std::process::Command::new("strace")
        .args(["-qq", "-o", "/dev/null", "-e", "trace=execve", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip_or_panic("strace", "strace is missing or ptrace is not allowed");
        return false;
    }
    let bin = helper_bin();
    let command = format!(
        "!strace -ff -qq -v -s 65536 -e trace=execve -o {} {} {}",
        shell_quote(traces.join("trace").to_str().expect("UTF-8 path")),
        shell_quote(bin.to_str().expect("UTF-8 path")),
        rig.helper_args().join(" ")
    );
    for value in ["", &command] {
        rig.env
            .git(&["config", "--global", "--add", "credential.helper", value])
            .assert_success();
    }
    true
}

/// Every `execve(...)` line in the trace files.
pub fn executions(traces: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(traces).expect("trace dir").flatten() {
        let text = std::fs::read_to_string(entry.path()).expect("trace file");
        lines.extend(
            text.lines()
                .filter(|l| l.starts_with("execve("))
                .map(str::to_owned),
        );
    }
    lines
}

fn a_canary_token_appears_only_in_the_store_and_on_the_password_line(store: StoreUnderTest) {
    let Some(mut rig) = Rig::new(store) else {
        return;
    };
    let traces = tempfile::tempdir().expect("trace dir");
    if !trace_the_helper(&rig, traces.path()) {
        return;
    }
    let first = rig.token.clone();
    let second = rig.secret(fake_api_token());
    rig.server.grant(&second, crate::support::Scope::ReadWrite);

    // The whole life of a token; every output is checked by the rig as it comes.
    rig.will_answer(Some(&first));
    rig.clone().assert_success();
    rig.will_answer(None);
    rig.fetch().assert_success();
    rig.push("audit.txt").assert_success();
    let get = rig.helper("get", &rig.request(""));
    assert!(
        get.stdout.contains(&format!("password={first}\n")),
        "control: the rig sees the password line"
    );
    rig.server.revoke(&first);
    rig.fetch().assert_failure();
    rig.will_answer(Some(&second));
    rig.fetch().assert_success();
    assert_eq!(rig.stored().as_deref(), Some(second.as_str()));
    rig.helper("erase", &rig.request(&format!("password={second}")))
        .assert_success();
    rig.typed("", &second); // typed at git's prompt again, and kept

    // Files: only the store's own file (and the askpass answer, outside HOME) hold a token.
    let home = rig.env.home();
    let tokens_file = home.join(".local/share/git-credential-bitbucket/tokens");
    for canary in [&first, &second] {
        let found = files_containing(home, canary);
        let outside: Vec<&PathBuf> = found.iter().filter(|p| **p != tokens_file).collect();
        assert!(outside.is_empty(), "a token in {outside:?}");
    }
    assert_eq!(
        files_containing(home.parent().expect("test dir"), &second),
        match store {
            StoreUnderTest::File =>
                vec![home.parent().unwrap().join("askpass-secret"), tokens_file],
            _ => vec![home.parent().unwrap().join("askpass-secret")],
        },
        "control: the search finds the token where it is meant to be"
    );

    // Processes: git ran the helper (traced) many times; the helper itself ran nothing.
    let executed = executions(traces.path());
    let bin = helper_bin();
    let helper_exec = format!(
        "execve({:?}, [{:?}",
        bin.to_str().unwrap(),
        bin.to_str().unwrap()
    );
    assert!(
        executed.len() >= 6,
        "control: the trace saw the helper run ({} runs)",
        executed.len()
    );
    for exec in &executed {
        let program = exec.split('"').nth(1).unwrap_or("?");
        assert!(
            exec.starts_with(&helper_exec),
            "the helper started another program: {program}"
        );
        assert!(
            !exec.contains(first.as_str()) && !exec.contains(second.as_str()),
            "a token in the argv or environment of {program}"
        );
    }
    let out: Output = rig
        .env
        .git(&["config", "--global", "--get-all", "credential.helper"]);
    assert!(
        out.stdout.contains("strace"),
        "control: git ran the traced helper"
    );
}

on_every_store!(a_canary_token_appears_only_in_the_store_and_on_the_password_line);
