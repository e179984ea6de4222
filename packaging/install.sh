#!/bin/sh
# Installs the git-credential-bitbucket binary bundled in this release tarball (no Rust, no
# compiler needed), its man pages and shell completions, then configures git for
# bitbucket.org only with `git-credential-bitbucket setup`.
#
#   ./install.sh [--prefix DIR] [--store STORE] [--system] [--no-setup]   install (idempotent)
#   ./install.sh --uninstall [--prefix DIR] [--system]                    undo both
#
# DIR defaults to /usr/local as root, else ~/.local. --system writes git's system-wide
# configuration instead of your own; --no-setup only copies files. STORE is one of auto,
# secret-service, keyutils, file, keychain, wincred. Stored tokens are never touched: remove
# them first with `git-credential-bitbucket logout --all` if you want them gone. --uninstall
# also removes the sections of other hosts set up with --host, and keeps the data directory
# (token expiry dates, lock, hints): it prints its path and the command that removes it.
#
# POSIX sh (checked with `shellcheck -s sh`, run under dash by the tests): macOS's /bin/bash is
# 3.2, where `set -u` and an empty array abort the script, so no bash features at all.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=git-credential-bitbucket

prefix=""
store=""
scope="--global"
setup=true
uninstall=false
for arg in "$@"; do
  case "$arg" in -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
done
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --store) store="${2:?--store needs a value}"; shift 2 ;;
    --system) scope="--system"; shift ;;
    --no-setup) setup=false; shift ;;
    --uninstall) uninstall=true; shift ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

case "$store" in
  ""|auto|secret-service|keyutils|file|keychain|wincred) ;;
  *) echo "install.sh: --store $store is not a store: choose auto, secret-service, keyutils, file, keychain or wincred" >&2; exit 2 ;;
esac
# A relative --prefix means relative to where the user stands.
case "$prefix" in
  ""|/*) ;;
  *) prefix="$PWD/$prefix" ;;
esac

say() { printf 'install.sh: %s\n' "$*"; }

if [ -z "$prefix" ]; then
  if [ "$(id -u)" -eq 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi
bin="$prefix/bin/$name"
# Every file this script installs, as "source destination": --uninstall removes exactly these.
files() {
  echo "$name bin/$name"
  for page in "$here"/man/*.1; do
    echo "man/${page##*/} share/man/man1/${page##*/}"
  done
  echo "completions/$name.bash share/bash-completion/completions/$name"
  echo "completions/_$name share/zsh/site-functions/_$name"
  echo "completions/$name.fish share/fish/vendor_completions.d/$name.fish"
}

if $uninstall; then
  # The bundled binary undoes setup (every host's section) even when the installed one is gone
  # already, and says where the data directory it keeps is.
  if command -v git >/dev/null; then
    said=$("$here/$name" teardown "$scope")
    printf '%s\n' "$said" | sed 's/^/install.sh: /'
  fi
  files | while read -r _ dest; do rm -f "$prefix/$dest"; done
  say "removed $bin, its man pages and completions"
  say "stored tokens were left in place; remove them first with '$name logout --all' if you want them gone"
  exit 0
fi

files | while read -r source dest; do
  mode=0644
  [ "$source" = "$name" ] && mode=0755
  mkdir -p "$(dirname "$prefix/$dest")"
  # Through a temporary name and a rename: a git running the old binary never sees half a file.
  cp "$here/$source" "$prefix/$dest.new.$$"
  chmod "$mode" "$prefix/$dest.new.$$"
  mv -f "$prefix/$dest.new.$$" "$prefix/$dest"
done
say "installed $bin ($("$bin" --version))"

if $setup; then
  if ! command -v git >/dev/null; then
    say "git is not installed: install it, then run '$bin setup'"
    exit 1
  fi
  # `setup` writes the host-scoped configuration (credential.https://bitbucket.org.helper reset
  # to "" then this helper by its full path, so git run from cron finds it too) and prints it.
  # Captured first: a pipe into sed would hide setup's exit status from `set -e`.
  if [ -n "$store" ]; then
    said=$("$bin" --store "$store" setup "$scope")
  else
    said=$("$bin" setup "$scope")
  fi
  printf '%s\n' "$said" | sed 's/^/install.sh: /'
fi
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) say "note: $prefix/bin is not on your PATH: add it to run $name by name" ;;
esac
if $setup; then
  say "done. The next git clone/fetch/push to https://bitbucket.org asks once for your API token"
  say "(username: x-bitbucket-api-token-auth)."
else
  say "done. git is not configured yet: as each user who runs git, run '$bin setup'"
  say "(or once for every user of this machine: '$bin setup --system')."
fi
