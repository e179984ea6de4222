#!/usr/bin/env bash
# Installs git-credential-bitbucket and makes git use it for bitbucket.org only.
#
#   ./install.sh [--prefix DIR] [--store STORE] [--system]    install (again: it is idempotent)
#   ./install.sh --uninstall [--prefix DIR] [--system]        undo both
#
# The configuration is host-scoped: credential.https://bitbucket.org.helper is first reset to
# empty, so helpers configured earlier (which may hold stale app passwords) are not asked for
# Bitbucket, then set to this helper. Other hosts are left exactly as they were.
set -euo pipefail

usage() {
  cat <<'EOF_HELP'
Installs git-credential-bitbucket and makes git use it for bitbucket.org only.

  ./install.sh [--prefix DIR] [--store STORE] [--system]    install (again: it is idempotent)
  ./install.sh --uninstall [--prefix DIR] [--system]        undo both

STORE is one of auto, secret-service, keyutils, file, keychain, wincred (default: auto).
DIR defaults to $CARGO_HOME (~/.cargo); a relative DIR is taken from where you run this.
The configuration is host-scoped: credential.https://bitbucket.org.helper is first reset to
empty, so helpers configured earlier (which may hold stale app passwords) are not asked for
Bitbucket, then set to this helper. Other hosts are left exactly as they were.
EOF_HELP
}

prefix=""
store=""
scope="--global"
uninstall=false
for arg in "$@"; do
  case "$arg" in -h|--help) usage; exit 0 ;; esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --store) store="${2:?--store needs a value}"; shift 2 ;;
    --system) scope="--system"; shift ;;
    --uninstall) uninstall=true; shift ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$store" in
  ""|auto|secret-service|keyutils|file|keychain|wincred) ;;
  *) echo "install.sh: --store $store is not a store: choose auto, secret-service, keyutils, file, keychain or wincred" >&2; exit 2 ;;
esac
# A relative --prefix means relative to where the user stands, not to this script.
case "$prefix" in
  ""|/*) ;;
  *) prefix="$PWD/$prefix" ;;
esac
cd "$(dirname "$0")"

say() { printf 'install.sh: %s\n' "$*"; }

need_git() {
  command -v git >/dev/null && return
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing git"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null
  else
    say "git is not installed; install it first"; exit 1
  fi
}

need_cargo() {
  command -v cargo >/dev/null && return
  [ -x "$HOME/.cargo/bin/cargo" ] && { PATH="$HOME/.cargo/bin:$PATH"; return; }
  say "cargo is not installed; get Rust from https://rustup.rs and run this again"; exit 1
}

root="${prefix:-${CARGO_HOME:-$HOME/.cargo}}"
binary="$root/bin/git-credential-bitbucket"

if $uninstall; then
  need_git
  if [ -x "$binary" ]; then
    "$binary" teardown "$scope" | sed 's/^/install.sh: /'
    need_cargo
    # From /, not this source tree: its rust-toolchain.toml would have rustup download the pinned
    # toolchain only to uninstall.
    (cd / && cargo uninstall --root "$root" git-credential-bitbucket) >/dev/null 2>&1 || rm -f "$binary"
    say "removed $binary"
  else
    # The binary is gone already: remove what setup wrote with git itself.
    for key in credential.https://bitbucket.org.helper credential.https://bitbucket.org.useHttpPath; do
      if git config "$scope" --get-all "$key" >/dev/null 2>&1; then
        git config "$scope" --unset-all "$key"
        say "removed $key"
      fi
    done
    say "$binary is not installed; nothing to remove there"
  fi
  say "stored tokens were left in place; remove them first with 'git-credential-bitbucket logout --all' if you want them gone"
  exit 0
fi

need_git
need_cargo
say "building and installing into $root/bin"
cargo install --quiet --locked --force --path . --root "$root"
say "installed $binary"

# `setup` writes the host-scoped configuration: credential.https://bitbucket.org.helper reset
# to "" then this helper (by name when git finds it on PATH, else by full path), and
# useHttpPath=true. It is idempotent and prints what it changed.
store_args=()
[ -n "$store" ] && store_args=(--store "$store")
"$binary" "${store_args[@]}" setup "$scope" | sed 's/^/install.sh: /'
case ":$PATH:" in
  *":$root/bin:"*) ;;
  *) say "note: $root/bin is not on your PATH; git was configured with the full path" ;;
esac
say "done. The next git clone/fetch/push to https://bitbucket.org asks once for your API token"
say "(username: x-bitbucket-api-token-auth); create one with the scope read:repository:bitbucket,"
say "plus write:repository:bitbucket to push, at https://id.atlassian.com/manage-profile/security/api-tokens"
