//! The release artifacts, installed as a user would: scripts/dist.sh builds them once per suite
//! run; the tarball's install.sh and the .deb install into temporary roots, and the installed
//! binaries serve a real git clone against the Bitbucket-like server. Also: the man pages and
//! completions mention every command `--help` lists.
//!
//! The release tier ([`crate::support::tier`]): a plain `cargo test` says these tests did not
//! run, since building the artifacts takes minutes. The man pages test needs no artifact and
//! always runs.
//!
//! Why here: the binary people run is the static musl build from the tarball or the package,
//! not the debug build the other tests drive. The .deb goes through real dpkg with a private
//! `--root` (its own database and lock), so two suite runs at once, and the machine's own
//! packages, never meet.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::run_dirs::RunDir;
use crate::support::tier::{self, SlowTier};
use crate::support::{BitbucketServer, Output, Scope, TestEnv, fake_api_token};

const NAME: &str = "git-credential-bitbucket";
/// No cargo on it: the installers must not need a Rust toolchain.
const PATH_WITHOUT_CARGO: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// scripts/dist.sh, run once per test binary into a [`RunDir`] of its own under target/tmp
/// (removed by a later run: statics are never dropped); `None` (after saying so) when the release
/// tier was not asked for.
fn dist() -> Option<&'static Path> {
    if !tier::asked_for(SlowTier::Release) {
        return None;
    }
    static DIST: OnceLock<(RunDir, PathBuf)> = OnceLock::new();
    let (_, dir) = DIST.get_or_init(|| {
        let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let run_dir = RunDir::new(&tmp, "dist").unwrap_or_else(|e| panic!("{e}"));
        let out = run_dir.path().join("dist");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let built = Output::run(Command::new(root.join("scripts/dist.sh")).arg(&out), "");
        built.assert_success();
        (run_dir, out)
    });
    Some(dir)
}

fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The artifact in the dist directory whose name is `name` (panics if it is missing), or
/// `None` when the release tier was not asked for.
fn artifact(name: &str) -> Option<PathBuf> {
    let path = dist()?.join(name);
    assert!(path.is_file(), "{} missing from the dist", path.display());
    Some(path)
}

fn run(cmd: &mut Command) -> Output {
    Output::run(cmd, "")
}

/// Every regular file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).expect("under dir");
                found.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// A server with one repository, and a HOME whose git asks `binary` for its host's credentials
/// (on the file store); the person at the keyboard will paste the token once.
struct Clone {
    server: BitbucketServer,
    env: TestEnv,
    token: String,
}

impl Clone {
    fn through(mut env: TestEnv, binary: &Path) -> Clone {
        let server = BitbucketServer::start();
        server.create_repo("ws", "repo");
        let token = fake_api_token();
        server.grant(&token, Scope::ReadWrite);
        let helper = format!("{} --store file --host {}", binary.display(), server.host());
        let key = format!("credential.{}.helper", server.url(""));
        env.git(&["config", "--global", &key, &helper])
            .assert_success();
        env.set_askpass_answer(Some(&token));
        Clone { server, env, token }
    }

    /// The first clone prompts once and stores; a fetch afterwards needs no prompt.
    fn clone_then_fetch_silently(&mut self) {
        let url = self.server.url("ws/repo.git");
        let out = self.env.git(&["clone", "-q", &url, "clone"]);
        out.assert_success();
        assert_eq!(self.env.prompt_count(), 1, "{:?}", self.env.prompts());
        self.env.set_askpass_answer(None);
        let clone = self.env.home().join("clone");
        self.env.git_in(&clone, &["fetch", "-q"]).assert_success();
        assert_eq!(self.env.prompt_count(), 1, "the installed helper answered");
        assert!(!out.stderr.contains(&self.token) && !out.stdout.contains(&self.token));
    }
}

fn env_without_cargo() -> TestEnv {
    let mut env = TestEnv::new();
    env.set_env("PATH", PATH_WITHOUT_CARGO);
    let cargo = run(env.command("sh").args(["-c", "command -v cargo"]));
    assert!(
        !cargo.success(),
        "cargo is on {PATH_WITHOUT_CARGO}: {cargo:?}"
    );
    env
}

#[test]
fn sha256sums_cover_exactly_the_three_artifacts() {
    let Some(sums) = artifact("SHA256SUMS") else {
        return;
    };
    let sums = std::fs::read_to_string(sums).expect("read SHA256SUMS");
    let mut names: Vec<&str> = sums.lines().filter_map(|l| l.split("  ").nth(1)).collect();
    names.sort_unstable();
    let v = version();
    assert_eq!(
        names,
        [
            format!("{NAME}-{v}-x86_64-pc-windows-gnu.zip"),
            format!("{NAME}-{v}-x86_64-unknown-linux-musl.tar.gz"),
            format!("{NAME}_{v}_amd64.deb"),
        ]
    );
    let check = run(Command::new("sha256sum")
        .args(["-c", "--strict", "SHA256SUMS"])
        .current_dir(dist().expect("built above")));
    check.assert_success();
}

#[test]
fn the_tarball_installs_a_static_binary_without_cargo_that_serves_git() {
    let Some(tarball) = artifact(&format!(
        "{NAME}-{}-x86_64-unknown-linux-musl.tar.gz",
        version()
    )) else {
        return;
    };
    let mut env = env_without_cargo();
    let unpacked = env.home().join("unpacked");
    std::fs::create_dir(&unpacked).expect("mkdir");
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&unpacked))
    .assert_success();
    let top = unpacked.join(format!("{NAME}-{}-x86_64-unknown-linux-musl", version()));
    let shipped = files_under(&top);
    for expected in [
        NAME,
        "install.sh",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "man/git-credential-bitbucket.1",
        "man/git-credential-bitbucket-login.1",
        "completions/git-credential-bitbucket.bash",
        "completions/_git-credential-bitbucket",
        "completions/git-credential-bitbucket.fish",
    ] {
        assert!(
            shipped.iter().any(|f| f == expected),
            "{expected} not in {shipped:?}"
        );
    }
    let ldd = run(Command::new("ldd").arg(top.join(NAME)));
    assert!(
        format!("{}{}", ldd.stdout, ldd.stderr).contains("statically linked")
            || ldd.stderr.contains("not a dynamic executable"),
        "{ldd:?}"
    );
    let bare = run(Command::new(top.join(NAME)).env_clear().arg("--version"));
    assert_eq!(
        bare.assert_success().stdout,
        format!("{NAME} {}\n", version())
    );

    let prefix = env.home().join("root/usr/local");
    // Under dash: the installer is POSIX sh (macOS's bash 3.2 is no bash 4).
    let install = run(env
        .command("dash")
        .arg(top.join("install.sh"))
        .arg("--prefix")
        .arg(&prefix));
    install.assert_success();
    let installed = prefix.join("bin").join(NAME);
    for file in [
        "share/man/man1/git-credential-bitbucket.1",
        "share/bash-completion/completions/git-credential-bitbucket",
        "share/zsh/site-functions/_git-credential-bitbucket",
        "share/fish/vendor_completions.d/git-credential-bitbucket.fish",
    ] {
        assert!(
            prefix.join(file).is_file(),
            "{file} not installed: {install:?}"
        );
    }
    let helpers = env.git(&[
        "config",
        "--global",
        "--get-all",
        "credential.https://bitbucket.org.helper",
    ]);
    let configured: Vec<&str> = helpers.stdout.lines().collect();
    assert!(
        configured.len() == 2
            && configured[0].is_empty()
            && (configured[1] == installed.display().to_string()
                || configured[1].starts_with(&format!("{} ", installed.display()))),
        "setup reset the helpers and configured the installed binary by full path (not on \
         PATH): {helpers:?} {install:?}"
    );
    env.set_env(
        "PATH",
        format!("{}:{PATH_WITHOUT_CARGO}", prefix.join("bin").display()),
    );
    Clone::through(env, &installed).clone_then_fetch_silently();
}

#[test]
fn the_tarball_uninstalls_every_file_it_installed() {
    let Some(tarball) = artifact(&format!(
        "{NAME}-{}-x86_64-unknown-linux-musl.tar.gz",
        version()
    )) else {
        return;
    };
    let env = env_without_cargo();
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(env.home()))
    .assert_success();
    let script = env.home().join(format!(
        "{NAME}-{}-x86_64-unknown-linux-musl/install.sh",
        version()
    ));
    let prefix = env.home().join("prefix");
    let dash = |args: &[&str]| {
        let mut cmd = env.command("dash");
        cmd.arg(&script).args(args).arg("--prefix").arg(&prefix);
        run(&mut cmd)
    };
    let refused = dash(&["--store", "nonsense"]);
    refused.assert_failure();
    assert!(
        !prefix.exists(),
        "a bad --store installs nothing: {refused:?}"
    );
    // --no-setup copies files and says git is not configured yet (no "asks once").
    let gitconfig_before = std::fs::read(env.home().join(".gitconfig")).expect("read .gitconfig");
    let copied = dash(&["--no-setup"]);
    copied.assert_success();
    assert!(
        copied.stdout.contains("git is not configured yet")
            && copied
                .stdout
                .contains("bin/git-credential-bitbucket setup'")
            && !copied.stdout.contains("asks once")
            && !copied.stdout.contains("set credential"),
        "{copied:?}"
    );
    assert_eq!(
        std::fs::read(env.home().join(".gitconfig")).expect("read .gitconfig"),
        gitconfig_before,
        "--no-setup changed git's configuration"
    );
    let installed = dash(&[]);
    installed.assert_success();
    assert!(installed.stdout.contains("asks once"), "{installed:?}");
    assert!(files_under(&prefix).len() > 5, "{:?}", files_under(&prefix));
    let undo = dash(&["--uninstall"]);
    undo.assert_success();
    assert_eq!(files_under(&prefix), Vec::<String>::new(), "{undo:?}");
    let helpers = env.git(&[
        "config",
        "--global",
        "--get-all",
        "credential.https://bitbucket.org.helper",
    ]);
    assert_eq!(helpers.stdout, "", "teardown removed the configuration");
}

/// A private dpkg root: its own status database and lock, nothing shared with the machine.
fn dpkg_root(env: &TestEnv) -> (PathBuf, impl Fn(&[&str]) -> Output + '_) {
    let root = env.home().join("dpkg-root");
    let admin = root.join("var/lib/dpkg");
    for dir in ["updates", "info", "triggers"] {
        std::fs::create_dir_all(admin.join(dir)).expect("mkdir dpkg admin dir");
    }
    std::fs::write(admin.join("status"), "").expect("empty dpkg status");
    let dpkg_root = root.clone();
    let dpkg = move |args: &[&str]| {
        // Not root in spirit: no chroot for the maintainer scripts, git need not be in this
        // empty database, and the log stays out of the machine's /var/log.
        run(env
            .command("dpkg")
            .arg(format!("--root={}", dpkg_root.display()))
            .args([
                "--force-not-root",
                "--force-script-chrootless",
                "--force-depends",
            ])
            .args(["--log=/dev/null"])
            .args(args))
    };
    (root, dpkg)
}

#[test]
fn the_deb_installs_configures_nothing_serves_git_and_removes_cleanly() {
    let Some(deb) = artifact(&format!("{NAME}_{}_amd64.deb", version())) else {
        return;
    };
    let env = env_without_cargo();
    let gitconfig_before = std::fs::read(env.home().join(".gitconfig")).expect("read .gitconfig");
    // The machine's own system configuration, which no test may write (a `git config --system`
    // in a maintainer script would go to the test's GIT_CONFIG_SYSTEM instead).
    let etc_gitconfig = || std::fs::read(REAL_SYSTEM_GITCONFIG).ok();
    let etc_gitconfig_before = etc_gitconfig();
    let (root, dpkg) = dpkg_root(&env);
    let install = dpkg(&["-i", deb.to_str().expect("UTF-8 path")]);
    install.assert_success();
    assert!(
        install.stdout.contains("git-credential-bitbucket setup"),
        "the package tells the user what to run: {install:?}"
    );
    assert_eq!(
        std::fs::read(env.home().join(".gitconfig")).expect("read .gitconfig"),
        gitconfig_before,
        "installing the package configured git behind the user's back"
    );
    assert!(
        !env.system_gitconfig().exists(),
        "installing the package configured git for every user"
    );
    assert!(
        etc_gitconfig() == etc_gitconfig_before,
        "{REAL_SYSTEM_GITCONFIG} changed"
    );
    let installed = files_under(&root.join("usr"));
    for expected in [
        "bin/git-credential-bitbucket",
        "share/man/man1/git-credential-bitbucket.1.gz",
        "share/bash-completion/completions/git-credential-bitbucket",
        "share/zsh/vendor-completions/_git-credential-bitbucket",
        "share/fish/vendor_completions.d/git-credential-bitbucket.fish",
        "share/doc/git-credential-bitbucket/copyright",
        "share/doc/git-credential-bitbucket/README.md",
    ] {
        assert!(
            installed.iter().any(|f| f == expected),
            "{expected} not in {installed:?}"
        );
    }
    let binary = root.join("usr/bin").join(NAME);
    let mut env_for_git = env_without_cargo();
    env_for_git.set_env("PATH", PATH_WITHOUT_CARGO);
    Clone::through(env_for_git, &binary).clone_then_fetch_silently();

    dpkg(&["-r", NAME]).assert_success();
    let left: Vec<String> = files_under(&root)
        .into_iter()
        .filter(|f| !f.starts_with("var/lib/dpkg/"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "dpkg -r left files behind");
    assert!(
        !root.join("usr").exists(),
        "dpkg -r left directories behind"
    );
    assert!(
        !env.system_gitconfig().exists(),
        "dpkg -r configured git for every user"
    );
    assert!(
        etc_gitconfig() == etc_gitconfig_before,
        "{REAL_SYSTEM_GITCONFIG} changed"
    );
}

/// The machine's system git configuration (Debian's git reads it).
const REAL_SYSTEM_GITCONFIG: &str = "/etc/gitconfig";

#[test]
fn the_windows_zip_holds_the_exe_its_licenses_and_the_docs_its_readme_links_to() {
    let Some(zip) = artifact(&format!("{NAME}-{}-x86_64-pc-windows-gnu.zip", version())) else {
        return;
    };
    let listing = run(Command::new("unzip").arg("-Z1").arg(&zip));
    listing.assert_success();
    let top = format!("{NAME}-{}-x86_64-pc-windows-gnu/", version());
    for file in [
        "git-credential-bitbucket.exe",
        "README.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
    ] {
        assert!(
            listing.stdout.lines().any(|l| l == format!("{top}{file}")),
            "{file}: {listing:?}"
        );
    }
    let exe = run(Command::new("unzip")
        .arg("-p")
        .arg(&zip)
        .arg(format!("{top}{NAME}.exe")));
    assert!(exe.stdout.starts_with("MZ"), "a Windows executable");
    // Every file README and the docs link to is in the zip (they link to docs/*.md).
    let mut links = 0;
    for page in ["README.md", "docs/windows.md", "docs/getting-started.md"] {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(page))
            .expect("read a page");
        let base = Path::new(page).parent().expect("a directory");
        for target in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
            .filter(|t| !t.starts_with("http") && !t.starts_with('#'))
            .map(|t| t.split('#').next().unwrap_or(t))
        {
            links += 1;
            let path = base.join(target);
            let entry = format!("{top}{}", path.display());
            assert!(
                listing.stdout.lines().any(|l| l == entry),
                "{page} links to {target}, not in the zip: {listing:?}"
            );
        }
    }
    assert!(links > 5, "README and the docs link to the docs");
}

/// The subcommands `--help` lists (clap's own `help` aside).
pub fn subcommands_in_help() -> Vec<String> {
    let help = TestEnv::new().run_helper(&["--help"], "");
    let listed: Vec<String> = help
        .assert_success()
        .stdout
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .take_while(|l| l.starts_with("  "))
        // A command's line starts with two spaces; a wrapped description with more.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    assert!(listed.len() >= 10, "{listed:?}");
    listed
}

#[test]
fn man_pages_and_completions_mention_every_command_in_help_and_nothing_hidden() {
    let env = TestEnv::new();
    let dir = env.home().join("generated");
    let out = run(env.helper_command().arg("generate-docs").arg(&dir));
    out.assert_success();
    // roff writes a hyphen as `\-`.
    let main_page = std::fs::read_to_string(dir.join("man/git-credential-bitbucket.1"))
        .expect("the main man page")
        .replace("\\-", "-");
    let completions: Vec<(String, String)> = files_under(&dir.join("completions"))
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join("completions").join(&f)).expect("read");
            (f, text)
        })
        .collect();
    assert_eq!(
        completions.len(),
        4,
        "bash, zsh, fish, PowerShell: {completions:?}"
    );
    for command in subcommands_in_help() {
        let page = format!("{NAME}-{command}");
        assert!(main_page.contains(&page), "{page} not in the main man page");
        assert!(
            dir.join(format!("man/{page}.1")).is_file(),
            "no man page {page}.1"
        );
        for (file, text) in &completions {
            assert!(text.contains(&command), "{command} not in {file}");
        }
    }
    // Internal commands and options stay out of what people are offered (positive control:
    // the loop above found the visible ones in the same files).
    for (file, text) in &completions {
        assert!(
            !text.contains("generate-docs") && !text.contains("token-fd"),
            "{file}"
        );
    }
    assert!(!main_page.contains("generate-docs") && !main_page.contains("token-fd"));
}
