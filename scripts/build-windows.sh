#!/usr/bin/env bash
# Builds the Windows helper that Wine runs in the test suite: the tier-3
# x86_64-win7-windows-gnu target, std built from source (-Zbuild-std, hence RUSTC_BOOTSTRAP),
# linked by MinGW-w64. Debian's Wine 8 cannot start the x86_64-pc-windows-gnu build (its std
# needs ProcessPrng, exit 53); the win7 target's std does not. Installs rust-src and, as root,
# gcc-mingw-w64-x86-64 when missing. Prints the path of the .exe on stdout.
# Builds into target/wine so the usual builds' fingerprints are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

target=x86_64-win7-windows-gnu
. scripts/lib/ensure.sh
ensure_packages build-windows.sh gcc-mingw-w64-x86-64
if ! rustup component list --installed | grep -q '^rust-src'; then
  echo "build-windows.sh: installing the rust-src component" >&2
  rustup component add rust-src >/dev/null
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_X86_64_WIN7_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
cargo build --locked --quiet --target-dir target/wine -Zbuild-std=std,panic_abort \
  --target "$target" --bin git-credential-bitbucket >&2
echo "$PWD/target/wine/$target/debug/git-credential-bitbucket.exe"
