//! The file store trusts nothing it finds (issue 10), through the real binary and real git:
//! a damaged line in one entry never blocks the others and is named by file and line; a
//! symlinked, foreign, shared, FIFO or oversized `tokens` is refused with the fix, and git's
//! operation goes on; a temp file left by a crash mid-write is removed by the next write or
//! `logout`, and never blocks the write.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, fake_api_token, helper_bin, run_watched, shell_quote, skip_or_panic};

fn data_dir(rig: &Rig) -> PathBuf {
    rig.env.home().join(".local/share/git-credential-bitbucket")
}

fn write_private(path: &std::path::Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[test]
fn a_damaged_line_never_blocks_the_other_entries_and_is_named_by_file_and_line() {
    for damage in [
        &b"git-credential-bitbucket\tother.test\tATATTcrlf\r\n"[..],
        b"git-credential-bitbucket\tother.test\tATATT\twith-a-tab\n",
        b"git-credential-bitbucket\tother\xff.test\tATATTlatin1\n",
    ] {
        let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
            return;
        };
        let dir = data_dir(&rig);
        std::fs::create_dir_all(&dir).expect("data dir");
        let mut text = b"# git-credential-bitbucket tokens\n".to_vec();
        text.extend_from_slice(damage);
        write_private(&dir.join("tokens"), &text);

        let token = rig.token.clone();
        rig.will_answer(Some(&token));
        let out = rig.clone();
        out.assert_success();
        let path = dir.join("tokens");
        let named = format!("line 2 of {}", path.display());
        assert!(out.stderr.contains(&named), "{out:?}");
        assert_eq!(
            rig.stored().as_deref(),
            Some(token.as_str()),
            "saved beside it"
        );
        rig.server.revoke(&token);
        rig.fetch().assert_failure();
        assert_eq!(rig.stored(), None, "and erased beside it");
        let kept = std::fs::read(&path).expect("tokens");
        assert!(
            kept.windows(damage.len()).any(|w| w == damage),
            "the damaged line is kept as it was"
        );
        let new = rig.secret(fake_api_token());
        rig.server.grant(&new, crate::support::Scope::ReadWrite);
        rig.will_answer(Some(&new));
        rig.fetch().assert_success();
        assert_eq!(rig.stored().as_deref(), Some(new.as_str()));
    }
}

/// A clone that must go on, prompting, with `says` on stderr and nothing saved.
#[track_caller]
fn assert_refused_and_git_goes_on(rig: &mut Rig, says: &str) {
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    let out = rig.clone();
    out.assert_success();
    assert!(out.stderr.contains(says), "{says:?} in {out:?}");
    let _ = std::fs::remove_dir_all(rig.clone_dir());
}

#[test]
fn a_symlinked_token_file_is_refused_and_no_copy_is_left_at_its_target() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let dir = data_dir(&rig);
    std::fs::create_dir_all(&dir).expect("data dir");
    let target = rig.env.home().join("elsewhere");
    write_private(&target, b"# somebody else's file\n");
    std::os::unix::fs::symlink(&target, dir.join("tokens")).expect("symlink");
    assert_refused_and_git_goes_on(&mut rig, "symbolic link");
    let meta = std::fs::symlink_metadata(dir.join("tokens")).expect("tokens");
    assert!(meta.file_type().is_symlink(), "the link was not replaced");
    assert_eq!(
        std::fs::read(&target).expect("target"),
        b"# somebody else's file\n"
    );
    // Control: with the file itself in place, the token is saved.
    std::fs::remove_file(dir.join("tokens")).expect("unlink");
    let token = rig.token.clone();
    rig.clone().assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
}

#[test]
fn a_shared_or_foreign_token_file_or_directory_is_refused_with_the_fix() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let dir = data_dir(&rig);
    let tokens = dir.join("tokens");
    let other = rig.secret(fake_api_token());
    rig.typed("", &other);
    let mode = |path: &PathBuf, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    mode(&tokens, 0o644);
    assert_refused_and_git_goes_on(&mut rig, "chmod 600");
    mode(&tokens, 0o600);
    mode(&dir, 0o777);
    assert_refused_and_git_goes_on(&mut rig, "chmod 700");
    mode(&dir, 0o700);
    if crate::support::keyrings::is_root() {
        std::os::unix::fs::chown(&tokens, Some(1001), None).expect("chown");
        assert_refused_and_git_goes_on(&mut rig, "belongs to uid 1001");
        std::os::unix::fs::chown(&tokens, Some(0), None).expect("chown back");
    }
    // Control: as we write it, it is used.
    assert_eq!(rig.stored().as_deref(), Some(other.as_str()));
}

#[test]
fn a_fifo_or_an_oversized_token_file_never_hangs_or_exhausts_the_helper() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let dir = data_dir(&rig);
    std::fs::create_dir_all(&dir).expect("data dir");
    let tokens = dir.join("tokens");
    let host = rig.server.host();
    let args = ["--store", "file", "--host", host.as_str(), "get"];
    let request = rig.request("");
    let status = Command::new("mkfifo")
        .arg("-m600")
        .arg(&tokens)
        .status()
        .expect("mkfifo");
    assert!(status.success());
    let watched = run_watched(&rig.env, &args, request.as_bytes(), false);
    watched.assert_no_crash("a FIFO as the token file");
    assert!(
        watched.stderr.contains("not a regular file"),
        "{}",
        watched.stderr
    );
    assert_eq!(watched.stdout, b"username=x-bitbucket-api-token-auth\n");
    std::fs::remove_file(&tokens).expect("rm fifo");

    let mut big = b"# big\n".to_vec();
    big.resize(17 << 20, b'#');
    write_private(&tokens, &big);
    let watched = run_watched(&rig.env, &args, request.as_bytes(), false);
    watched.assert_no_crash("a 17 MiB token file");
    assert!(watched.stderr.contains("larger than"), "{}", watched.stderr);
    // Control: a sane file is read.
    let line = format!("git-credential-bitbucket\t{host}\t{}\n", rig.token);
    write_private(&tokens, line.as_bytes());
    assert_eq!(rig.stored().as_deref(), Some(rig.token.as_str()));
}

/// Runs `store` of `token` killed by SIGKILL at its `rename` (strace fault injection), in a
/// PID namespace of its own so that every run has the same pid and so the same temp name.
fn store_killed_at_rename(rig: &Rig, token: &str) -> Option<Output> {
    let probe = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "strace",
            "-qq",
            "-o",
            "/dev/null",
            "true",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !probe {
        skip_or_panic(
            "unshare --pid + strace",
            "cannot make a PID namespace or trace",
        );
        return None;
    }
    // git prompted (the helper had no token), so the store may save what was typed.
    let get = rig.helper("get", &rig.request(""));
    assert_eq!(get.password(), None, "{get:?}");
    let script = format!(
        "exec unshare --pid --fork strace -qq -o /dev/null -e trace=rename,renameat,renameat2 \
         -e inject=rename,renameat,renameat2:signal=KILL {} --store file --host {} store",
        shell_quote(helper_bin().to_str().expect("UTF-8")),
        rig.server.host()
    );
    let mut cmd = rig.env.command("sh");
    cmd.args(["-c", &script]);
    Some(Output::run(
        &mut cmd,
        &rig.request(&format!("password={token}")),
    ))
}

fn temporaries(rig: &Rig) -> Vec<String> {
    std::fs::read_dir(data_dir(rig))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("tokens.tmp."))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_crash_mid_write_leaves_no_secret_behind_a_logout_and_never_blocks_the_next_write() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let first = rig.secret(fake_api_token());
    let Some(out) = store_killed_at_rename(&rig, &first) else {
        return;
    };
    let left = temporaries(&rig);
    assert_eq!(left.len(), 1, "the crash left its temp file: {out:?}");
    // The same pid again: the same temp name, which must not block the write.
    let second = rig.secret(fake_api_token());
    store_killed_at_rename(&rig, &second);
    assert_eq!(
        temporaries(&rig),
        left,
        "the stale temp was replaced, not in the way"
    );
    let leftover = std::fs::read_to_string(data_dir(&rig).join(&left[0])).expect("temp");
    assert!(
        leftover.contains(&second),
        "the crash really happened mid-write"
    );

    // logout removes it, even with nothing else stored.
    rig.cli(&["logout", "--all"], "").assert_success();
    assert_eq!(temporaries(&rig), Vec::<String>::new());

    // And a write after a crash succeeds and removes it too.
    store_killed_at_rename(&rig, &first);
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    rig.clone().assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    assert_eq!(temporaries(&rig), Vec::<String>::new());
}
