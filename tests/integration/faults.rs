//! Stores that fail while git needs them: a Secret Service locked or killed in the middle of
//! an operation, a kernel keyring the helper may not write, a file store on a read-only or full
//! disk. In every case the helper says on stderr what went wrong, git's operation goes on (git
//! prompts, the clone succeeds), and the token stored before the fault is still there after it.
//!
//! The faults are real, not simulated: a private gnome-keyring is locked over D-Bus or
//! SIGKILLed, the session keyring loses its write permission (`keyctl setperm`), the directory
//! becomes immutable (`chattr +i`), read-only (a read-only bind mount) or full (a 16 KiB tmpfs)
//! — the mounts in a private mount namespace, since the tests run as root, which ignores
//! permission bits.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{MountNamespace, Output, TestEnv, fake_api_token, helper_bin, skip_or_panic};

/// A rig whose server accepts `rig.token` (answered at the prompt), plus a different token
/// already stored for the rig's host before the fault (`stored`).
fn rig_with_stored_token(store: StoreUnderTest) -> Option<(Rig, String)> {
    Some(with_stored_token(Rig::new(store)?))
}

/// [`rig_with_stored_token`] for a rig already made.
fn with_stored_token(mut rig: Rig) -> (Rig, String) {
    let stored = rig.secret(fake_api_token());
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    (rig, stored)
}

/// git clones after prompting once, and the helper's complaint reached the person.
#[track_caller]
fn assert_prompted_and_cloned(rig: &Rig, out: &Output, says: &[&str]) {
    out.assert_success();
    assert_eq!(rig.env.prompt_count(), 1, "{:?}", rig.env.prompts());
    for text in says {
        assert!(
            out.stderr.contains(text),
            "stderr should say {text:?}: {out:?}"
        );
    }
    assert!(!out.stderr.contains("panicked"), "{out:?}");
}

/// [`rig_with_stored_token`] on a gnome-keyring of its own (the tests lock or kill it:
/// `rig.session()`), with the stored token in it.
fn rig_on_a_private_secret_service() -> Option<(Rig, String)> {
    let (rig, stored) = with_stored_token(Rig::private(StoreUnderTest::SecretService)?);
    rig.typed("", &stored);
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()), "control");
    Some((rig, stored))
}

#[test]
fn a_locked_secret_service_means_a_prompt_and_the_stored_token_survives() {
    let Some((rig, stored)) = rig_on_a_private_secret_service() else {
        return;
    };
    let session = rig.session();
    session.lock_collection();
    let out = rig.clone();
    assert_prompted_and_cloned(&rig, &out, &["secret-service store is locked", "not saved"]);

    session.unlock_collection();
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()));
}

#[test]
fn a_secret_service_killed_during_an_operation_means_a_prompt_and_the_token_survives() {
    let Some((rig, stored)) = rig_on_a_private_secret_service() else {
        return;
    };
    let session = rig.session();

    // A stopped daemon holds the helper's D-Bus call; killing it then fails the call. Whether
    // the helper is already waiting when the kill comes or starts after it, the outcome must be
    // the same: no hang, a prompt, a clone.
    let pid = session.keyring_pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let clone = rig
        .env
        .command("git")
        .args(["clone", "-q", &rig.server.url("ws/repo.git"), "clone"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("start git clone");
    std::thread::sleep(std::time::Duration::from_millis(300));
    session.kill_keyring();
    // Under the runner's deadline: a helper that hung on the dead daemon fails the test.
    let out = Output::collect_or_panic(clone, "git clone");
    rig.assert_no_leak(&out, false);
    assert_prompted_and_cloned(&rig, &out, &["secret-service store", "not saved"]);

    session.unlock_collection(); // a new daemon, on the same keyring files
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()));
}

/// Runs `keyctl ARGS` on the rig's session keyring.
fn keyctl(rig: &Rig, args: &[&str]) {
    let mut cmd = rig.env.command("keyctl");
    cmd.args(args);
    Output::run(&mut cmd, "").assert_success();
}

#[test]
fn a_session_keyring_the_helper_may_not_write_means_a_prompt_and_nothing_lost() {
    let Some(mut rig) = Rig::new(StoreUnderTest::Keyutils) else {
        return;
    };
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    // Possessor and user keep view, read, search, link and setattr; they lose write.
    keyctl(&rig, &["setperm", "@s", "0x3b3b0000"]);
    let out = rig.clone();
    keyctl(&rig, &["setperm", "@s", "0x3f3f0000"]);
    assert_prompted_and_cloned(
        &rig,
        &out,
        &[
            "the token was not saved",
            "keyutils",
            "permission denied on the session keyring",
        ],
    );
    assert_eq!(rig.stored(), None, "nothing half-written");
}

#[test]
fn a_token_in_a_session_keyring_the_helper_may_not_write_is_still_used() {
    let Some(mut rig) = Rig::new(StoreUnderTest::Keyutils) else {
        return;
    };
    let token = rig.token.clone();
    rig.typed("", &token);
    rig.will_answer(None);
    keyctl(&rig, &["setperm", "@s", "0x3b3b0000"]);
    let out = rig.clone();
    let read_while_locked_down = rig.stored();
    keyctl(&rig, &["setperm", "@s", "0x3f3f0000"]);
    out.assert_success();
    assert_eq!(
        rig.env.prompt_count(),
        0,
        "the readable token was used: {out:?}"
    );
    assert_eq!(read_while_locked_down.as_deref(), Some(token.as_str()));
}

#[test]
fn a_revoked_session_keyring_means_a_prompt_and_the_token_survives() {
    let Some((rig, stored)) = rig_with_stored_token(StoreUnderTest::Keyutils) else {
        return;
    };
    rig.typed("", &stored);
    // git and the helper inherit the session keyring the shell revoked, as every process of a
    // login session would. The token also lives in the user's persistent keyring, where the
    // next session finds it.
    let script = format!(
        "keyctl revoke @s && exec git clone -q {} clone",
        rig.server.url("ws/repo.git")
    );
    let mut cmd = rig.env.command("sh");
    cmd.args(["-c", &script]);
    let out = Output::run(&mut cmd, "");
    rig.assert_no_leak(&out, false);
    assert_prompted_and_cloned(
        &rig,
        &out,
        &["keyutils store is not available", "not saved"],
    );
    // `keyctl session NAME` now makes a fresh keyring of that name: a new login.
    assert_eq!(rig.stored().as_deref(), Some(stored.as_str()));
}

/// The file store's directory and an entry for another served host, written before the fault,
/// so that the clone's `store` has to rewrite the file.
struct FileFault {
    rig: Rig,
    dir: PathBuf,
    stored: String,
}

const OTHER_HOST: &str = "other.test";

impl FileFault {
    fn new() -> Option<FileFault> {
        let (rig, stored) = rig_with_stored_token(StoreUnderTest::File)?;
        let dir = rig.env.home().join(".local/share/git-credential-bitbucket");
        std::fs::create_dir_all(&dir).expect("data dir");
        Some(FileFault { rig, dir, stored })
    }

    fn other_host(&self, run: impl Fn(&[&str], &str) -> Output, op: &str, extra: &str) -> Output {
        let out = run(
            &["--store", "file", "--host", OTHER_HOST, op],
            &format!("protocol=https\nhost={OTHER_HOST}\n{extra}"),
        );
        self.rig.assert_no_leak(&out, op == "get");
        out
    }

    /// Stores `stored` for the other host with `run`, as typed at git's prompt.
    fn plant(&self, run: impl Fn(&[&str], &str) -> Output) {
        assert_eq!(self.other_token(&run), None, "git prompts");
        self.other_host(&run, "store", &format!("password={}\n", self.stored))
            .assert_success();
        assert_eq!(
            self.other_token(&run).as_deref(),
            Some(self.stored.as_str())
        );
    }

    /// The token `get` answers for the other host, through `run`.
    fn other_token(&self, run: impl Fn(&[&str], &str) -> Output) -> Option<String> {
        let out = self.other_host(&run, "get", "");
        out.assert_success();
        out.password()
    }

    /// What a fault must leave: the token still answered, nothing else saved, no temp file.
    #[track_caller]
    fn assert_intact(&self, run: impl Fn(&[&str], &str) -> Output, listing: &str, before: &str) {
        assert_eq!(
            self.other_token(&run).as_deref(),
            Some(self.stored.as_str())
        );
        let host = self.rig.server.host();
        let out = run(
            &["--store", "file", "--host", &host, "get"],
            &format!("protocol=http\nhost={host}\n"),
        );
        assert_eq!(
            out.stdout, "username=x-bitbucket-api-token-auth\n",
            "the prompted token was not saved, and nothing else appeared"
        );
        assert_eq!(
            listing, before,
            "the token file and directory are as they were"
        );
    }
}

/// `ls -l` of the directory and the token file's bytes, from inside `sh`.
const SNAPSHOT: &str = "cd \"$1\" && ls -1 && cat tokens";

fn run_directly(env: &TestEnv) -> impl Fn(&[&str], &str) -> Output + '_ {
    move |args, input| env.run_helper(args, input)
}

fn snapshot_directly(dir: &Path) -> String {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", SNAPSHOT, "sh"]).arg(dir);
    Output::run(&mut cmd, "").assert_success().stdout.clone()
}

#[test]
fn an_immutable_token_directory_means_the_token_is_not_saved_and_nothing_is_lost() {
    let Some(fault) = FileFault::new() else {
        return;
    };
    let env = &fault.rig.env;
    fault.plant(run_directly(env));
    let before = snapshot_directly(&fault.dir);
    let chattr = |flag: &str| {
        Command::new("chattr")
            .arg(flag)
            .arg(&fault.dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !chattr("+i") {
        skip_or_panic("chattr +i", "this filesystem has no immutable attribute");
        return;
    }
    // Undo the attribute even if an assertion fails, or the temp dir could not be removed.
    struct Mutable<'a>(&'a dyn Fn(&str) -> bool);
    impl Drop for Mutable<'_> {
        fn drop(&mut self) {
            (self.0)("-i");
        }
    }
    let guard = Mutable(&chattr);
    let out = fault.rig.clone();
    assert_prompted_and_cloned(
        &fault.rig,
        &out,
        &[
            "the token was not saved",
            "Operation not permitted",
            "git-credential-bitbucket",
        ],
    );
    let after = snapshot_directly(&fault.dir);
    drop(guard);
    fault.assert_intact(run_directly(env), &after, &before);
}

/// The same checks, with every process run inside `ns`.
fn file_fault_in_namespace(break_it: impl Fn(&MountNamespace, &Path), says: &str) {
    let Some(fault) = FileFault::new() else {
        return;
    };
    let Some(ns) = MountNamespace::new_or_skip() else {
        return;
    };
    let env = &fault.rig.env;
    let run = |args: &[&str], input: &str| {
        let mut cmd = ns.command(env, helper_bin());
        cmd.args(args);
        Output::run(&mut cmd, input)
    };
    ns.mount_tmpfs(&fault.dir, "16k");
    fault.plant(run);
    let snapshot = || ns.sh(SNAPSHOT, &fault.dir).assert_success().stdout.clone();
    let before = snapshot();
    break_it(&ns, &fault.dir);

    let mut clone = ns.command(env, "git");
    clone.args(["clone", "-q", &fault.rig.server.url("ws/repo.git"), "clone"]);
    let out = Output::run(&mut clone, "");
    fault.rig.assert_no_leak(&out, false);
    // The data directory cannot take the note of git's prompt either: `get` says so, with the
    // system's reason, and `store` that the token was not saved.
    assert_prompted_and_cloned(&fault.rig, &out, &["not saved", says]);
    let after = snapshot();
    fault.assert_intact(run, &after, &before);
}

#[test]
fn a_read_only_file_system_means_the_token_is_not_saved_and_nothing_is_lost() {
    file_fault_in_namespace(|ns, dir| ns.make_read_only(dir), "Read-only file system");
}

#[test]
fn a_full_disk_means_the_token_is_not_saved_and_the_old_file_is_intact() {
    file_fault_in_namespace(
        |ns, dir| {
            // Fill the tmpfs; `cat` fails with ENOSPC when it is full, as intended. The filler
            // sits in a subdirectory so the snapshot of the store's own files is unchanged.
            ns.sh(
                "mkdir \"$1/.filler\"; cat /dev/zero > \"$1/.filler/zeros\"; true",
                dir,
            );
            let full = ns.sh("echo x > \"$1/.filler/probe\"", dir);
            assert!(!full.success(), "the tmpfs is full");
        },
        "No space left on device",
    );
}
