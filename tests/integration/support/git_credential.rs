//! `git credential fill|approve|reject` with the helper configured as git runs it, and an
//! askpass that answers the way git's own helper test library (`t/lib-credential.sh`) does.
//!
//! Why: git ships a battery of helper tests that `t/t0303-credential-external.sh` runs on any
//! external helper. We re-express those cases in Rust (git's script is GPL, and CI has no
//! network), so they need what that script's `check` gives them: real git in front of the
//! helper, stdout compared line by line, and the prompts git showed. The askpass logs each
//! prompt as `askpass: PROMPT` (as lib-credential's does, to a file here so the helper's own
//! stderr stays apart) and answers `askpass-username` / `askpass-password`, except that a
//! password the test has "typed" (a well-formed fake token: the helper keeps nothing else) is
//! answered instead. Every fake token has a name; failure messages show `<name>`, not the token,
//! and no step may show a token anywhere but on a `password=` line of git's `fill` output.

use std::path::PathBuf;

use super::git::{shell_quote, write_secret_file};
use super::output::Output;
use super::private::PrivateStore;
use super::store_under_test::StoreUnderTest;
use super::tokens::fake_api_token;

/// One store, its HOME, git configured with the helper serving `hosts`, and named tokens.
pub struct GitCredential {
    pub store: PrivateStore,
    hosts: Vec<String>,
    askpass_dir: PathBuf,
    /// (name, token) for every fake token made so far.
    tokens: Vec<(String, String)>,
}

/// What one `git credential` command did, and the prompts it showed.
pub struct Step {
    pub out: Output,
    pub prompts: Vec<String>,
}

impl GitCredential {
    /// A private `store` (see [`PrivateStore`]) with the helper configured globally as
    /// `--store FLAG --host H...`, or `None` when that store is missing and skipping is allowed.
    pub fn new(store: StoreUnderTest, hosts: &[&str]) -> Option<GitCredential> {
        let mut store = PrivateStore::new(store)?;
        let askpass_dir = store.env.home().join(".askpass");
        std::fs::create_dir_all(&askpass_dir).expect("create the askpass directory");
        let script = askpass_dir.join("askpass");
        // lib-credential's askpass, with the log in a file and a typed token if there is one.
        let body = format!(
            "#!/bin/sh\n\
             set -f\n\
             echo >>{log} askpass: $*\n\
             what=$(echo $1 | cut -d\" \" -f1 | tr A-Z a-z | tr -cd a-z)\n\
             if [ \"$what\" = password ] && [ -f {typed} ]; then exec cat {typed}; fi\n\
             echo \"askpass-$what\"\n",
            log = shell_quote(path_str(&askpass_dir.join("log"))),
            typed = shell_quote(path_str(&askpass_dir.join("typed"))),
        );
        super::write_executable(&script, body, "700");
        store.env.set_env("GIT_ASKPASS", &script);
        let args: Vec<String> = hosts.iter().map(|h| format!("--host {h}")).collect();
        store
            .env
            .configure_helper(&format!("--store {} {}", store.flag, args.join(" ")));
        Some(GitCredential {
            store,
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            askpass_dir,
            tokens: Vec::new(),
        })
    }

    /// The fake token called `name`, made on first use.
    pub fn token(&mut self, name: &str) -> String {
        if let Some((_, token)) = self.tokens.iter().find(|(n, _)| n == name) {
            return token.clone();
        }
        let token = fake_api_token();
        self.tokens.push((name.to_owned(), token.clone()));
        token
    }

    /// `text` with every known token replaced by `<its name>`, for failure messages.
    pub fn redact(&self, text: &str) -> String {
        self.tokens
            .iter()
            .fold(text.to_owned(), |acc, (name, token)| {
                acc.replace(token.as_str(), &format!("<{name}>"))
            })
    }

    /// `git [-c CONFIG]... credential OPERATION` with `input` (lines, a blank line added) on
    /// stdin; `typed` is what the person answers to a password prompt, if not
    /// `askpass-password`. Fails when a token shows anywhere but on a `password=` line.
    pub fn run(
        &self,
        config: &[&str],
        operation: &str,
        input: &[impl AsRef<str>],
        typed: Option<&str>,
    ) -> Result<Step, String> {
        let typed_file = self.askpass_dir.join("typed");
        let log = self.askpass_dir.join("log");
        let _ = std::fs::remove_file(&typed_file);
        let _ = std::fs::remove_file(&log);
        if let Some(typed) = typed {
            write_secret_file(&typed_file, typed);
        }
        let mut cmd = self.store.env.command("git");
        for setting in config {
            cmd.args(["-c", setting]);
        }
        cmd.args(["credential", operation]);
        let input: Vec<&str> = input.iter().map(AsRef::as_ref).collect();
        let out = Output::run(&mut cmd, &format!("{}\n\n", input.join("\n")));
        let prompts = std::fs::read_to_string(&log)
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        let step = Step { out, prompts };
        self.leaks(&step)?;
        Ok(step)
    }

    /// `git credential fill` (see [`GitCredential::run`]), which must succeed with exactly
    /// `stdout` (lines) after exactly the prompts `prompts`.
    pub fn fill(
        &self,
        config: &[&str],
        input: &[impl AsRef<str>],
        typed: Option<&str>,
        stdout: &[&str],
        prompts: &[&str],
    ) -> Result<Step, String> {
        let step = self.run(config, "fill", input, typed)?;
        self.succeeded("fill", &step)?;
        let expected: String = stdout.iter().map(|l| format!("{l}\n")).collect();
        if step.out.stdout != expected || step.prompts != prompts {
            let password = |text: &str| {
                text.lines()
                    .find(|l| l.starts_with("password="))
                    .unwrap_or("no password")
                    .to_owned()
            };
            return Err(self.redact(&format!(
                "fill gave {} after {} prompt(s), expected {} after {}.\n\
                 It answered\n{}expected\n{expected}prompts {:?}, expected {prompts:?}\n\
                 stderr: {}",
                password(&step.out.stdout),
                step.prompts.len(),
                password(&expected),
                prompts.len(),
                step.out.stdout,
                step.prompts,
                step.out.stderr
            )));
        }
        Ok(step)
    }

    /// `git credential approve` (git calls the helper's `store`), which must succeed.
    pub fn approve(&self, config: &[&str], input: &[impl AsRef<str>]) -> Result<Step, String> {
        let step = self.run(config, "approve", input, None)?;
        self.succeeded("approve", &step)?;
        Ok(step)
    }

    /// `git credential reject` (git calls the helper's `erase`), which must succeed.
    pub fn reject(&self, config: &[&str], input: &[impl AsRef<str>]) -> Result<Step, String> {
        let step = self.run(config, "reject", input, None)?;
        self.succeeded("reject", &step)?;
        Ok(step)
    }

    /// A command for people (`login`, `expiry`, `status`…) with `--store FLAG --host HOST`
    /// (`HOST` is the host it acts on) and `stdin`.
    pub fn command(&self, host: &str, args: &[&str], stdin: &str) -> Result<Output, String> {
        let mut all = vec!["--store", self.store.flag, "--host", host];
        all.extend_from_slice(args);
        let out = self.store.env.run_helper(&all, stdin);
        let step = Step {
            out,
            prompts: Vec::new(),
        };
        self.leaks(&step)?;
        Ok(step.out)
    }

    /// `status` over every configured host.
    pub fn status(&self) -> Output {
        let mut all = vec!["--store", self.store.flag];
        for host in &self.hosts {
            all.extend(["--host", host.as_str()]);
        }
        all.push("status");
        self.store.env.run_helper(&all, "")
    }

    fn succeeded(&self, operation: &str, step: &Step) -> Result<(), String> {
        if step.out.success() {
            Ok(())
        } else {
            Err(self.redact(&format!(
                "git credential {operation} failed: {:?}",
                step.out
            )))
        }
    }

    /// No token on stderr, nor on stdout except on a `password=` line.
    fn leaks(&self, step: &Step) -> Result<(), String> {
        let stdout: Vec<&str> = step
            .out
            .stdout
            .lines()
            .filter(|l| !l.starts_with("password="))
            .collect();
        for (name, token) in &self.tokens {
            if step.out.stderr.contains(token.as_str())
                || stdout.iter().any(|l| l.contains(token.as_str()))
            {
                return Err(format!("the token <{name}> leaked into git's output"));
            }
        }
        Ok(())
    }
}

fn path_str(path: &std::path::Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}
