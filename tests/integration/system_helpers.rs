//! Git for Windows configures Git Credential Manager system-wide, and macOS git configures
//! `osxkeychain` in its system (or Xcode's built-in) configuration. Both come before the user's
//! own configuration, so `setup`'s host-scoped `helper =` reset must silence them for the
//! served host: never asked (no stale app password handed to git), never given our token.
//! Stood in for here by git's `store` helper in a system configuration file.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{TestEnv, fake_app_password};

#[test]
fn a_system_wide_helper_holding_an_app_password_is_silenced_by_setup() {
    let Some(mut rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let legacy = rig.secret(fake_app_password());
    let mut env = TestEnv::new();
    let remembered = env.home().join("system-helper-credentials");
    let host = rig.server.host();
    std::fs::write(&remembered, format!("http://someone:{legacy}@{host}\n")).unwrap();
    let system = env.home().join("system-gitconfig");
    std::fs::write(
        &system,
        format!(
            "[credential]\n\thelper = store --file={}\n",
            remembered.display()
        ),
    )
    .unwrap();
    env.remove_env("GIT_CONFIG_NOSYSTEM");
    env.set_env("GIT_CONFIG_SYSTEM", &system);
    rig.env = env;

    // Control: without setup, the system helper answers with the dead app password.
    rig.will_answer(None);
    let before = rig.clone();
    before.assert_failure();
    assert!(
        rig.server
            .requests()
            .iter()
            .any(|r| r.username.as_deref() == Some("someone")),
        "the system helper was asked: {:?}",
        rig.server.requests()
    );

    rig.cli(&["setup"], "").assert_success();
    let token = rig.token.clone();
    rig.will_answer(Some(&token));
    rig.clone().assert_success();
    assert_eq!(rig.env.prompt_count(), 1, "{:?}", rig.env.prompts());
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
    let left = std::fs::read_to_string(&remembered).unwrap();
    assert!(
        !left.contains(&token),
        "the system helper never got the token"
    );
}
