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
cd "$(dirname "$0")"

prefix=""
store=""
scope="--global"
uninstall=false
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --store) store="${2:?--store needs a value}"; shift 2 ;;
    --system) scope="--system"; shift ;;
    --uninstall) uninstall=true; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf 'install.sh: %s\n' "$*"; }
key="credential.https://bitbucket.org.helper"

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
  if git config "$scope" --get-all "$key" >/dev/null 2>&1; then
    git config "$scope" --unset-all "$key"
    say "removed $key from $scope git config"
  fi
  if git config "$scope" --get credential.https://bitbucket.org.useHttpPath >/dev/null 2>&1; then
    git config "$scope" --unset-all credential.https://bitbucket.org.useHttpPath
    say "removed credential.https://bitbucket.org.useHttpPath from $scope git config"
  fi
  if [ -e "$binary" ]; then
    need_cargo
    cargo uninstall --root "$root" git-credential-bitbucket >/dev/null 2>&1 || rm -f "$binary"
    say "removed $binary"
  fi
  say "stored tokens were left in place; remove them first with 'git-credential-bitbucket logout --all' if you want them gone"
  exit 0
fi

need_git
need_cargo
say "building and installing into $root/bin"
cargo install --quiet --locked --force --path . --root "$root"
say "installed $binary"

# Name the helper as `bitbucket` when git will find this binary on PATH, else by its full path.
helper="bitbucket"
if [ "$(command -v git-credential-bitbucket 2>/dev/null || true)" != "$binary" ]; then
  helper="$binary"
  say "$root/bin is not first on PATH for git-credential-bitbucket; configuring the full path"
fi
[ -n "$store" ] && helper="$helper --store $store"

before="$(git config "$scope" --get-all "$key" 2>/dev/null || true)"
want="$(printf '\n%s' "$helper")"
if [ "$before" = "$want" ]; then
  say "git already uses it for https://bitbucket.org ($scope): nothing to change"
else
  git config "$scope" --unset-all "$key" 2>/dev/null || true
  git config "$scope" --add "$key" ""
  git config "$scope" --add "$key" "$helper"
  say "set $key = \"\" then \"$helper\" ($scope); other hosts untouched"
fi
if [ "$(git config "$scope" --get credential.https://bitbucket.org.useHttpPath 2>/dev/null || true)" != "true" ]; then
  git config "$scope" credential.https://bitbucket.org.useHttpPath true
  say "set credential.https://bitbucket.org.useHttpPath = true ($scope), so per-workspace tokens work"
fi
say "done. The next git clone/fetch/push to https://bitbucket.org asks once for your API token"
say "(username: x-bitbucket-api-token-auth); create one with the scope read:repository:bitbucket,"
say "plus write:repository:bitbucket to push, at https://id.atlassian.com/manage-profile/security/api-tokens"
