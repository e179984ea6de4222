//! Every git child has a deadline: a git that hangs (a config include on a wedged network
//! filesystem, a remote that never answers) makes the command fail, naming the git command,
//! instead of hanging it forever.
//!
//! The hung git is a stand-in first on PATH that starts a child blocked opening a FIFO nobody
//! writes (a hung filesystem, as far as it can tell) and waits for it: the child keeps git's
//! pipes open after git is killed, so the helper must not wait on them either. The remote
//! that never answers is a listening socket nobody accepts from. The deadline is lowered to
//! a few seconds with `GIT_CREDENTIAL_BITBUCKET_GIT_DEADLINE` to keep the suite fast; each
//! run is under `timeout -s KILL` far beyond it, so a hang fails the test (no timing is
//! asserted). Controls: the same commands, same environment, with the real git.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, helper_bin, shell_quote};

/// The lowered deadline, in seconds.
const DEADLINE: &str = "5";
/// Seconds after which the helper is killed: only a hang gets there.
const HANG_SECONDS: &str = "60";

/// `git-credential-bitbucket ARGS` in the rig's HOME with the lowered deadline and `path`,
/// killed if it is still running after HANG_SECONDS.
fn run_or_kill(rig: &Rig, path: &std::ffi::OsStr, args: &[String], stdin: &str) -> Output {
    let mut cmd = rig.env.command("timeout");
    cmd.args(["-s", "KILL", HANG_SECONDS])
        .arg(helper_bin())
        .args(args)
        .env("PATH", path)
        .env("GIT_CREDENTIAL_BITBUCKET_GIT_DEADLINE", DEADLINE)
        // Without --store (and this), a command asks git which store its helper uses.
        .env_remove("GIT_CREDENTIAL_BITBUCKET_STORE");
    let out = Output::run(&mut cmd, stdin);
    rig.assert_no_leak(&out, false);
    // `timeout -s KILL` kills its own process group, itself included: no exit code then.
    assert!(
        out.status.code().is_some_and(|code| code != 128 + 9),
        "still running after {HANG_SECONDS} s: {args:?} {out:?}"
    );
    out
}

/// A FIFO nobody writes: opening it for reading blocks, as on a hung filesystem.
struct HungFile(PathBuf);

impl Drop for HungFile {
    /// Lets every `cat` still blocked opening it go: it opens, sees no writer, and ends.
    fn drop(&mut self) {
        // Read-write never blocks on Linux, whether or not a reader is waiting.
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.0);
    }
}

/// A `git` in `dir` that hangs on `fifo` (in a child holding its pipes) and waits for it.
fn hanging_git(dir: &Path, fifo: &Path) -> HungFile {
    std::fs::create_dir_all(dir).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(fifo)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo");
    let script = format!(
        "#!/bin/sh\ncat {} &\nwait\n",
        shell_quote(fifo.to_str().unwrap())
    );
    let git = dir.join("git");
    crate::support::write_executable(&git, script, "700");
    HungFile(fifo.to_owned())
}

/// PATH with `first` before the rig's.
fn path_with(rig: &Rig, first: PathBuf) -> std::ffi::OsString {
    let mut path = vec![first];
    path.extend(std::env::split_paths(rig.env.env_var("PATH").unwrap()));
    std::env::join_paths(path).unwrap()
}

/// Each command people run that starts git, with its rig options (`status` and `setup`
/// without `--store`: they read which store git's helper uses), and the git command it
/// starts first.
fn commands(rig: &Rig, url: &str) -> Vec<(Vec<String>, &'static str)> {
    let with_store = |args: &[&str]| {
        let mut all = rig.helper_args();
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    };
    let host = ["--host".to_owned(), rig.server.host()];
    vec![
        (with_store(&["doctor"]), "git --version"),
        (with_store(&["migrate"]), "git rev-parse"),
        (
            [&host[..], &["status".to_owned()]].concat(),
            "git rev-parse",
        ),
        ([&host[..], &["setup".to_owned()]].concat(), "git rev-parse"),
        (
            with_store(&["login", "--stdin", "--verify", url]),
            "git ls-remote",
        ),
    ]
}

#[test]
fn a_hung_git_makes_each_command_fail_naming_it_instead_of_hanging() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let shim = rig.env.home().join("shim");
    let fifo = rig.env.home().join("hung-filesystem");
    let hung_file = hanging_git(&shim, &fifo);
    let hung = path_with(&rig, shim);
    let url = rig.server.url("ws/repo.git");
    let commands = commands(&rig, &url);
    let outs: Vec<Output> = std::thread::scope(|s| {
        let runs: Vec<_> = commands
            .iter()
            .map(|(args, _)| s.spawn(|| run_or_kill(&rig, &hung, args, &rig.token)))
            .collect();
        runs.into_iter().map(|r| r.join().expect("run")).collect()
    });
    drop(hung_file);
    for ((args, git), out) in commands.iter().zip(&outs) {
        out.assert_failure();
        let said = format!("{git} did not finish within {DEADLINE} s and was stopped");
        assert!(out.stderr.contains(&said), "{args:?}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "{args:?}: {out:?}");
    }
    assert_eq!(rig.stored(), None, "login saved nothing");

    // Control: with the real git, in the same environment, none of them is stopped.
    let real = rig.env.env_var("PATH").unwrap().to_owned();
    for (args, _) in &commands {
        let out = run_or_kill(&rig, &real, args, &rig.token);
        assert!(!out.stderr.contains("did not finish"), "{args:?}: {out:?}");
        if args.contains(&"login".to_owned()) {
            out.assert_success();
            assert!(out.stdout.contains("It can push too"), "{out:?}");
        }
        if args.contains(&"doctor".to_owned()) {
            assert!(out.stdout.contains("PASS  git 2."), "{out:?}");
        }
    }
    assert_eq!(rig.stored().as_deref(), Some(rig.token.as_str()), "login");
}

#[test]
fn login_verify_against_a_remote_that_never_answers_fails_naming_git_ls_remote() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    // Connections complete in the kernel's backlog; nothing ever reads or answers them.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_host = silent.local_addr().unwrap().to_string();
    let path = rig.env.env_var("PATH").unwrap().to_owned();
    let login = |host: &str, url: &str| {
        let args: Vec<String> = ["--store", "file", "--host", host, "login", "--stdin"]
            .iter()
            .map(|a| (*a).to_owned())
            .chain(["--verify".to_owned(), url.to_owned()])
            .collect();
        run_or_kill(&rig, &path, &args, &rig.token)
    };
    let out = login(&silent_host, &format!("http://{silent_host}/ws/repo.git"));
    out.assert_failure();
    let said = format!("git ls-remote did not finish within {DEADLINE} s and was stopped");
    assert!(out.stderr.contains(&said), "{out:?}");
    assert!(out.stderr.contains("cannot run git"), "{out:?}");
    drop(silent);
    // Control: the same login against the server that answers saves the token.
    let out = login(&rig.server.host(), &rig.server.url("ws/repo.git"));
    out.assert_success();
    assert_eq!(rig.stored().as_deref(), Some(rig.token.as_str()));
}
