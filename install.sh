#!/bin/sh
# Installs git-credential-bitbucket and makes git use it for bitbucket.org only.
#
#   ./install.sh [--prefix DIR] [--store STORE] [--system]    install (again: it is idempotent)
#   ./install.sh --uninstall [--prefix DIR] [--system]        undo both
#
# The configuration is host-scoped: credential.https://bitbucket.org.helper is first reset to
# empty, so helpers configured earlier (which may hold stale app passwords) are not asked for
# Bitbucket, then set to this helper. Other hosts are left exactly as they were.
#
# POSIX sh (checked with `shellcheck -s sh`, run under dash by the tests): macOS's /bin/bash is
# 3.2, where `set -u` and an empty array abort the script, so no bash features at all.
set -eu

usage() {
  cat <<'EOF_HELP'
Installs git-credential-bitbucket and makes git use it for bitbucket.org only.

  ./install.sh [--prefix DIR] [--store STORE] [--system]    install (again: it is idempotent)
  ./install.sh --uninstall [--prefix DIR] [--system]        undo both

STORE is one of auto, secret-service, keyutils, file, keychain, wincred (default: auto).
DIR defaults to $CARGO_HOME (~/.cargo); a relative DIR is taken from where you run this.
The configuration is host-scoped: credential.https://bitbucket.org.helper is first reset to
empty, so helpers configured earlier (which may hold stale app passwords) are not asked for
Bitbucket, then set to this helper by its full path. Other hosts are left exactly as they were.
--uninstall also removes the sections of other hosts set up with --host, and keeps the data
directory (token expiry dates, lock, hints; the file store's tokens): it prints its path and
the command that removes it.
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

# Prints what a command said, each line prefixed. The command runs first, in a command
# substitution, so that its exit status reaches `set -e` (a pipe into sed would hide it).
say_lines() { printf '%s\n' "$1" | sed 's/^/install.sh: /'; }

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
  if [ -x "$HOME/.cargo/bin/cargo" ]; then PATH="$HOME/.cargo/bin:$PATH"; return; fi
  say "cargo is not installed; get Rust from https://rustup.rs and run this again"; exit 1
}

# The binary is gone already: remove with git itself every section whose helper runs it (the
# bitbucket.org one and any --host's), as `teardown` would.
remove_config_with_git() {
  sections=$(git config "$scope" --get-regexp '^credential\..*\.helper$' 2>/dev/null || true)
  printf '%s\n' "$sections" | while IFS= read -r line; do
    key=${line%% *}
    case "$line" in *" "*) value=${line#* } ;; *) value="" ;; esac
    case "$value" in
      bitbucket|"bitbucket "*|*git-credential-bitbucket*) ;;
      *) continue ;;
    esac
    url=${key#credential.}
    url=${url%.helper}
    for name in helper useHttpPath; do
      if git config "$scope" --get-all "credential.$url.$name" >/dev/null 2>&1; then
        git config "$scope" --unset-all "credential.$url.$name"
        say "removed credential.$url.$name"
      fi
    done
  done
  # Where the binary keeps its data (the `directories` crate's data directory).
  if [ "$(uname -s)" = Darwin ]; then
    data="$HOME/Library/Application Support/git-credential-bitbucket"
  else
    case "${XDG_DATA_HOME:-}" in
      /*) data="$XDG_DATA_HOME/git-credential-bitbucket" ;;
      *) data="$HOME/.local/share/git-credential-bitbucket" ;;
    esac
  fi
  if [ -d "$data" ]; then
    say "kept $data (token expiry dates, the writer lock, Secret Service hints, and the file store's tokens if you used it): remove it with: rm -r '$data'"
  fi
}

root="${prefix:-${CARGO_HOME:-$HOME/.cargo}}"
binary="$root/bin/git-credential-bitbucket"

if $uninstall; then
  need_git
  if [ -x "$binary" ]; then
    said=$("$binary" teardown "$scope")
    say_lines "$said"
    need_cargo
    # From /, not this source tree: its rust-toolchain.toml would have rustup download the pinned
    # toolchain only to uninstall.
    (cd / && cargo uninstall --root "$root" git-credential-bitbucket) >/dev/null 2>&1 || rm -f "$binary"
    say "removed $binary"
  else
    remove_config_with_git
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
# to "" then this helper by its full path (so git run from cron finds it too), and
# useHttpPath=true. It is idempotent and prints what it changed.
if [ -n "$store" ]; then
  said=$("$binary" --store "$store" setup "$scope")
else
  said=$("$binary" setup "$scope")
fi
say_lines "$said"
case ":$PATH:" in
  *":$root/bin:"*) ;;
  *) say "note: $root/bin is not on your PATH: git has the full path and works; add it to run git-credential-bitbucket by name" ;;
esac
say "done. The next git clone/fetch/push to https://bitbucket.org asks once for your API token"
say "(username: x-bitbucket-api-token-auth); create one with the scope read:repository:bitbucket,"
say "plus write:repository:bitbucket to push, at https://id.atlassian.com/manage-profile/security/api-tokens"
