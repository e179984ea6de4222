//! Tokens where fleets keep them: a file named by `BITBUCKET_API_TOKEN_FILE` (Docker and
//! Kubernetes secrets) and the systemd credential `bitbucket-api-token` in
//! `$CREDENTIALS_DIRECTORY`, through real git against the Bitbucket-like server, in the rig's
//! environment built from nothing (as `env -i` would).
//!
//! `systemd-run` cannot start a transient unit in this sandbox (no systemd as PID 1), so the
//! credential is given as systemd gives it: a directory named by `$CREDENTIALS_DIRECTORY`
//! holding a file named after the credential, mode 0400.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, Scope, fake_api_token, gnu_time_or_skip, run_watched};

const TOKEN_FILE_ENV: &str = "BITBUCKET_API_TOKEN_FILE";
const CREDENTIALS_DIRECTORY_ENV: &str = "CREDENTIALS_DIRECTORY";

/// How the environment gives the token.
#[derive(Debug, Clone, Copy)]
enum Given {
    Variable,
    File,
    SystemdCredential,
}

/// Writes `content` to `path` with `mode` (whatever the umask says).
fn write(path: &Path, content: &str, mode: u32) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Gives `token` to every later child of the rig as `how` says; the file it is in, if any.
fn give(rig: &mut Rig, how: Given, token: &str) -> Option<PathBuf> {
    match how {
        Given::Variable => {
            rig.env.set_env("BITBUCKET_API_TOKEN", token);
            None
        }
        Given::File => {
            let path = rig.env.home().join("bitbucket-token");
            write(&path, &format!("{token}\n"), 0o600);
            rig.env.set_env(TOKEN_FILE_ENV, &path);
            Some(path)
        }
        Given::SystemdCredential => {
            let dir = rig.env.home().join("credentials");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("bitbucket-api-token");
            write(&path, token, 0o400);
            rig.env.set_env(CREDENTIALS_DIRECTORY_ENV, &dir);
            Some(path)
        }
    }
}

/// Takes every source away again.
fn take_away(rig: &mut Rig) {
    for name in [
        "BITBUCKET_API_TOKEN",
        TOKEN_FILE_ENV,
        CREDENTIALS_DIRECTORY_ENV,
    ] {
        rig.env.remove_env(name);
    }
}

/// A rig whose server takes a new token, handed to `how`: the rig, the token and its file.
fn rig_given(how: Given) -> Option<(Rig, String, Option<PathBuf>)> {
    let mut rig = Rig::new(StoreUnderTest::File)?;
    let token = rig.secret(fake_api_token());
    rig.server.grant(&token, Scope::ReadWrite);
    let file = give(&mut rig, how, &token);
    rig.will_answer(None);
    Some((rig, token, file))
}

/// A file's bytes, mode and modification time: what "untouched" means.
fn fingerprint(path: &Path) -> (Vec<u8>, u32, i64, i64) {
    let meta = std::fs::metadata(path).unwrap();
    (
        std::fs::read(path).unwrap(),
        meta.mode(),
        meta.mtime(),
        meta.mtime_nsec(),
    )
}

#[test]
fn each_source_clones_and_fetches_without_a_prompt_and_is_never_stored() {
    for how in [Given::Variable, Given::File, Given::SystemdCredential] {
        let Some((mut rig, _, _)) = rig_given(how) else {
            return;
        };
        rig.clone().assert_success();
        rig.fetch().assert_success();
        assert_eq!(rig.env.prompt_count(), 0, "{how:?}");
        let statuses = rig.server.authenticated_statuses();
        assert!(
            !statuses.is_empty() && statuses.iter().all(|s| *s == 200),
            "{how:?}: {statuses:?}"
        );
        take_away(&mut rig);
        assert_eq!(rig.stored(), None, "{how:?}: the token was stored");
        // Control: without the source, git has no token and asks (the person cancels).
        rig.fetch().assert_failure();
        assert_eq!(rig.env.prompt_count(), 1, "{how:?}");
    }
}

#[test]
fn a_rewritten_token_file_is_read_at_the_next_fetch_in_place_or_as_kubernetes_swaps_it() {
    let Some((mut rig, first, Some(file))) = rig_given(Given::File) else {
        return;
    };
    rig.clone().assert_success();
    // Rotation in place: the old token revoked, the new one written over it.
    let second = rig.secret(fake_api_token());
    rig.server.grant(&second, Scope::ReadWrite);
    rig.server.revoke(&first);
    // Control: until the file changes, git gets the revoked token and fails.
    rig.fetch().assert_failure();
    write(&file, &format!("{second}\n"), 0o600);
    rig.fetch().assert_success();
    // git's `store` of a token the file held a moment ago (a rotation during a fetch) keeps
    // nothing either: while the file is set, it is where the token lives.
    let late = rig.request(&format!(
        "username=x-bitbucket-api-token-auth\npassword={first}"
    ));
    rig.helper("store", &late).assert_success();

    // Kubernetes: token -> ..data/token, and `..data` is swapped to a new directory.
    let mount = rig.env.home().join("secret-volume");
    std::fs::create_dir(&mount).unwrap();
    let version = |name: &str, token: &str| {
        std::fs::create_dir(mount.join(name)).unwrap();
        write(&mount.join(name).join("token"), token, 0o644);
        let link = mount.join("..data_tmp");
        std::os::unix::fs::symlink(name, &link).unwrap();
        std::fs::rename(&link, mount.join("..data")).unwrap();
    };
    version("..v1", &second);
    std::os::unix::fs::symlink("..data/token", mount.join("token")).unwrap();
    rig.env.set_env(TOKEN_FILE_ENV, mount.join("token"));
    rig.fetch().assert_success();
    let third = rig.secret(fake_api_token());
    rig.server.grant(&third, Scope::ReadWrite);
    rig.server.revoke(&second);
    version("..v2", &third);
    rig.fetch().assert_success();
    rig.push("after-rotation").assert_success();
    assert_eq!(
        rig.env.prompt_count(),
        0,
        "a rejected token is not a prompt"
    );
    take_away(&mut rig);
    assert_eq!(rig.stored(), None, "a token from the file was stored");
}

#[test]
fn a_refused_token_from_a_file_says_which_file_to_update_and_changes_nothing() {
    for how in [Given::File, Given::SystemdCredential] {
        let Some((mut rig, token, Some(file))) = rig_given(how) else {
            return;
        };
        // Something in the store that a wrong `erase` could delete.
        let stored = rig.secret(fake_api_token());
        rig.plant(&stored);
        rig.clone().assert_success();
        let before = fingerprint(&file);
        rig.server.revoke(&token);
        let out = rig.fetch();
        out.assert_failure();
        let said = match how {
            Given::File => format!(
                "rejected the token in BITBUCKET_API_TOKEN_FILE ({})",
                file.display()
            ),
            _ => format!(
                "rejected the token in the systemd credential bitbucket-api-token ({})",
                file.display()
            ),
        };
        assert!(out.stderr.contains(&said), "{how:?}: {out:?}");
        let update = match how {
            Given::File => format!("put the new token in {}", file.display()),
            _ => "LoadCredential=".to_owned(),
        };
        assert!(out.stderr.contains(&update), "{how:?}: {out:?}");
        assert!(out.stderr.contains("nothing was removed"), "{out:?}");
        assert_eq!(fingerprint(&file), before, "{how:?}: the file was touched");
        take_away(&mut rig);
        assert_eq!(rig.stored().as_deref(), Some(stored.as_str()), "{how:?}");
    }
}

#[test]
fn a_token_file_others_may_write_is_refused_one_they_may_read_is_used() {
    let Some((rig, _, Some(file))) = rig_given(Given::File) else {
        return;
    };
    for mode in [0o620, 0o602] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = rig.clone();
        out.assert_failure();
        assert!(
            out.stderr.contains("can be written by other users")
                && out
                    .stderr
                    .contains(&format!("chmod go-w {}", file.display())),
            "{mode:o}: {out:?}"
        );
    }
    assert_eq!(rig.env.prompt_count(), 2, "git asked: no token came");
    // Control: readable by all (Kubernetes' default 0644) is used.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    rig.clone().assert_success();
    assert_eq!(rig.env.prompt_count(), 2);
}

#[test]
fn a_fifo_named_as_the_token_file_is_refused_without_hanging() {
    if !gnu_time_or_skip() {
        return;
    }
    let Some((mut rig, token, Some(file))) = rig_given(Given::File) else {
        return;
    };
    let fifo = rig.env.home().join("fifo");
    Output::run(rig.env.command("mkfifo").arg(&fifo), "").assert_success();
    rig.env.set_env(TOKEN_FILE_ENV, &fifo);
    let mut args = rig.helper_args();
    args.push("get".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Watched: killed, and the test failed, if it waits for a writer that never comes.
    let out = run_watched(&rig.env, &args, rig.request("").as_bytes(), false);
    out.assert_no_crash("get with a FIFO");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("password="), "{stdout}");
    assert!(
        out.stderr.contains("is not a regular file"),
        "{}",
        out.stderr
    );
    // Through git too, under a deadline of its own.
    let url = rig.server.url("ws/repo.git");
    let mut clone = rig.env.command("timeout");
    clone.args(["-k", "5", "60", "git", "clone", "-q", &url, "clone"]);
    let out = Output::run(&mut clone, "");
    rig.assert_no_leak(&out, false);
    assert_eq!(
        out.status.code(),
        Some(128),
        "git failed, not timeout: {out:?}"
    );
    assert!(out.stderr.contains("is not a regular file"), "{out:?}");
    // Control: the regular file is read.
    rig.env.set_env(TOKEN_FILE_ENV, &file);
    let out = rig.helper("get", &rig.request(""));
    assert_eq!(out.password().as_deref(), Some(token.as_str()), "{out:?}");
}

#[test]
fn the_variable_and_the_file_together_are_refused_saying_so() {
    let Some((mut rig, token, _)) = rig_given(Given::File) else {
        return;
    };
    rig.env.set_env("BITBUCKET_API_TOKEN", &token);
    let out = rig.clone();
    out.assert_failure();
    assert!(
        out.stderr.contains(
            "BITBUCKET_API_TOKEN and BITBUCKET_API_TOKEN_FILE are both set, so neither is used"
        ),
        "{out:?}"
    );
    assert_eq!(rig.env.prompt_count(), 1, "git asked: no token came");
    // Control: the file alone is used.
    rig.env.remove_env("BITBUCKET_API_TOKEN");
    rig.clone().assert_success();
    assert_eq!(rig.env.prompt_count(), 1);
}

#[test]
fn status_and_doctor_name_the_source_the_order_and_the_files_mode() {
    let Some((mut rig, token, Some(file))) = rig_given(Given::File) else {
        return;
    };
    let path = file.display().to_string();
    let fingerprint = format!("ATATT…{}", &token[token.len() - 4..]);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let status = rig.cli(&["status"], "");
    status.assert_success(); // nothing stored, but the file gives a token
    status.assert_stdout_says(&[
        "BITBUCKET_API_TOKEN: not set".to_owned(),
        format!(
            "BITBUCKET_API_TOKEN_FILE: {path} (api-token, {fingerprint}, mode 644: readable \
                 by every user)"
        ),
        "systemd credential: not set".to_owned(),
        format!(
            "git uses: BITBUCKET_API_TOKEN_FILE ({path}), before any store (order: \
                 BITBUCKET_API_TOKEN, BITBUCKET_API_TOKEN_FILE, systemd credential \
                 bitbucket-api-token, store)"
        ),
    ]);
    let json = rig.cli(&["status", "--json"], "");
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["env_token"]["source"], "file", "{json:?}");
    assert_eq!(value["env_token"]["fingerprint"], fingerprint.as_str());
    assert_eq!(value["token_sources"][1]["mode"], "644", "{json:?}");
    rig.cli(&["doctor"], "").assert_stdout_says(&[
        format!(
            "PASS  BITBUCKET_API_TOKEN_FILE ({path}) (api-token, {fingerprint}) is set: git \
                 uses it"
        ),
        format!("WARN  {path} is readable by every user (mode 644)"),
    ]);

    // Writable by the group: not used, and both say so; status finds nothing usable.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o660)).unwrap();
    let refused =
        format!("{path} can be written by other users (mode 660): run `chmod go-w {path}`");
    let status = rig.cli(&["status"], "");
    status.assert_failure();
    status.assert_stdout_says(&[
        format!("BITBUCKET_API_TOKEN_FILE: not used: {refused}"),
        "git uses: the store, because".to_owned(),
    ]);
    let doctor = rig.cli(&["doctor"], "");
    doctor.assert_failure();
    doctor.assert_stdout_says(&[
        format!("FAIL  BITBUCKET_API_TOKEN_FILE ({path}) is not used: {refused}"),
        format!("fix: chmod go-w {path}"),
    ]);

    // The variable before the systemd credential: both shown, the variable used.
    rig.env.remove_env(TOKEN_FILE_ENV);
    rig.env.set_env("BITBUCKET_API_TOKEN", &token);
    let other = rig.secret(fake_api_token());
    let credential = give(&mut rig, Given::SystemdCredential, &other).unwrap();
    let status = rig.cli(&["status"], "");
    status.assert_success();
    status.assert_stdout_says(&[
        format!("systemd credential: {} (api-token, ", credential.display()),
        "git uses: BITBUCKET_API_TOKEN, before any store".to_owned(),
    ]);
    rig.cli(&["doctor"], "")
        .assert_stdout_says(&["but not used: BITBUCKET_API_TOKEN comes first".to_owned()]);
}
