//! Deploy servers: git run by cron (`PATH=/usr/bin:/bin`, no login profile) still finds the
//! helper. The binary is installed where the tarball puts it for a normal user (`~/.local/bin`),
//! `setup` runs once with that directory off PATH and once on it (Debian's `~/.profile` adds it
//! at the next login), and a cron-like git then fetches without a prompt. The control: the bare
//! name older versions wrote works in the login shell and fails under cron exactly as the
//! migrating guide quotes, and `doctor` run as cron runs it FAILs on it, then PASSes after
//! `setup`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{BitbucketServer, Output, Scope, TestEnv, fake_api_token, helper_bin};

const NAME: &str = "git-credential-bitbucket";
const CRON_PATH: &str = "/usr/bin:/bin";

/// A server with one repository, a token it accepts, and a HOME with the binary copied into
/// `bin_dir` (relative to HOME).
struct Deploy {
    server: BitbucketServer,
    env: TestEnv,
    binary: PathBuf,
    token: String,
}

impl Deploy {
    fn new(bin_dir: &str) -> Deploy {
        let server = BitbucketServer::start();
        server.create_repo("ws", "repo");
        let token = fake_api_token();
        server.grant(&token, Scope::ReadWrite);
        let mut env = TestEnv::new();
        // As cron and a fresh login have it: no store chosen by the environment.
        env.remove_env("GIT_CREDENTIAL_BITBUCKET_STORE");
        let dir = env.home().join(bin_dir);
        std::fs::create_dir_all(&dir).expect("mkdir bin dir");
        let binary = dir.join(NAME);
        crate::support::copy_executable(&helper_bin(), &binary);
        Deploy {
            server,
            env,
            binary,
            token,
        }
    }

    /// The person's shell: `program` with PATH `/usr/bin:/bin`, and the binary's directory
    /// first when `on_path` (the second login, after `~/.profile` added it).
    fn shell(&self, on_path: bool, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let path = if on_path {
            format!("{}:{CRON_PATH}", self.binary.parent().unwrap().display())
        } else {
            CRON_PATH.to_owned()
        };
        let mut cmd = self.env.command(program);
        cmd.env("PATH", path);
        cmd
    }

    /// `NAME --store file --host H ARGS` as a person runs it after installing (by full path
    /// when the directory is off PATH, by name when it is on).
    fn person(&self, on_path: bool, args: &[&str], stdin: &str) -> Output {
        let program: &Path = if on_path {
            Path::new(NAME)
        } else {
            &self.binary
        };
        let host = self.server.host();
        let mut cmd = self.shell(on_path, program);
        cmd.args(["--store", "file", "--host", &host]).args(args);
        Output::run(&mut cmd, stdin)
    }

    /// A command as cron runs it: `env -i PATH=/usr/bin:/bin HOME=…`, plus what keeps the test
    /// hermetic (no system config) and promptless (cron has no terminal).
    fn cron(&self, program: &Path, args: &[&str]) -> Output {
        // The HOME's own keyring still (TestEnv::command), with nothing else of its environment.
        let mut cmd = self.env.command(program);
        cmd.env_clear()
            .env("PATH", CRON_PATH)
            .env("HOME", self.env.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LANG", "C")
            .current_dir(self.env.home())
            .args(args);
        let out = Output::run(&mut cmd, "");
        assert!(!out.stdout.contains(&self.token) && !out.stderr.contains(&self.token));
        out
    }

    fn cron_ls_remote(&self) -> Output {
        self.cron(
            Path::new("/usr/bin/git"),
            &["ls-remote", &self.server.url("ws/repo.git")],
        )
    }

    /// The values of `credential.http://HOST.helper` in the global configuration.
    fn helper_values(&self) -> Vec<String> {
        let key = format!("credential.http://{}.helper", self.server.host());
        let out = self.env.git(&["config", "--global", "--get-all", &key]);
        out.stdout.lines().map(str::to_owned).collect()
    }
}

#[test]
fn setup_writes_the_full_path_whatever_path_says_and_cron_fetches_with_it() {
    let deploy = Deploy::new(".local/bin");
    let host = deploy.server.host();
    let wanted = format!("{} --store file --host {host}", deploy.binary.display());

    // First login: ~/.local/bin is not on PATH yet.
    deploy.person(false, &["setup"], "").assert_success();
    assert_eq!(deploy.helper_values(), ["", wanted.as_str()]);
    // Next login, ~/.local/bin on PATH: setup again (as the docs suggest) keeps the full path.
    let again = deploy.person(true, &["setup"], "");
    again.assert_success();
    assert_eq!(deploy.helper_values(), ["", wanted.as_str()], "{again:?}");
    deploy
        .person(true, &["login", "--stdin"], &deploy.token)
        .assert_success();

    let fetched = deploy.cron_ls_remote();
    fetched.assert_success();
    assert!(fetched.stdout.contains("refs/heads/main"), "{fetched:?}");
    let doctor = deploy.cron(&deploy.binary, &["--host", &host, "doctor"]);
    assert!(
        doctor
            .stdout
            .contains("PASS  git runs the configured helper"),
        "{doctor:?}"
    );
    assert!(!doctor.stdout.contains("FAIL"), "{doctor:?}");
}

#[test]
fn a_helper_configured_by_name_fails_under_cron_and_doctor_says_so_until_setup_runs() {
    let deploy = Deploy::new(".local/bin");
    let host = deploy.server.host();
    deploy.person(true, &["setup"], "").assert_success();
    deploy
        .person(true, &["login", "--stdin"], &deploy.token)
        .assert_success();
    // What earlier versions wrote when the binary was on PATH.
    let key = format!("credential.http://{host}.helper");
    let bare = format!("bitbucket --store file --host {host}");
    let mut set = deploy.shell(true, "git");
    set.args(["config", "--global", "--replace-all", &key, &bare, "^.+$"]);
    Output::run(&mut set, "").assert_success();

    // Positive control: the login shell finds it by name.
    let mut from_shell = deploy.shell(true, "git");
    from_shell.args(["ls-remote", &deploy.server.url("ws/repo.git")]);
    Output::run(&mut from_shell, "").assert_success();
    // cron does not, with the very messages the migrating guide's table quotes.
    let failed = deploy.cron_ls_remote();
    failed.assert_failure();
    for expected in [
        "git: 'credential-bitbucket' is not a git command",
        "could not read Username for",
        "terminal prompts disabled",
    ] {
        assert!(failed.stderr.contains(expected), "{expected}: {failed:?}");
    }
    let doctor = deploy.cron(&deploy.binary, &["--host", &host, "doctor"]);
    doctor.assert_failure();
    let fail = doctor
        .stdout
        .lines()
        .find(|l| l.starts_with("FAIL  git cannot run the helper 'bitbucket'"))
        .unwrap_or_else(|| panic!("no FAIL for the bare name: {doctor:?}"));
    assert!(
        fail.contains("with cron's PATH (/usr/bin:/bin)") && fail.contains("is not a git command"),
        "{fail}"
    );
    assert!(
        doctor
            .stdout
            .contains("fix: git-credential-bitbucket setup   (writes the helper's full path)"),
        "{doctor:?}"
    );

    // The fix, from the login shell, where the bare name works.
    deploy.person(true, &["setup"], "").assert_success();
    deploy.cron_ls_remote().assert_success();
    let doctor = deploy.cron(&deploy.binary, &["--host", &host, "doctor"]);
    assert!(!doctor.stdout.contains("FAIL"), "{doctor:?}");
}

#[test]
fn a_path_with_spaces_is_quoted_for_gits_shell_and_runs_under_cron() {
    let deploy = Deploy::new("my tools/bin");
    let host = deploy.server.host();
    deploy.person(false, &["setup"], "").assert_success();
    let quoted = format!("!'{}' --store file --host {host}", deploy.binary.display());
    assert_eq!(deploy.helper_values(), ["", quoted.as_str()]);
    deploy
        .person(false, &["login", "--stdin"], &deploy.token)
        .assert_success();
    deploy.cron_ls_remote().assert_success();

    // Moved away (a reinstall elsewhere): the full path names nothing, under any PATH, and
    // doctor says so rather than blaming cron's PATH.
    let moved = deploy.env.home().join(NAME);
    std::fs::rename(&deploy.binary, &moved).expect("move the binary");
    let doctor = deploy.cron(&moved, &["--host", &host, "doctor"]);
    doctor.assert_failure();
    let gone = format!("names {}, which does not exist", deploy.binary.display());
    assert!(doctor.stdout.contains(&gone), "{doctor:?}");
    assert!(!doctor.stdout.contains("with cron's PATH"), "{doctor:?}");
}
