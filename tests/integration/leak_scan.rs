//! doctor and migrate see every place git reads a secret from: a repository planted with one
//! leak of each kind makes doctor FAIL once per leak; after `setup` and `migrate` it PASSes,
//! the token is in the store, git still fetches without a prompt, and no secret is left on
//! disk anywhere but the store.

use crate::leaks::{executions, files_containing};
use crate::rig::{Rig, StoreUnderTest};
use crate::support::{
    Output, TOKEN_USERNAME, fake_api_token, fake_app_password, helper_bin, skip_or_panic,
};

fn base64(text: &str) -> String {
    let mut cmd = std::process::Command::new("base64");
    cmd.arg("-w0");
    Output::run(&mut cmd, text).stdout.trim().to_owned()
}

#[test]
fn doctor_fails_once_per_planted_leak_and_passes_after_migrate_with_nothing_left_on_disk() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let token = rig.token.clone();
    let legacy = rig.secret(fake_app_password());
    let host = rig.server.host();
    let with = |secret: &str, path: &str| format!("http://{TOKEN_USERNAME}:{secret}@{host}/{path}");
    rig.cli(&["setup"], "").assert_success();
    rig.cli(&["login", "--stdin"], &token).assert_success();
    rig.clone().assert_success();
    rig.cli(&["logout"], "").assert_success();
    let clone = rig.clone_dir();
    let git = |args: &[&str]| rig.git_in_clone(args).assert_success().stdout.clone();
    // 1. the remote URL, 2. one of two push URLs (multi-valued).
    git(&["config", "remote.origin.url", &with(&token, "ws/repo.git")]);
    git(&[
        "config",
        "--add",
        "remote.origin.pushurl",
        &rig.server.url("ws/repo.git"),
    ]);
    git(&[
        "config",
        "--add",
        "remote.origin.pushurl",
        &with(&token, "ws/repo.git"),
    ]);
    // 3. an include.path file, 4. an includeIf file.
    std::fs::write(
        clone.join(".git/extra.inc"),
        format!(
            "[remote \"inc\"]\n\turl = {}\n",
            with(&token, "ws/repo.git")
        ),
    )
    .unwrap();
    git(&["config", "include.path", "extra.inc"]);
    let conditional = rig.env.home().join("work.inc");
    std::fs::write(
        &conditional,
        format!(
            "[remote \"work\"]\n\turl = {}\n",
            with(&legacy, "ws/repo.git")
        ),
    )
    .unwrap();
    let gitdir = format!("includeIf.gitdir:{}/.path", clone.display());
    git(&["config", &gitdir, conditional.to_str().unwrap()]);
    // 5. config.worktree.
    git(&["config", "extensions.worktreeConfig", "true"]);
    git(&[
        "config",
        "--worktree",
        "remote.wt.url",
        &with(&token, "ws/repo.git"),
    ]);
    // 6. a submodule: .gitmodules, 7. its url in .git/config, 8. its own repository.
    rig.submodule_in_clone("lib", &with(&token, "ws/lib.git"));
    // 9. a global insteadOf base (with pushInsteadOf too: one section, one leak).
    let base = format!("url.{}.insteadOf", with(&token, ""));
    let push_base = format!("url.{}.pushInsteadOf", with(&token, ""));
    rig.env
        .git(&["config", "--global", &base, "bitbucket:"])
        .assert_success();
    rig.env
        .git(&["config", "--global", &push_base, "bb-push:"])
        .assert_success();
    // 10. a global http.<url>.extraHeader with the token in Basic auth.
    let header_key = format!("http.http://{host}/.extraHeader");
    let basic = base64(&format!("{TOKEN_USERNAME}:{token}"));
    rig.secret(basic.clone());
    let header = format!("Authorization: Basic {basic}");
    rig.env
        .git(&["config", "--global", &header_key, &header])
        .assert_success();
    // 11. ~/.git-credentials, a symlink into a dotfiles folder, with a line that is not UTF-8.
    let dotfiles = rig.env.home().join("dotfiles");
    std::fs::create_dir(&dotfiles).unwrap();
    let mut creds = b"https://me:\xff\xfe@github.com\n".to_vec();
    creds.extend(format!("http://someone:{legacy}@{host}\nhttps://x:y@example.com\n").as_bytes());
    std::fs::write(dotfiles.join("git-credentials"), &creds).unwrap();
    std::os::unix::fs::symlink(
        "dotfiles/git-credentials",
        rig.env.home().join(".git-credentials"),
    )
    .unwrap();
    // 12. a storing helper after ours in the same file.
    let mut gitconfig = std::fs::OpenOptions::new()
        .append(true)
        .open(rig.env.home().join(".gitconfig"))
        .unwrap();
    std::io::Write::write_all(&mut gitconfig, b"[credential]\n\thelper = store\n").unwrap();
    // Not a leak git reads: with XDG_CONFIG_HOME empty git reads ~/.config, never ./git/.
    let planted = rig.secret(fake_api_token());
    std::fs::create_dir(clone.join("git")).unwrap();
    std::fs::write(
        clone.join("git/credentials"),
        format!("http://x:{planted}@{host}\n"),
    )
    .unwrap();
    rig.env.set_env("XDG_CONFIG_HOME", "");

    let doctor = rig.cli_in_clone(&["doctor"]);
    doctor.assert_failure();
    let fails: Vec<&str> = doctor
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL"))
        .collect();
    // The clone lives in the test's HOME under the temporary directory, wherever TMPDIR puts it.
    let origin_in_clone = format!(
        "(remote.origin.url) in {}",
        std::env::temp_dir().join("gcb-test-").display()
    );
    for expected in [
        origin_in_clone.as_str(),
        "remote 'origin' (remote.origin.pushurl) in",
        "remote 'inc' (remote.inc.url) in",
        "remote 'work' (remote.work.url) in",
        "remote 'wt' (remote.wt.url) in",
        "submodule 'lib' (submodule.lib.url) in",
        "/.gitmodules",
        "/.git/modules/lib/config",
        "(insteadOf) in",
        ".extraheader in",
        "/.git-credentials line 2",
        "'store' (credential.helper in",
    ] {
        assert_eq!(
            fails.iter().filter(|l| l.contains(expected)).count(),
            if expected == "submodule 'lib' (submodule.lib.url) in" || expected == origin_in_clone {
                2
            } else {
                1
            },
            "{expected:?} in {doctor:?}"
        );
    }
    assert_eq!(fails.len(), 12, "one FAIL per leak: {doctor:?}");
    assert!(!doctor.stdout.contains("git/credentials"), "{doctor:?}");
    assert!(
        doctor
            .stdout
            .contains("fix: git-credential-bitbucket migrate"),
        "{doctor:?}"
    );

    rig.cli(&["setup"], "").assert_success();
    // migrate under strace: no secret in the argv or environment of any program it runs.
    let traces = rig.env.home().join("../traces");
    std::fs::create_dir(&traces).unwrap();
    let mut cmd = rig.env.command("strace");
    cmd.args([
        "-ff",
        "-qq",
        "-v",
        "-s",
        "65536",
        "-e",
        "trace=execve",
        "-o",
    ])
    .arg(traces.join("trace"))
    .arg(helper_bin())
    .args(rig.helper_args())
    .arg("migrate")
    .current_dir(&clone);
    let migrate = Output::run(&mut cmd, "");
    rig.assert_no_leak(&migrate, false);
    migrate.assert_success();
    let runs = executions(&traces);
    if runs.len() <= 1 {
        skip_or_panic(
            "strace",
            "strace saw no program start (ptrace not allowed?)",
        );
    }
    assert!(
        runs.iter()
            .any(|l| l.contains("--replace-all") && l.contains(&rig.server.url("ws/repo.git"))),
        "positive control: git config's argv is in the trace"
    );
    for secret in [&token, &legacy, &basic] {
        assert!(
            runs.iter().all(|l| !l.contains(secret.as_str())),
            "a secret went on a command line or into an environment"
        );
    }
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    let doctor = rig.cli_in_clone(&["doctor"]);
    assert!(doctor.success(), "{doctor:?}");
    assert!(!doctor.stdout.contains("FAIL"), "{doctor:?}");

    // No secret on disk but the store (and the planted file git never reads).
    let store_dir = rig.env.home().join(".local/share/git-credential-bitbucket");
    for secret in [&token, &legacy, &basic] {
        let mut found = files_containing(rig.env.home(), secret);
        found.retain(|p| !p.starts_with(&store_dir));
        assert!(found.is_empty(), "a secret is left in {found:?}");
    }
    assert!(
        std::fs::symlink_metadata(rig.env.home().join(".git-credentials"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink stays a symlink"
    );
    let left = std::fs::read(dotfiles.join("git-credentials")).unwrap();
    assert_eq!(
        left,
        b"https://me:\xff\xfe@github.com\nhttps://x:y@example.com\n"
    );
    let pushurls = rig.git_in_clone(&["config", "--get-all", "remote.origin.pushurl"]);
    let clean = rig.server.url("ws/repo.git");
    assert!(pushurls.stdout.lines().all(|u| u == clean), "{pushurls:?}");
    assert!(
        std::fs::read_to_string(clone.join("git/credentials"))
            .unwrap()
            .contains(&planted)
    );

    rig.will_answer(None);
    rig.fetch().assert_success();
    assert_eq!(
        rig.env.prompt_count(),
        0,
        "git gets the token from the store"
    );
}

#[test]
fn a_repository_reset_of_the_helpers_is_named_with_its_file_and_setup_warns_about_storing_helpers()
{
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    rig.cli(&["setup"], "").assert_success();
    rig.cli(&["login", "--stdin"], &rig.token).assert_success();
    rig.clone().assert_success();
    rig.git_in_clone(&["config", "credential.helper", ""])
        .assert_success();
    let doctor = rig.cli_in_clone(&["doctor"]);
    doctor.assert_failure();
    let local = rig.clone_dir().join(".git/config");
    assert!(
        doctor.stdout.contains(&format!(
            "FAIL  an empty credential.helper in {} switches git-credential-bitbucket off",
            local.display()
        )),
        "{doctor:?}"
    );
    assert!(
        doctor.stdout.contains(&format!(
            "fix: remove the empty value from {}",
            local.display()
        )),
        "{doctor:?}"
    );
    // Positive control: without the reset, doctor passes the helper order.
    rig.git_in_clone(&["config", "--unset-all", "credential.helper"])
        .assert_success();
    rig.git_in_clone(&["config", "--add", "credential.helper", "cache"])
        .assert_success();
    let doctor = rig.cli_in_clone(&["doctor"]);
    assert!(
        doctor
            .stdout
            .contains("FAIL  'cache' (credential.helper in"),
        "a helper after ours gets the token: {doctor:?}"
    );
    let mut cmd = rig.env.command(crate::support::helper_bin());
    let mut args = rig.helper_args();
    args.push("setup".into());
    cmd.args(&args).current_dir(rig.clone_dir());
    let setup = Output::run(&mut cmd, "");
    setup.assert_success();
    assert!(
        setup.stderr.contains("'cache' (credential.helper in")
            && setup.stderr.contains("comes after"),
        "{setup:?}"
    );
}

#[test]
fn migrate_waits_for_gits_lock_on_the_credentials_file_and_never_writes_past_it() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let legacy = rig.secret(fake_app_password());
    let creds = rig.env.home().join(".git-credentials");
    let text = format!("http://someone:{legacy}@{}\n", rig.server.host());
    std::fs::write(&creds, &text).unwrap();
    // A `git credential-store` in the middle of its write holds FILE.lock.
    let lock = rig.env.home().join(".git-credentials.lock");
    std::fs::write(&lock, "").unwrap();
    let out = rig.cli(&["migrate"], "");
    out.assert_failure();
    assert!(
        out.stderr.contains("locked by another git process"),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&creds).unwrap(), text, "untouched");
    assert!(
        lock.exists(),
        "another process's lock is not ours to remove"
    );
    // Positive control: once git is done, migrate goes ahead.
    std::fs::remove_file(&lock).unwrap();
    rig.cli(&["migrate"], "").assert_success();
    assert_eq!(std::fs::read_to_string(&creds).unwrap(), "");
}

/// A header in a section whose name holds a password (`[http "http://u:PW@host/"]`): `git
/// config` can address it only by a key holding that password, so migrate leaves it, says to
/// edit the file by hand, and no program it runs is given the password. Control: the same
/// header in a section with a clean name is taken out, through `git config`.
#[test]
fn a_header_in_a_section_naming_a_password_is_left_to_a_person_never_put_on_a_command_line() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let host = rig.server.host();
    let in_name = rig.secret(fake_api_token());
    let basic = base64(&format!("{TOKEN_USERNAME}:{}", rig.token));
    rig.secret(basic.clone());
    let header = format!("Authorization: Basic {basic}");
    rig.cli(&["setup"], "").assert_success();
    let named = format!("http://{TOKEN_USERNAME}:{in_name}@{host}/");
    let clean = format!("http://{host}/ws/");
    for section in [&named, &clean] {
        let key = format!("http.{section}.extraHeader");
        rig.env
            .git(&["config", "--global", &key, &header])
            .assert_success();
    }

    let traces = tempfile::tempdir().expect("trace dir");
    let mut cmd = rig.env.command("strace");
    cmd.args([
        "-ff",
        "-qq",
        "-v",
        "-s",
        "65536",
        "-e",
        "trace=execve",
        "-o",
    ])
    .arg(traces.path().join("trace"))
    .arg(helper_bin())
    .args(rig.helper_args())
    .arg("migrate");
    let migrate = Output::run(&mut cmd, "");
    rig.assert_no_leak(&migrate, false);
    let said = format!("{}{}", migrate.stdout, migrate.stderr);
    assert!(
        said.contains("sits in a section whose name holds a password") && said.contains("edit"),
        "{migrate:?}"
    );
    let runs = executions(traces.path());
    if runs.len() <= 1 {
        skip_or_panic(
            "strace",
            "strace saw no program start (ptrace not allowed?)",
        );
    }
    assert!(
        runs.iter()
            .any(|l| l.contains("--unset-all") && l.contains(&clean)),
        "control: the clean section's header went through git config: {runs:#?}"
    );
    for secret in [&in_name, &basic] {
        assert!(
            runs.iter().all(|l| !l.contains(secret.as_str())),
            "a secret went on a command line or into an environment"
        );
    }
    let global = std::fs::read_to_string(rig.env.home().join(".gitconfig")).unwrap();
    assert_eq!(
        global.matches(&header).count(),
        1,
        "only the header a person must edit is left: {}",
        global.len()
    );
}
