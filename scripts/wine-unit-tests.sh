#!/usr/bin/env bash
# Runs the library's unit tests on Windows, under Wine: the same x86_64-win7-windows-gnu build as
# scripts/build-windows.sh, with this script as cargo's runner, in a fresh Wine prefix under a
# temporary directory (never ~/.wine). Covers the cfg(windows) code Wine can run, such as the
# inherited pipe handle of `login --verify` (src/inherited_pipe/windows.rs).
set -euo pipefail
if [ "${1:-}" = "--run" ]; then
  shift
  exec timeout 600 /usr/lib/wine/wine64 "$@"
fi
cd "$(dirname "$0")/.."
./scripts/build-windows.sh >/dev/null # installs rust-src and MinGW-w64 when missing
prefix=$(mktemp -d "${TMPDIR:-/tmp}/gcb-wine-unit.XXXXXX")
cleanup() {
  WINEPREFIX="$prefix" timeout 60 /usr/lib/wine/wineserver64 -k 2>/dev/null || true
  rm -rf "$prefix"
}
trap cleanup EXIT
export WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
# A first boot on a loaded machine was seen to fail once and pass when run again: try twice.
boot() { timeout 300 /usr/lib/wine/wine64 wineboot --init </dev/null >/dev/null 2>&1; }
if ! boot; then
  echo "wine-unit-tests.sh: wineboot failed once; retrying in a fresh prefix" >&2
  timeout 60 /usr/lib/wine/wineserver64 -k 2>/dev/null || true
  rm -rf "${prefix:?}"/* "${prefix:?}"/.[!.]* 2>/dev/null || true
  boot
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_WIN7_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_WIN7_WINDOWS_GNU_RUNNER="$PWD/scripts/wine-unit-tests.sh --run"
cargo test --locked --quiet --target-dir target/wine -Zbuild-std=std,panic_abort \
  --target x86_64-win7-windows-gnu --lib </dev/null
