//! A test HOME whose store nobody else touches: its own Secret Service (gnome-keyring on its
//! own bus), a keyutils session in its own user namespace (with its own persistent keyring), the
//! file store under the HOME, or the Windows build under Wine with a prefix of the HOME's own.
//!
//! Why: tests that store under the real name `bitbucket.org`, hammer a store with dozens of
//! processes, or break it on purpose must neither see nor disturb the shared test keychains,
//! the other tests running in parallel, or the user's own persistent keyring.

use super::git::TestEnv;
use super::keyrings::{KeyutilsSession, SecretServiceSession, skip_or_panic};
use super::wine::Wine;

pub struct PrivateStore {
    pub env: TestEnv,
    /// `--store` value: `secret-service`, `keyutils`, `file` or `wincred`.
    pub flag: &'static str,
    pub secret_service: Option<SecretServiceSession>,
    _keyutils: Option<KeyutilsSession>,
}

impl PrivateStore {
    /// A fresh HOME with a private `flag` store, or `None` (after skip_or_panic) if the
    /// machine lacks it.
    #[track_caller]
    pub fn new(flag: &'static str) -> Option<PrivateStore> {
        let mut env = TestEnv::new();
        let (mut secret_service, mut keyutils) = (None, None);
        match flag {
            "secret-service" => match SecretServiceSession::start() {
                Ok(session) => {
                    env.use_secret_service(&session);
                    secret_service = Some(session);
                }
                Err(e) => {
                    skip_or_panic("Secret Service (gnome-keyring)", &e);
                    return None;
                }
            },
            "keyutils" => {
                let session = KeyutilsSession::new_or_skip()?;
                env.use_keyutils(&session);
                keyutils = Some(session);
            }
            "file" => {}
            "wincred" => env.use_windows_helper(Wine::shared_or_skip()?),
            other => panic!("no such store: {other}"),
        }
        Some(PrivateStore {
            env,
            flag,
            secret_service,
            _keyutils: keyutils,
        })
    }
}
