//! The suite's two tiers: a plain `cargo test` is the fast loop a contributor runs after every
//! change (unit, property, and the real-git flows on every Linux store); the slow tiers (the
//! Windows build under Wine, the release artifacts, the workflow lint, a few long checks) run
//! when [`TIER_VAR`]`=full` is set, as `scripts/test.sh` (and so CI) sets it.
//!
//! Why: the slow tiers build the Windows helper with `-Zbuild-std`, build every release artifact
//! and may install packages; minutes of a loop meant to take one. A test of a slow tier that was
//! not asked for says so on the terminal, past the test harness's output capture, so a green
//! fast run never reads as if it had checked Windows or the packages.

use std::io::Write;

/// The one switch: `full` runs every tier; unset (or `fast`) runs the fast loop.
pub const TIER_VAR: &str = "GCB_TEST_TIER";

/// The slow tiers, each named in the line a test prints when it does not run.
#[derive(Debug, Clone, Copy)]
pub enum SlowTier {
    /// The Windows build under Wine: built with `-Zbuild-std`, a Wine prefix booted.
    Wine,
    /// `scripts/dist.sh`'s artifacts: release builds for musl and Windows, the .deb.
    Release,
    /// actionlint on `.github/workflows` (installed by `scripts/test.sh`).
    Workflows,
    /// Checks that take long for what they add to the fast loop: the keyutils tests run again
    /// inside an outer login (`hermetic.rs`, 20 s), zsh's completion of every command (13 s
    /// of zsh start-ups; bash's and fish's stay in the fast loop).
    Long,
}

impl SlowTier {
    fn name(self) -> &'static str {
        match self {
            SlowTier::Wine => "the Wine tier",
            SlowTier::Release => "the release tier",
            SlowTier::Workflows => "the workflow tier",
            SlowTier::Long => "the long-running tier",
        }
    }
}

/// Was the full suite asked for? If not, prints `not run: TEST (TIER); set …` where the
/// person running the tests sees it, and the test should return at once.
#[must_use]
#[track_caller]
pub fn asked_for(tier: SlowTier) -> bool {
    let value = std::env::var(TIER_VAR).unwrap_or_default();
    match value.as_str() {
        "full" => true,
        "" | "fast" => {
            let thread = std::thread::current();
            let test = thread.name().unwrap_or("a test");
            // Straight to the file descriptor: the harness captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr().lock(),
                "not run: {test} ({}); set {TIER_VAR}=full, as scripts/test.sh does",
                tier.name()
            );
            false
        }
        other => panic!("{TIER_VAR}={other:?}: expected `full`, `fast` or unset"),
    }
}
