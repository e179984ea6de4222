#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs the system packages the tests
# drive for real (git, D-Bus, GNOME Keyring, keyutils; GNU time and strace measure the helper's
# memory and the programs it runs), then every unit and integration test.
# The tests start their own private D-Bus session, keyring daemon, session keyrings and a
# Bitbucket-like server on 127.0.0.1; they never touch your own keychain or git config.
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc and libc6-dev: the vendored libdbus is compiled from C.
packages=(gcc libc6-dev git dbus-daemon dbus-bin gnome-keyring keyutils libsecret-tools procps util-linux e2fsprogs ca-certificates time strace)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing packages: ${missing[*]}; run as root or install them first" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cargo test --locked

# macOS and Windows: type-check and lint for their targets (installs the rust targets).
./scripts/cross-check.sh
