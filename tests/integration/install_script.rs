//! install.sh as a person runs it, under `dash` (POSIX sh: macOS's bash 3.2 aborted the old
//! bash script under `set -u`): bad options fail before anything is built, a relative
//! `--prefix` is relative to where the person stands, an install with no option runs `setup`,
//! `--uninstall` removes the git configuration of every host (even when the binary is already
//! gone) and says where the data directory it keeps is, `--help` prints only the help. Both
//! installers are clean under `shellcheck -s sh`. None of these builds anything: cargo is a
//! stand-in that copies the test binary (the build itself is cargo's).

use std::path::{Path, PathBuf};

use crate::support::{BitbucketServer, Output, TestEnv, helper_bin, skip_or_panic};

fn install_sh() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

fn run(env: &TestEnv, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = env.command("dash");
    cmd.arg(install_sh()).args(args).current_dir(dir);
    Output::run(&mut cmd, "")
}

/// A `cargo` first on PATH whose `install --root R` copies the test binary to `R/bin` and whose
/// `uninstall --root R` removes it: install.sh's own logic runs for real, without a build.
fn cargo_stand_in(env: &mut TestEnv) {
    let dir = env.home().join("stand-in");
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!(
        "#!/bin/sh
         # Test stand-in for cargo install/uninstall: copies the already built helper.
         op=$1; root=\n         while [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=$2; shift; done
         case $op in
         \x20 install) mkdir -p \"$root/bin\" && cp {bin} \"$root/bin/git-credential-bitbucket\" ;;
         \x20 uninstall) rm \"$root/bin/git-credential-bitbucket\" ;;
         \x20 *) exit 1 ;;
         esac
",
        bin = crate::support::shell_quote(helper_bin().to_str().unwrap())
    );
    let cargo = dir.join("cargo");
    crate::support::write_executable(&cargo, script, "755");
    env.set_env("PATH", format!("{}:/usr/bin:/bin", dir.display()));
}

fn helpers_for(env: &TestEnv, url: &str) -> Vec<String> {
    let key = format!("credential.{url}.helper");
    let out = env.git(&["config", "--global", "--get-all", &key]);
    out.stdout.lines().map(str::to_owned).collect()
}

#[test]
fn a_bogus_store_fails_before_building_and_help_is_only_help() {
    let mut env = TestEnv::new();
    // No cargo on PATH: reaching the build would fail differently.
    env.set_env("PATH", "/usr/bin:/bin");
    let out = run(&env, env.home(), &["--store", "bogus"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        out.stderr.contains("--store bogus is not a store"),
        "{out:?}"
    );
    assert!(!out.stdout.contains("building"), "{out:?}");

    let help = run(
        &env,
        std::path::Path::new("/"),
        &["--store", "file", "--help"],
    );
    help.assert_success();
    assert!(
        help.stdout.starts_with("Installs git-credential-bitbucket"),
        "{help:?}"
    );
    assert!(help.stdout.contains("--uninstall"), "{help:?}");
    assert!(help.stderr.is_empty(), "{help:?}");
    assert!(!help.stdout.contains("set -e"), "{help:?}");
}

#[test]
fn uninstall_takes_a_relative_prefix_from_here_and_works_without_the_binary() {
    let env = TestEnv::new();
    let here = env.home().join("somewhere");
    let bin_dir = here.join("tools/bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let binary = bin_dir.join("git-credential-bitbucket");
    crate::support::copy_executable(&helper_bin(), &binary);
    Output::run(env.command(&binary).arg("setup"), "").assert_success();
    let key = "credential.https://bitbucket.org.helper";
    assert!(env.git(&["config", "--global", "--get-all", key]).success());

    let out = run(&env, &here, &["--uninstall", "--prefix", "tools"]);
    out.assert_success();
    assert!(
        !binary.exists(),
        "the relative prefix is taken from here: {out:?}"
    );
    assert!(
        !env.git(&["config", "--global", "--get-all", key]).success(),
        "{out:?}"
    );

    // Binary gone, configuration back (as a failed earlier uninstall might leave it).
    env.git(&["config", "--global", "--add", key, ""])
        .assert_success();
    env.git(&["config", "--global", "--add", key, "bitbucket"])
        .assert_success();
    let out = run(&env, &here, &["--uninstall", "--prefix", "tools"]);
    out.assert_success();
    assert!(out.stdout.contains(&format!("removed {key}")), "{out:?}");
    assert!(
        !env.git(&["config", "--global", "--get-all", key]).success(),
        "{out:?}"
    );
}

#[test]
fn the_readme_example_changes_the_store_after_install() {
    let env = TestEnv::new();
    env.run_helper(&["setup"], "").assert_success();
    // README "Using it": what a person runs after install.sh to choose keyutils.
    let out = env.run_helper(&["--store", "keyutils", "setup"], "");
    out.assert_success();
    let values = env.git(&[
        "config",
        "--global",
        "--get-all",
        "credential.https://bitbucket.org.helper",
    ]);
    assert!(values.stdout.ends_with("--store keyutils\n"), "{values:?}");
}

/// The store names the binary's `--store` takes, read from its `--help` (the "Stores" list:
/// lines of the form `  NAME: description`).
fn stores_the_binary_takes() -> Vec<String> {
    let out = TestEnv::new().run_helper(&["--help"], "");
    let listing = out
        .stdout
        .split("\nStores (")
        .nth(1)
        .expect("--help lists the --store values");
    listing
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.trim().split(':').next())
        .map(str::to_owned)
        .collect()
}

/// The names an installer's `case "$store" in` accepts (besides the empty default).
fn stores_an_installer_takes(script: &str) -> Vec<String> {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script))
        .expect("read the installer");
    let accepted = text
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("\"\"|")?.strip_suffix(") ;;"))
        .unwrap_or_else(|| panic!("{script} has no store check"));
    accepted.split('|').map(str::to_owned).collect()
}

#[test]
fn both_installers_accept_exactly_the_stores_the_binary_takes() {
    // The installers check --store before anything is built or copied, so they keep their own
    // list (the bundled one must stand alone); this keeps the three lists from drifting apart.
    let stores = stores_the_binary_takes();
    assert!(stores.contains(&"secret-service".to_owned()), "{stores:?}");
    for script in ["install.sh", "packaging/install.sh"] {
        assert_eq!(stores_an_installer_takes(script), stores, "{script}");
    }
}

#[test]
fn both_installers_are_posix_sh_that_shellcheck_passes() {
    let env = TestEnv::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = Output::run(env.command("shellcheck").arg("--version"), "");
    if !version.success()
        && skip_or_panic("shellcheck", "not installed (apt-get install shellcheck)")
    {
        return;
    }
    for script in [
        "install.sh",
        "packaging/install.sh",
        "packaging/postinst",
        "scripts/install-rust.sh",
    ] {
        let text = std::fs::read_to_string(root.join(script)).unwrap();
        assert!(text.starts_with("#!/bin/sh\n"), "{script} is not #!/bin/sh");
        let out = Output::run(
            env.command("shellcheck")
                .args(["-s", "sh"])
                .arg(root.join(script)),
            "",
        );
        assert!(out.success(), "{script}: {out:?}");
    }
    // Control: the bash-only construct that broke macOS is what `-s sh` reports.
    let bashism = env.home().join("bashism.sh");
    std::fs::write(&bashism, "#!/bin/sh\nset -u\na=()\necho \"${a[@]}\"\n").unwrap();
    let out = Output::run(
        env.command("shellcheck").args(["-s", "sh"]).arg(&bashism),
        "",
    );
    assert!(!out.success() && out.stdout.contains("SC3030"), "{out:?}");
}

#[test]
fn an_install_without_options_runs_setup_under_dash_with_the_full_path() {
    let mut env = TestEnv::new();
    env.remove_env("GIT_CREDENTIAL_BITBUCKET_STORE");
    cargo_stand_in(&mut env);
    let out = run(&env, env.home(), &["--prefix", "tools"]);
    out.assert_success();
    let binary = env.home().join("tools/bin/git-credential-bitbucket");
    assert!(binary.is_file(), "{out:?}");
    assert_eq!(
        helpers_for(&env, "https://bitbucket.org"),
        ["".to_owned(), binary.display().to_string()],
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains("install.sh: set credential.https://bitbucket.org.helper")
    );
    assert!(
        out.stdout.contains("asks once for your API token"),
        "{out:?}"
    );
    assert!(out.stderr.is_empty(), "{out:?}");
    // Again, with a store: idempotent, the store written into the helper line.
    let again = run(&env, env.home(), &["--prefix", "tools", "--store", "file"]);
    again.assert_success();
    assert_eq!(
        helpers_for(&env, "https://bitbucket.org")[1],
        format!("{} --store file", binary.display()),
        "{again:?}"
    );
}

#[test]
fn uninstall_removes_every_hosts_section_and_names_the_data_directory_it_keeps() {
    let mut env = TestEnv::new();
    cargo_stand_in(&mut env);
    let server = BitbucketServer::start();
    let host = server.host();
    let extra = format!("http://{host}");
    run(&env, env.home(), &["--prefix", "tools"]).assert_success();
    let binary = env.home().join("tools/bin/git-credential-bitbucket");
    // An extra host set up later, as the servers guide shows; then a token, so the data
    // directory exists.
    let mut cmd = env.command(&binary);
    cmd.args(["--host", &host, "setup"]);
    Output::run(&mut cmd, "").assert_success();
    assert_eq!(helpers_for(&env, &extra).len(), 2);
    let mut cmd = env.command(&binary);
    cmd.args(["--host", &host, "login", "--stdin"]);
    Output::run(&mut cmd, &crate::support::fake_api_token()).assert_success();
    let data = env.home().join(".local/share/git-credential-bitbucket");
    assert!(data.is_dir());

    let out = run(&env, env.home(), &["--uninstall", "--prefix", "tools"]);
    out.assert_success();
    assert!(!binary.exists(), "{out:?}");
    for url in ["https://bitbucket.org", extra.as_str()] {
        assert_eq!(
            helpers_for(&env, url),
            Vec::<String>::new(),
            "{url}: {out:?}"
        );
    }
    let gitconfig = std::fs::read_to_string(env.home().join(".gitconfig")).unwrap();
    assert!(!gitconfig.contains("credential"), "{gitconfig}");
    assert!(
        out.stdout.contains(&format!(
            "kept {} (token expiry dates, the writer lock",
            data.display()
        )) && out.stdout.contains(&format!("rm -r {}", data.display())),
        "{out:?}"
    );
    assert!(data.is_dir(), "the data directory is kept");

    // The binary gone already: git itself removes both sections, and the same note is given.
    let mut cmd = env.command(helper_bin());
    cmd.args(["--host", &host, "setup"]);
    Output::run(&mut cmd, "").assert_success();
    assert_eq!(helpers_for(&env, &extra).len(), 2);
    let out = run(&env, env.home(), &["--uninstall", "--prefix", "tools"]);
    out.assert_success();
    for url in ["https://bitbucket.org", extra.as_str()] {
        assert_eq!(
            helpers_for(&env, url),
            Vec::<String>::new(),
            "{url}: {out:?}"
        );
        assert!(
            out.stdout
                .contains(&format!("removed credential.{url}.helper"))
        );
    }
    assert!(
        out.stdout.contains(&format!("kept {}", data.display())),
        "{out:?}"
    );
}
