//! install.sh as a person runs it: bad options fail before anything is built, a relative
//! `--prefix` is relative to where the person stands, `--uninstall` removes the git
//! configuration even when the binary is already gone, `--help` prints only the help. None of
//! these builds anything (the build itself is cargo's).

use std::path::PathBuf;

use crate::support::{Output, TestEnv, helper_bin};

fn install_sh() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("install.sh")
}

fn run(env: &TestEnv, dir: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = env.command("bash");
    cmd.arg(install_sh()).args(args).current_dir(dir);
    Output::run(&mut cmd, "")
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
    std::fs::copy(helper_bin(), &binary).unwrap();
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

/// The store names the binary's `--store` takes, read from its `--help`
/// ("Possible values:" lines of the form `- NAME: description`).
fn stores_the_binary_takes() -> Vec<String> {
    let out = TestEnv::new().run_helper(&["--help"], "");
    let listing = out
        .stdout
        .split("Possible values:")
        .nth(1)
        .expect("--help lists the --store values");
    listing
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix("- ")?.split(':').next())
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
