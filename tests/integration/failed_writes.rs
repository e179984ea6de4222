//! A write that fails leaves what was there before. On keyutils the keyring crate adds the
//! key to the session keyring (or updates the one there in place), then links it into the
//! user's persistent keyring; when the link is refused ("permission denied on the session
//! keyring", as in a container's user namespace) it failed with the new token already written:
//! a failed `login` left its token in the session keyring (over the one that was there), and
//! doctor's probe left `keyring:doctor-probe.invalid@…` behind.
//!
//! The refusal is real: the key already there lacks the kernel's `link` permission (`keyctl
//! setperm`), so the crate's update in place succeeds and its link fails. Controls: with the
//! permission back, the same login saves and the probe passes.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, fake_api_token};

/// `keyctl ARGS` in the rig's keyutils session, with `stdin`.
fn keyctl(rig: &Rig, args: &[&str], stdin: &str) -> Output {
    let mut cmd = rig.env.command("keyctl");
    cmd.args(args);
    Output::run(&mut cmd, stdin)
}

/// The keyutils key name the helper files `account` under.
fn name(account: &str) -> String {
    format!("keyring:{account}@git-credential-bitbucket")
}

/// Puts `secret` under `account` in the session keyring, without `link` permission for anyone
/// (possessor and user keep view, read, write, search and setattr): its id.
fn plant_unlinkable(rig: &Rig, account: &str, secret: &str) -> String {
    let added = keyctl(rig, &["padd", "user", &name(account), "@s"], secret);
    let id = added.assert_success().stdout.trim().to_owned();
    keyctl(rig, &["setperm", &id, "0x2f2f0000"], "").assert_success();
    id
}

/// What the session keyring holds under `account`, if anything.
fn held(rig: &Rig, account: &str) -> Option<String> {
    let found = keyctl(rig, &["search", "@s", "user", &name(account)], "");
    if !found.success() {
        return None;
    }
    let read = keyctl(rig, &["pipe", found.stdout.trim()], "");
    Some(read.assert_success().stdout.clone())
}

#[test]
fn a_keyutils_login_that_fails_leaves_its_token_nowhere_and_the_old_one_in_place() {
    let Some(mut rig) = Rig::new(StoreUnderTest::Keyutils) else {
        return;
    };
    let host = rig.server.host();
    let old = rig.secret(fake_api_token());
    let id = plant_unlinkable(&rig, &host, &old);
    let login = rig.cli(&["login", "--stdin"], &rig.token);
    login.assert_failure();
    assert!(login.stderr.contains("permission denied"), "{login:?}");
    let left = held(&rig, &host);
    assert!(left.is_some(), "control: the search finds the key");
    assert!(
        left.as_deref() != Some(rig.token.as_str()),
        "the failed login's token was left"
    );
    assert_eq!(
        left.as_deref(),
        Some(old.as_str()),
        "the token there before was lost"
    );

    // Control: the same login, where the link is allowed, saves its token there.
    keyctl(&rig, &["setperm", &id, "0x3f3f0000"], "").assert_success();
    rig.cli(&["login", "--stdin"], &rig.token).assert_success();
    assert_eq!(held(&rig, &host).as_deref(), Some(rig.token.as_str()));
}

#[test]
fn doctors_keyring_probe_leaves_nothing_behind_when_it_fails_half_way() {
    let Some(rig) = Rig::new(StoreUnderTest::Keyutils) else {
        return;
    };
    let probe = "doctor-probe.invalid";
    plant_unlinkable(&rig, probe, "left by an earlier probe");
    let doctor = rig.cli(&["doctor"], "");
    assert!(doctor.stdout.contains("permission denied"), "{doctor:?}");
    assert_eq!(
        held(&rig, probe),
        None,
        "doctor's probe was left in the session keyring"
    );

    // Control: the probe passes where the key may be linked, and leaves nothing either.
    let doctor = rig.cli(&["doctor"], "");
    assert!(
        doctor.stdout.contains("saves, reads and removes"),
        "{doctor:?}"
    );
    assert_eq!(held(&rig, probe), None);
}
