//! A test HOME whose store nobody else touches: its own Secret Service provider (GNOME Keyring,
//! KeePassXC or KWallet on its own bus), a keyutils session in its own user namespace (with its
//! own persistent keyring), the file store under the HOME, or the Windows build under Wine with
//! a prefix of the HOME's own.
//!
//! Why: tests that store under the real name `bitbucket.org`, hammer a store with dozens of
//! processes, or break it on purpose must neither see nor disturb the shared test keychains,
//! the other tests running in parallel, or the user's own persistent keyring.

use super::git::TestEnv;
use super::keyrings::{KeyutilsSession, SecretServiceSession};
use super::store_under_test::{Daemon, StoreSessions, StoreUnderTest};

pub struct PrivateStore {
    pub env: TestEnv,
    /// `--store` value: `secret-service`, `keyutils`, `file` or `wincred`.
    pub flag: &'static str,
    pub secret_service: Option<SecretServiceSession>,
    _keyutils: Option<KeyutilsSession>,
}

impl PrivateStore {
    /// A fresh HOME with a private `store` (its own provider, for a Secret Service), or `None`
    /// (after skip_or_panic) if the machine lacks it.
    #[track_caller]
    pub fn new(store: StoreUnderTest) -> Option<PrivateStore> {
        let mut env = TestEnv::new();
        let StoreSessions {
            secret_service,
            keyutils,
        } = store.attach(&mut env, Daemon::Own)?;
        Some(PrivateStore {
            env,
            flag: store.flag(),
            secret_service,
            _keyutils: keyutils,
        })
    }
}
