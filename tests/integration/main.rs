//! Integration tests: the real binary, driven by real git, against a Bitbucket-like server.
//!
//! They run on a Linux host (the Windows build is driven from here through Wine), so on
//! Windows this crate is empty; `scripts/cross-check.sh` still type-checks it for macOS.
#![cfg(unix)]
#![allow(
    clippy::disallowed_methods,
    reason = "tests start any program; only the helper must go through src/git/"
)]
#[macro_use]
mod rig; // first: its `on_every_store!` is used by the modules below

mod boundaries;
mod bus_trust;
mod child_environment;
mod commands;
mod completion;
mod concurrency;
mod cron;
mod desktops;
mod failed_writes;
mod faults;
mod file_reads;
mod file_store;
mod flows;
mod git_contract;
mod git_deadline;
mod hermetic;
mod hostile;
mod install_script;
mod item_paths;
mod leak_scan;
mod leaks;
mod listing;
mod login_checks;
mod login_prompt;
mod manual;
mod migrate_sources;
mod performance_facts;
mod prompted_store;
mod providers;
mod refusals;
mod release;
mod revocation;
mod server_smoke;
mod status_and_expiry;
mod support;
mod system_helpers;
mod token_files;
mod verify_unlocked;
mod wedged_bus;
mod windows;
mod workflows;
mod writers;
