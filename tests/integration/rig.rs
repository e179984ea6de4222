//! A test rig: one Bitbucket-like server, one hermetic git environment with the helper
//! configured for that server's host, and one real store. Every command run through the rig is
//! checked for the tokens it knows: none may appear anywhere but on a `password=` line of the
//! helper's own `get` output.

use std::path::PathBuf;

use crate::support::store_under_test::StoreSessions;
use crate::support::{
    BitbucketServer, Daemon, KeyutilsSession, Output, Scope, SecretServiceSession, TestEnv,
    fake_api_token,
};

pub use crate::support::StoreUnderTest;

pub struct Rig {
    pub server: BitbucketServer,
    pub env: TestEnv,
    pub store: StoreUnderTest,
    /// A read-write token the server accepts.
    pub token: String,
    secrets: Vec<String>,
    _keyutils: Option<KeyutilsSession>,
    _secret_service: Option<SecretServiceSession>,
}

impl Rig {
    /// A rig for `store`, or `None` when that store is missing and skipping is allowed.
    pub fn new(store: StoreUnderTest) -> Option<Rig> {
        Self::build(store, Daemon::Shared)
    }

    /// A rig whose store no other test sees (its own Secret Service provider, or a keyutils
    /// session in a user namespace of its own): for tests that list, clear, lock or break the
    /// whole store.
    pub fn private(store: StoreUnderTest) -> Option<Rig> {
        Self::build(store, Daemon::Own)
    }

    /// A Secret Service rig whose helper finds the bus at `address` (one that is missing, or
    /// wedged): no provider is started for it.
    pub fn on_bus(address: &str) -> Rig {
        let mut rig = Self::build(StoreUnderTest::SecretService, Daemon::NotStarted)
            .expect("nothing to start, nothing to skip");
        rig.env.set_env("DBUS_SESSION_BUS_ADDRESS", address);
        rig
    }

    fn build(store: StoreUnderTest, daemon: Daemon) -> Option<Rig> {
        let server = BitbucketServer::start();
        server.create_repo("ws", "repo");
        let token = fake_api_token();
        server.grant(&token, Scope::ReadWrite);
        let mut env = TestEnv::new();
        let StoreSessions {
            secret_service,
            keyutils,
        } = store.attach(&mut env, daemon)?;
        let rig = Rig {
            secrets: vec![token.clone()],
            server,
            env,
            store,
            token,
            _keyutils: keyutils,
            _secret_service: secret_service,
        };
        rig.env.configure_helper(&rig.helper_args().join(" "));
        Some(rig)
    }

    /// The rig's own Secret Service session (from [`Rig::private`]).
    pub fn session(&self) -> &SecretServiceSession {
        self._secret_service
            .as_ref()
            .expect("a private Secret Service rig")
    }

    /// Restarts the rig's own Secret Service ([`SecretServiceSession::restart`]: items survive,
    /// the bus address changes) and points the HOME at its new bus.
    pub fn restart_session(&mut self) {
        let session = self
            ._secret_service
            .as_mut()
            .expect("a private Secret Service rig");
        session.restart();
        self.env.use_secret_service(session);
    }

    /// `--store S --host H`, as configured in git.
    pub fn helper_args(&self) -> Vec<String> {
        vec![
            "--store".into(),
            self.store.flag().into(),
            "--host".into(),
            self.server.host(),
        ]
    }

    /// Remembers a secret so that every later output is checked for it too.
    pub fn secret(&mut self, secret: String) -> String {
        self.secrets.push(secret.clone());
        secret
    }

    /// The person at the terminal will answer `secret` when git asks for a password.
    pub fn will_answer(&mut self, secret: Option<&str>) {
        if let Some(secret) = secret {
            self.secrets.push(secret.to_owned());
        }
        self.env.set_askpass_answer(secret);
    }

    pub fn clone_dir(&self) -> PathBuf {
        self.env.home().join("clone")
    }

    pub fn clone_url(&self, url: &str) -> Output {
        let out = self.env.git(&["clone", "-q", url, "clone"]);
        self.assert_no_leak(&out, false);
        out
    }

    /// Clones `url` into `dir` (under HOME).
    pub fn clone_into(&self, url: &str, dir: &str) -> Output {
        let out = self.env.git(&["clone", "-q", url, dir]);
        self.assert_no_leak(&out, false);
        out
    }

    pub fn clone(&self) -> Output {
        self.clone_url(&self.server.url("ws/repo.git"))
    }

    pub fn git_in_clone(&self, args: &[&str]) -> Output {
        let out = self.env.git_in(&self.clone_dir(), args);
        self.assert_no_leak(&out, false);
        out
    }

    pub fn fetch(&self) -> Output {
        self.git_in_clone(&["fetch", "-q"])
    }

    /// Commits a file and pushes it.
    pub fn push(&self, name: &str) -> Output {
        std::fs::write(self.clone_dir().join(name), name).expect("write file");
        self.git_in_clone(&["add", name]).assert_success();
        self.git_in_clone(&["commit", "-q", "-m", name])
            .assert_success();
        self.git_in_clone(&["push", "-q", "origin", "HEAD:main"])
    }

    /// Runs the helper directly, with the same options git uses.
    pub fn helper(&self, operation: &str, input: &str) -> Output {
        let mut args = self.helper_args();
        args.push(operation.into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.env.run_helper(&args, input);
        self.assert_no_leak(&out, operation == "get");
        out
    }

    /// Runs a command for people (`login`, `status`…) with the rig's options.
    pub fn cli(&self, args: &[&str], stdin: &str) -> Output {
        let mut all = self.helper_args();
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = self.env.run_helper(&all, stdin);
        self.assert_no_leak(&out, false);
        out
    }

    /// The same, in the clone's directory (for `doctor` and `migrate`).
    pub fn cli_in_clone(&self, args: &[&str]) -> Output {
        let mut all = self.helper_args();
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let mut cmd = self.env.helper_command();
        cmd.args(&all).current_dir(self.clone_dir());
        let out = Output::run(&mut cmd, "");
        self.assert_no_leak(&out, false);
        out
    }

    /// A submodule `name` at `url` in the clone, as `git submodule init` leaves it: in
    /// `.gitmodules`, in `submodule.NAME.url`, and as the remote of its own repository under
    /// `.git/modules`.
    pub fn submodule_in_clone(&self, name: &str, url: &str) {
        std::fs::write(
            self.clone_dir().join(".gitmodules"),
            format!("[submodule \"{name}\"]\n\tpath = {name}\n\turl = {url}\n"),
        )
        .expect("write .gitmodules");
        let module = format!(".git/modules/{name}");
        let module_config = format!("{module}/config");
        for args in [
            &["config", &format!("submodule.{name}.url"), url][..],
            &["init", "-q", "--bare", &module],
            &["config", "--file", &module_config, "remote.origin.url", url],
        ] {
            self.git_in_clone(args).assert_success();
        }
    }

    /// The request git sends for this server, plus `extra` lines.
    pub fn request(&self, extra: &str) -> String {
        format!("protocol=http\nhost={}\n{extra}\n", self.server.host())
    }

    /// What git does for a token a person types at its prompt ([`TestEnv::typed`]) for the
    /// request `rig.request(extra)`; `extra` holds no password. Returns the store's output.
    pub fn typed(&self, extra: &str, token: &str) -> Output {
        let args = self.helper_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.env.typed(&args, &self.request(extra), token);
        self.assert_no_leak(&out, false);
        out
    }

    /// What `get` hands back now, if anything.
    pub fn stored(&self) -> Option<String> {
        let out = self.helper("get", &self.request(""));
        out.assert_success();
        out.password()
    }

    /// Puts `secret` into the store behind the helper's back, the way another tool (or an
    /// older version) might have left it.
    pub fn plant(&self, secret: &str) {
        self.plant_as(&self.server.host(), secret);
    }

    /// [`Rig::plant`] under any keychain `user` (`host` or `host/workspace`).
    pub fn plant_as(&self, account: &str, secret: &str) {
        match self.store {
            StoreUnderTest::SecretService | StoreUnderTest::KeePassXc | StoreUnderTest::KWallet => {
                let session = match &self._secret_service {
                    Some(own) => own,
                    None => SecretServiceSession::shared_provider(
                        self.store.provider().expect("a Secret Service store"),
                    )
                    .expect("session"),
                };
                session
                    .secret_tool(
                        &[
                            "store",
                            "--label=planted",
                            "service",
                            "git-credential-bitbucket",
                            "username",
                            account,
                        ],
                        secret,
                    )
                    .assert_success();
            }
            StoreUnderTest::Keyutils => {
                // The keyutils store names keys `keyring:{user}@{service}`.
                let description = format!("keyring:{account}@git-credential-bitbucket");
                let mut cmd = self.env.command("keyctl");
                cmd.args(["padd", "user", &description, "@s"]);
                Output::run(&mut cmd, secret).assert_success();
            }
            StoreUnderTest::File => {
                let dir = self
                    .env
                    .home()
                    .join(".local/share/git-credential-bitbucket");
                std::fs::create_dir_all(&dir).expect("data dir");
                let line = format!("git-credential-bitbucket\t{account}\t{secret}\n");
                let mut file = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(dir.join("tokens"))
                    .expect("plant file entry");
                std::io::Write::write_all(&mut file, line.as_bytes()).expect("plant");
                use std::os::unix::fs::PermissionsExt;
                let private = std::fs::Permissions::from_mode(0o600);
                std::fs::set_permissions(dir.join("tokens"), private).expect("chmod 600");
            }
            StoreUnderTest::Wincred => {
                // Credential Manager has no command-line tool under Wine: the helper writes
                // the same entry, for the API tokens it accepts, typed at git's prompt.
                let extra = match account.split_once('/') {
                    Some((_, workspace)) => format!("path={workspace}/repo.git"),
                    None => String::new(),
                };
                self.typed(&extra, secret);
                let out = self.helper("get", &self.request(&extra));
                assert_eq!(out.password().as_deref(), Some(secret), "planted");
            }
        }
    }

    /// No known secret in stdout or stderr, except the helper's own `password=` line.
    #[track_caller]
    pub fn assert_no_leak(&self, out: &Output, password_line_allowed: bool) {
        let stdout: String = out
            .stdout
            .lines()
            .filter(|l| !(password_line_allowed && l.starts_with("password=")))
            .collect();
        for secret in &self.secrets {
            assert!(
                !stdout.contains(secret.as_str()) && !out.stderr.contains(secret.as_str()),
                "a token leaked into the output of a command"
            );
        }
    }
}

/// One `#[test]` per store for each named function taking a [`StoreUnderTest`]: modules
/// `secret_service` (GNOME Keyring), `keepassxc`, `kwallet`, `keyutils` and `file`, so a
/// failure names its store and provider.
macro_rules! on_every_store {
    ($($test:ident),* $(,)?) => {
        mod secret_service {
            $(#[test] fn $test() { super::$test(super::StoreUnderTest::SecretService) })*
        }
        mod keepassxc {
            $(#[test] fn $test() { super::$test(super::StoreUnderTest::KeePassXc) })*
        }
        mod kwallet {
            $(#[test] fn $test() { super::$test(super::StoreUnderTest::KWallet) })*
        }
        mod keyutils {
            $(#[test] fn $test() { super::$test(super::StoreUnderTest::Keyutils) })*
        }
        mod file {
            $(#[test] fn $test() { super::$test(super::StoreUnderTest::File) })*
        }
    };
}

/// The same for the Windows build under Wine: module `wincred`.
macro_rules! on_windows_under_wine {
    ($($test:ident),* $(,)?) => {
        mod wincred {
            $(#[test] fn $test() { super::$test(super::StoreUnderTest::Wincred) })*
        }
    };
}
