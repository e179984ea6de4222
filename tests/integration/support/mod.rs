//! Support code for the integration tests: a Bitbucket-like server, hermetic git, private
//! keychains and fake credentials.
//!
//! Why a harness at all: the helper is only ever run by git, after Bitbucket has answered, and it
//! keeps secrets in the OS keychain. Testing it for real means running real git against a server
//! that answers like Bitbucket Cloud, with keychains that are real but private to the test, and
//! tokens that are well-formed but fake. Everything is re-exported here so tests write
//! `use crate::support::*` (or name items) without caring which file they live in.
//!
//! - [`server`]: `BitbucketServer`, real `git http-backend` behind Bitbucket Cloud's auth answers
//!   (with [`http`], the little HTTP/1.1 it needs, and [`gate`], which holds chosen requests
//!   until the test lets them through);
//! - [`output`]: running a process to its end under a deadline, and what it did;
//! - [`git`]: `TestEnv`, real git in a throw-away HOME with an askpass stand-in that counts prompts;
//! - [`git_credential`]: `git credential fill|approve|reject` with git's own test askpass;
//! - [`keyrings`]: private Secret Services (gnome-keyring, locked or not, with a stand-in
//!   prompter; KeePassXC; KWallet) and keyutils session keyrings;
//! - [`tokens`]: well-formed fake API tokens and app passwords;
//! - [`watched`]: the helper on hostile input, under a time limit, its peak memory measured;
//! - [`mounts`]: a private mount namespace for full and read-only disks;
//! - [`store_under_test`]: which real store a test runs on, and how a HOME is pointed at it;
//! - [`private`]: a HOME with a store of its own (own keyring daemon, own user namespace);
//! - [`wedged_bus`]: session buses that never answer, or die mid-call;
//! - [`wine`]: the Windows build under Wine, with Wine's Credential Manager;
//! - [`tier`]: the switch that runs the slow tiers (Wine, release artifacts, workflow lint);
//! - [`run_dirs`]: directories one suite run shares between its tests, removed by a later run.
//!
//! Everything here is compiled into the one test binary, so what no test uses is dead code,
//! and the compiler says so: there is no allowance for it.
#![allow(
    clippy::print_stderr,
    reason = "the harness reports skipped checks and server-side errors on stderr"
)]

pub mod backend;
pub mod executables;
pub mod gate;
pub mod git;
pub mod git_credential;
pub mod http;
pub mod keyrings;
pub mod mounts;
pub mod output;
pub mod private;
pub mod run_dirs;
pub mod server;
pub mod store_under_test;
pub mod tier;
pub mod tokens;
pub mod watched;
pub mod wedged_bus;
pub mod wine;

pub use executables::{copy_executable, write_executable};
pub use git::{TestEnv, helper_bin, shell_quote};
pub use keyrings::{
    KeyutilsSession, PromptOutcome, PrompterMode, Provider, SecretServiceSession, skip_or_panic,
};
pub use mounts::MountNamespace;
pub use output::Output;
pub use private::PrivateStore;
pub use server::{
    APP_PASSWORD_BODY, BitbucketServer, MISSING_SCOPE_BODY, Scope, TOKEN_USERNAME, WWW_AUTHENTICATE,
};
pub use store_under_test::{Daemon, StoreUnderTest};
pub use tier::SlowTier;
pub use tokens::{fake_api_token, fake_app_password};
pub use watched::{gnu_time_or_skip, run_watched};
pub use wedged_bus::WedgedBus;
