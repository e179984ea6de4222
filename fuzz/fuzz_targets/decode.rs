//! libFuzzer entry point: `cargo +nightly fuzz run decode` (see scripts/fuzz.sh).
#![no_main]

#[path = "../src/target.rs"]
mod target;

libfuzzer_sys::fuzz_target!(|data: &[u8]| target::run(data));
