#!/usr/bin/env bash
# Fuzzes the request decoder and get/store/erase (fuzz/src/target.rs) for SECONDS (default 60).
#
# With a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`), runs libFuzzer with
# AddressSanitizer, starting from the seed corpus in fuzz/corpus/decode; new inputs go to a
# scratch corpus, so the checked-in seeds stay small. Without them, runs the same target on
# stable Rust over the seeds and random mutations of them (tests/properties.rs) for as long.
# Crashes are saved under fuzz/artifacts/decode/ (libFuzzer) or printed (stable fallback).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
case "$seconds" in
  ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

if cargo +nightly --version >/dev/null 2>&1 && cargo fuzz --version >/dev/null 2>&1; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  echo "fuzz.sh: libFuzzer for ${seconds}s (cargo +nightly fuzz run decode)"
  cd fuzz
  cargo +nightly fuzz run decode "$scratch" corpus/decode -- \
    -max_total_time="$seconds" -max_len=200000 -timeout=10 -rss_limit_mb=512 -print_final_stats=1
else
  echo "fuzz.sh: no nightly toolchain or cargo-fuzz; stable replay with mutations for ${seconds}s"
  GCB_FUZZ_SECONDS="$seconds" cargo test --release --test properties \
    the_fuzz_target_survives_its_corpus_and_mutations_of_it -- --nocapture
fi
