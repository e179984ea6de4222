//! git-credential-bitbucket: a git credential helper for Bitbucket Cloud API tokens.
//!
//! Arrows run one way: `main → cli → {helper, commands} → {protocol, policy, store, token}`.
//! Only `main` and `cli` (which hands the process's streams to the command it runs) and
//! `terminal` (a person typing a token) touch stdin, stdout and stderr; everything below takes
//! readers and writers or returns notes, so tests drive it with byte buffers.
// Forbidden outright except on Windows, where src/inherited_pipe/windows.rs is the one audited
// exception (docs/security.md); Cargo.toml denies it everywhere.
#![cfg_attr(not(windows), forbid(unsafe_code))]

pub mod cli;
pub mod commands;
pub mod dates;
pub mod diagnostics;
pub mod environment;
pub mod git;
pub mod helper;
pub mod hex;
pub mod inherited_pipe;
pub mod lockfile;
pub mod manual;
pub mod percent;
pub mod policy;
pub mod private_file;
pub mod protocol;
pub mod scan;
pub mod store;
pub mod terminal;
pub mod token;
