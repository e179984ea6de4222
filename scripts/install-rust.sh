#!/bin/sh
# Installs rustup and the toolchain rust-toolchain.toml names, on a Linux machine with neither
# (the Debian containers of CI and releases). Not `curl https://sh.rustup.rs | sh`: the
# installer is one pinned rustup release, checked against the SHA-256 written here before it
# runs. To move to a newer rustup, take VERSION and the hash from
# https://static.rust-lang.org/rustup/archive/VERSION/x86_64-unknown-linux-gnu/rustup-init.sha256
# and check it against the downloaded file. Prints the directory to put on PATH.
set -eu
cd "$(dirname "$0")/.."

version=1.29.0
sha256=4acc9acc76d5079515b46346a485974457b5a79893cfb01112423c89aeb5aa10
if [ "$(uname -s)" != Linux ] || [ "$(uname -m)" != x86_64 ]; then
  echo "install-rust.sh: the pinned rustup-init is for x86_64 Linux, not $(uname -s) $(uname -m)" >&2
  exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
curl --proto '=https' --tlsv1.2 -sSf --retry 3 -o "$scratch/rustup-init" \
  "https://static.rust-lang.org/rustup/archive/$version/x86_64-unknown-linux-gnu/rustup-init"
if ! echo "$sha256  $scratch/rustup-init" | sha256sum -c - >/dev/null 2>&1; then
  echo "install-rust.sh: rustup-init $version does not match its pinned SHA-256; not run" >&2
  exit 1
fi
chmod +x "$scratch/rustup-init"
"$scratch/rustup-init" -y --quiet --no-modify-path --profile minimal --default-toolchain none >&2
bin="${CARGO_HOME:-$HOME/.cargo}/bin"
# rustup would otherwise replace itself with whatever release the server names at its next
# toolchain install: the pinned one stays.
"$bin/rustup" set auto-self-update disable >&2
# No toolchain named: the one rust-toolchain.toml names, with its components.
"$bin/rustup" toolchain install --no-self-update >&2
echo "$bin"
