//! Running real git (and the helper) hermetically, with an askpass stand-in for the person.
//!
//! Why: the helper is only ever run by git, so the tests run git itself. Each [`TestEnv`] gets a
//! throw-away HOME and an environment built from nothing, so neither the developer's git config,
//! credential helpers, proxies nor keychains can leak in or be touched. The askpass script plays
//! the person at the keyboard: it counts prompts (a helper that works means no second prompt)
//! and reads its answer from a 0600 file, so the secret is never in an environment or an argv.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::keyrings::{KeyutilsSession, SecretServiceSession};
use super::output::Output;
use super::wine::{Wine, WinePrefix};

/// The helper binary Cargo built for these tests.
pub fn helper_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-credential-bitbucket"))
}

/// Writes `secret` and a newline to a new file at `path` that only its owner can read (0600
/// from the start), as an askpass script reads its answer: never in an environment or argv.
pub fn write_secret_file(path: &Path, secret: &str) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("create a secret file");
    writeln!(file, "{secret}").expect("write a secret file");
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A throw-away HOME plus the from-scratch environment every child process gets.
pub struct TestEnv {
    /// The Windows build's own Wine prefix, when it is the helper (first: its wineserver is
    /// stopped before the directory goes).
    wine_prefix: Option<WinePrefix>,
    dir: tempfile::TempDir,
    home: PathBuf,
    vars: Vec<(OsString, OsString)>,
    /// `keyctl session NAME` (maybe behind `nsenter`): what every child runs under.
    keyutils: Option<Vec<OsString>>,
    /// The kernel keyring every child runs in when the test asked for none: one of this
    /// HOME's own, started at the first child (see [`TestEnv::command`]).
    own_keyutils: OnceLock<Option<KeyutilsSession>>,
    /// How the helper is run: its Linux binary, or `wine64 helper.exe` for the Windows build.
    helper: Vec<OsString>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    /// A new HOME (with a minimal `.gitconfig`) and environment: PATH, HOME, XDG_* under HOME,
    /// GIT_CONFIG_NOSYSTEM=1, GIT_CONFIG_SYSTEM (a file in the test's temporary directory, so
    /// that a `git config --system` or a `setup --system` never writes /etc/gitconfig; see
    /// [`TestEnv::system_gitconfig`]), GIT_TERMINAL_PROMPT=0, LANG=C, and
    /// GIT_CREDENTIAL_BITBUCKET_STORE=file. Nothing else. Children run in a kernel keyring of
    /// this HOME's own unless the test gives one ([`TestEnv::command`]).
    ///
    /// The file store (under this HOME) is the default so that a helper run without `--store`
    /// stays in this HOME; a test of `auto` says so with `--store auto`.
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("gcb-test-")
            .tempdir()
            .expect("create test tempdir");
        let home = dir.path().join("home");
        let system_gitconfig = dir.path().join("system-gitconfig");
        for sub in ["", ".config", ".local/share", ".cache"] {
            std::fs::create_dir_all(home.join(sub)).expect("create HOME dirs");
        }
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test User\n\temail = test@example.invalid\n\
             [init]\n\tdefaultBranch = main\n[protocol]\n\tversion = 2\n",
        )
        .expect("write .gitconfig");
        let mut env = TestEnv {
            wine_prefix: None,
            dir,
            home: home.clone(),
            vars: Vec::new(),
            keyutils: None,
            own_keyutils: OnceLock::new(),
            helper: vec![helper_bin().into()],
        };
        env.set_env("PATH", std::env::var_os("PATH").unwrap_or_default());
        env.set_env("HOME", &home);
        env.set_env("XDG_CONFIG_HOME", home.join(".config"));
        env.set_env("XDG_DATA_HOME", home.join(".local/share"));
        env.set_env("XDG_CACHE_HOME", home.join(".cache"));
        env.set_env("GIT_CONFIG_NOSYSTEM", "1");
        env.set_env("GIT_CONFIG_SYSTEM", system_gitconfig);
        env.set_env("GIT_TERMINAL_PROMPT", "0");
        env.set_env("LANG", "C");
        env.set_env("GIT_CREDENTIAL_BITBUCKET_STORE", "file");
        // A `cargo` run in the source tree (install.sh) must not have rustup download the
        // toolchain rust-toolchain.toml names into this empty HOME: the suite uses no network.
        env.set_env("RUSTUP_AUTO_INSTALL", "0");
        env
    }

    /// The temporary HOME (cwd of [`TestEnv::git`]); clones made there are deleted with `self`.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The system git configuration children write with `--system` (GIT_CONFIG_SYSTEM): a file
    /// of this test's own, missing until something writes it.
    pub fn system_gitconfig(&self) -> PathBuf {
        PathBuf::from(
            self.env_var("GIT_CONFIG_SYSTEM")
                .expect("GIT_CONFIG_SYSTEM is set"),
        )
    }

    /// Sets (or replaces) a variable of the child environment.
    pub fn set_env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) {
        self.remove_env(key.as_ref());
        self.vars
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
    }

    /// Removes a variable from the child environment.
    pub fn remove_env(&mut self, key: impl AsRef<OsStr>) {
        self.vars.retain(|(k, _)| k != key.as_ref());
    }

    /// The value a child would see for `key`.
    pub fn env_var(&self, key: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_os_str())
    }

    /// Points children at a private Secret Service (sets DBUS_SESSION_BUS_ADDRESS).
    pub fn use_secret_service(&mut self, session: &SecretServiceSession) {
        self.set_env("DBUS_SESSION_BUS_ADDRESS", session.bus_address());
    }

    /// Runs every later child under `keyctl session NAME` (the session must outlive its use).
    pub fn use_keyutils(&mut self, session: &KeyutilsSession) {
        self.keyutils = Some(session.prefix());
    }

    /// Runs the Windows build (`wine64 helper.exe`) as the helper from now on, in a Wine prefix
    /// of this HOME's own.
    pub fn use_windows_helper(&mut self, wine: &Wine) {
        let prefix = wine.prefix_in(&self.home);
        for (key, value) in prefix.vars() {
            self.set_env(key, value);
        }
        self.wine_prefix = Some(prefix);
        self.helper = wine.helper_command();
    }

    /// A command running the helper (before its arguments).
    pub fn helper_command(&self) -> Command {
        let mut cmd = self.command(&self.helper[0]);
        cmd.args(&self.helper[1..]);
        cmd
    }

    /// A command for `program` with exactly this environment, cwd HOME, in a kernel keyring:
    /// the test's [`KeyutilsSession`], or else one of this HOME's own.
    ///
    /// Why always a keyring: `auto` without a bus, a helper line a test wrote, or a store
    /// switch may reach keyutils where the test never meant to, and the keyring a child
    /// inherits (with the persistent keyring the store links into it) is the developer's
    /// own. The Windows build under Wine has no keyutils store and runs as it is.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.command_behind(&[], program)
    }

    /// [`TestEnv::command`] with `outer` words run first, outside the keyring (such as
    /// `nsenter` into a mount namespace, which a process in a user namespace may not enter).
    pub fn command_behind(&self, outer: &[OsString], program: impl AsRef<OsStr>) -> Command {
        let own = || {
            self.own_keyutils
                .get_or_init(|| {
                    (self.wine_prefix.is_none() && KeyutilsSession::available())
                        .then(KeyutilsSession::new_or_skip)
                        .flatten()
                })
                .as_ref()
                .map(KeyutilsSession::prefix)
        };
        let keyring = self.keyutils.clone().or_else(own).unwrap_or_default();
        let mut words = outer.iter().chain(&keyring);
        let mut cmd = match words.next() {
            Some(first) => {
                let mut c = Command::new(first);
                c.args(words).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .current_dir(self.home());
        cmd
    }

    /// Runs `git ARGS` in HOME.
    pub fn git(&self, args: &[&str]) -> Output {
        self.git_in(self.home(), args)
    }

    /// Runs `git ARGS` in `dir`.
    pub fn git_in(&self, dir: &Path, args: &[&str]) -> Output {
        Output::run(self.command("git").args(args).current_dir(dir), "")
    }

    /// Runs the helper binary directly (`git-credential-bitbucket ARGS`) with `stdin` as input.
    pub fn run_helper(&self, args: &[&str], stdin: &str) -> Output {
        Output::run(self.helper_command().args(args), stdin)
    }

    /// What git does for a token a person types: the helper's `get` for `request` (key=value
    /// lines, no password), which must answer no password (git then prompts), then its `store`
    /// of `request` with `token`. `args` are the options before the operation. The store's
    /// output is returned. (The helper keeps only a token typed at such a prompt.)
    pub fn typed(&self, args: &[&str], request: &str, token: &str) -> Output {
        let request = request.trim_end_matches('\n');
        let operation = |op: &'static str| -> Vec<&str> {
            let mut all = args.to_vec();
            all.push(op);
            all
        };
        let get = self.run_helper(&operation("get"), &format!("{request}\n\n"));
        get.assert_success();
        assert_eq!(
            get.password(),
            None,
            "git prompts only when get gives no token: {get:?}"
        );
        let store = self.run_helper(
            &operation("store"),
            &format!("{request}\npassword={token}\n\n"),
        );
        store.assert_success();
        store
    }

    /// `credential.helper` = `""` then the helper by absolute path with `extra_args`, in the
    /// global config, written by real git so it reads back exactly as git will use it.
    pub fn configure_helper(&self, extra_args: &str) {
        let words: Vec<&str> = self
            .helper
            .iter()
            .map(|w| w.to_str().expect("UTF-8 helper path"))
            .collect();
        let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        // git runs a value starting with `/` through the shell as is; a quoted path would not
        // start with `/`, so it needs the `!` form instead (and so does `wine64 helper.exe`).
        let cmd = if words.len() == 1 && quoted[0] == words[0] {
            words[0].to_owned()
        } else {
            format!("!{}", quoted.join(" "))
        };
        self.add_helper(format!("{cmd} {extra_args}").trim_end());
    }

    /// The way users configure it: `credential.helper = "bitbucket ARGS"`, with the helper's
    /// directory put first on PATH so `git credential-bitbucket` finds it.
    pub fn configure_helper_by_name(&mut self, extra_args: &str) {
        let dir = helper_bin().parent().expect("helper dir").to_owned();
        let mut path = vec![dir];
        path.extend(std::env::split_paths(
            self.env_var("PATH").unwrap_or_default(),
        ));
        let joined = std::env::join_paths(path).expect("PATH without ':' in entries");
        self.set_env("PATH", joined);
        self.add_helper(format!("bitbucket {extra_args}").trim_end());
    }

    fn add_helper(&self, value: &str) {
        self.git(&["config", "--global", "--add", "credential.helper", ""])
            .assert_success();
        self.git(&["config", "--global", "--add", "credential.helper", value])
            .assert_success();
    }

    /// `credential.useHttpPath = true` in the global config.
    pub fn use_http_path(&self) {
        self.git(&["config", "--global", "credential.useHttpPath", "true"])
            .assert_success();
    }

    /// Installs the askpass stand-in as GIT_ASKPASS. It records every prompt; it answers
    /// `Username for …` with `x-bitbucket-api-token-auth` and `Password for …` with `secret`
    /// (read from a 0600 file), or fails (like a person cancelling) when `secret` is `None`.
    pub fn set_askpass_answer(&mut self, secret: Option<&str>) {
        let dir = self.dir.path();
        let secret_file = dir.join("askpass-secret");
        let _ = std::fs::remove_file(&secret_file);
        if let Some(secret) = secret {
            write_secret_file(&secret_file, secret);
        }
        let script = dir.join("askpass.sh");
        let body = format!(
            "#!/bin/sh\n\
             # Test stand-in for the person: logs the prompt, answers from a 0600 file.\n\
             printf '%s\\n' \"$1\" >> {prompts}\n\
             case \"$1\" in\n\
             \x20 Username*) echo x-bitbucket-api-token-auth ;;\n\
             \x20 Password*) [ -f {secret} ] && exec cat {secret}; exit 1 ;;\n\
             \x20 *) exit 1 ;;\n\
             esac\n",
            prompts = shell_quote(dir.join("prompts").to_str().expect("UTF-8")),
            secret = shell_quote(secret_file.to_str().expect("UTF-8")),
        );
        super::write_executable(&script, body, "700");
        self.set_env("GIT_ASKPASS", &script);
    }

    /// The prompts git showed so far (its `$1` to askpass: e.g. `Password for 'http://…':`).
    pub fn prompts(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("prompts"))
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// How many times git prompted so far.
    pub fn prompt_count(&self) -> usize {
        self.prompts().len()
    }
}
