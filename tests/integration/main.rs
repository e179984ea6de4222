//! Integration tests: the real binary, driven by real git, against a Bitbucket-like server.
mod boundaries;
mod commands;
mod concurrency;
mod faults;
mod flows;
mod hostile;
mod leaks;
mod performance_facts;
mod rig;
mod server_smoke;
mod support;
