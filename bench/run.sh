#!/usr/bin/env bash
# Whole-process benchmark of git-credential-bitbucket against git's own helpers.
#
#   bench/run.sh [--helper PATH] > table.md
#
# Builds the helper as users get it from the release tarball (static musl: `cargo build --release
# --locked --target x86_64-unknown-linux-musl`, as scripts/dist.sh does; or takes --helper PATH),
# builds git-credential-libsecret from the contrib source Debian's git package ships, then times
# ours against theirs with bench/rounds.py: every round runs every command once, in shuffled
# order, and each row's ratio is taken within the round; the table gives the median ratio and
# its spread. Rows: `get` for a host we do not serve (vs /usr/bin/true); `get` on the file store
# and keyutils (vs git credential-store) and the Secret Service (vs git-credential-libsecret),
# with 1 and with 1,000 stored workspace tokens; `store` of the token already stored; and
# `git ls-remote` against a local Bitbucket-like server (bench/server.py). Peak memory is each
# process's ru_maxrss. The Markdown table goes to stdout, progress to stderr.
#
# Everything is private and thrown away: a temporary HOME and XDG dirs, a private D-Bus session
# bus (no service directories, so nothing is auto-started) with its own gnome-keyring unlocked
# by a throw-away password, a named kernel session keyring, and fake tokens. The user's own bus
# and keychain are never used. keyutils is the one exception the kernel imposes: our keyutils
# store links keys into the user's persistent keyring, so its rows use hosts of their own
# (bench-<random>.invalid and the server's 127.0.0.1:<port>, never bitbucket.org) and erase
# those keys before exiting.
#
# Environment: BENCH_ROUNDS (rounds, default 200), BENCH_LS_ROUNDS (rounds of git ls-remote,
# 30), BENCH_MANY (stored workspace tokens in the large rows, 1000), BENCH_ONLY (a regex on row
# keys, e.g. 'get-ss|get-ku'; the rows with BENCH_MANY tokens end in '-many', and storing those
# tokens, minutes in gnome-keyring, happens only when the regex matches 'get-many', as 'many'
# does), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

helper=""
while [ $# -gt 0 ]; do
  case $1 in
    --helper) helper=$(readlink -f "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
rounds=${BENCH_ROUNDS:-200}
ls_rounds=${BENCH_LS_ROUNDS:-30}
many=${BENCH_MANY:-1000}
only=${BENCH_ONLY:-.}
say() { echo "bench: $*" >&2; }

# --- what we need, installed with apt when root (as scripts/test.sh does) ------------------
libsecret_src=/usr/share/doc/git/contrib/credential/libsecret
declare -A need=(
  [git]=git [dbus-daemon]=dbus-daemon
  [dbus-send]=dbus-bin [gnome-keyring-daemon]=gnome-keyring [keyctl]=keyutils [gcc]=gcc
  [pkg-config]=pkg-config [python3]=python3 [musl-gcc]=musl-tools [file]=file
)
missing=()
for cmd in "${!need[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}"); done
pkg-config --exists libsecret-1 glib-2.0 2>/dev/null || missing+=(libsecret-1-dev libglib2.0-dev)
[ -e "$libsecret_src/git-credential-libsecret.c" ] || [ -e "$libsecret_src/git-credential-libsecret.c.gz" ] \
  || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing packages: ${missing[*]}; run as root or install them first"
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- the binaries --------------------------------------------------------------------------
if [ -z "$helper" ]; then
  musl=x86_64-unknown-linux-musl
  rustup target list --installed | grep -qx "$musl" || rustup target add "$musl" >&2
  say "building the helper as the release tarball has it (static, $musl)"
  CC_x86_64_unknown_linux_musl=musl-gcc cargo build --release --locked --target "$musl" >&2
  helper=${CARGO_TARGET_DIR:-$repo/target}/$musl/release/git-credential-bitbucket
  case $helper in /*) ;; *) helper=$repo/$helper ;; esac
fi
[ -x "$helper" ] || { say "no helper binary at $helper"; exit 1; }

toolchain=$(rustc --version 2>/dev/null || echo "rustc ?") # before HOME changes (rustup)
work=$(mktemp -d "${TMPDIR:-/tmp}/gcb-bench.XXXXXX")
pids=()
ku_name=""
ku_entries=() # "protocol host" of every key we put in keyutils
ku_many="" # set once workspace tokens were put in keyutils
cleanup() {
  set +e
  local entry
  if [ -n "$ku_many" ]; then # the workspace tokens: every token this HOME's metadata knows
    keyctl session "$ku_name" "$helper" --store keyutils --host "$ku_host" logout --all >/dev/null 2>&1
  fi
  for entry in "${ku_entries[@]}"; do # our keys are linked into the persistent keyring too
    printf 'protocol=%s\nhost=%s\n\n' "${entry% *}" "${entry#* }" |
      keyctl session "$ku_name" "$helper" --store keyutils --host "${entry#* }" erase >/dev/null 2>&1
  done
  exec 7>&- 2>/dev/null # ends the keyutils holder
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work"/{home,data,config,cache,runtime,bin,in,res,srv}
chmod 700 "$work/runtime"
say "building git-credential-libsecret from $libsecret_src"
libsecret_c=$work/git-credential-libsecret.c
if [ -e "$libsecret_src/git-credential-libsecret.c" ]; then
  cp "$libsecret_src/git-credential-libsecret.c" "$libsecret_c"
else
  zcat "$libsecret_src/git-credential-libsecret.c.gz" >"$libsecret_c"
fi
# shellcheck disable=SC2046 # pkg-config's flags are words
gcc -O2 -o "$work/bin/git-credential-libsecret" "$libsecret_c" $(pkg-config --cflags --libs libsecret-1 glib-2.0)
libsecret=$work/bin/git-credential-libsecret

# --- a hermetic environment ----------------------------------------------------------------
while read -r var; do unset "$var"; done < <(compgen -e | grep -E '^(GIT_|BITBUCKET_|DBUS_|XDG_)')
unset SSH_ASKPASS
export HOME=$work/home XDG_DATA_HOME=$work/data XDG_CONFIG_HOME=$work/config
export XDG_CACHE_HOME=$work/cache XDG_RUNTIME_DIR=$work/runtime LANG=C LC_ALL=C
export GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0
git config --global user.name bench
git config --global user.email bench@example.invalid
git config --global init.defaultBranch main
git config --global protocol.version 2

# --- a fake token (never a real one): ATATT3xFfGF0 + random body + '=' + CRC-32 -----------
umask 077
python3 - "$work/token" <<'EOF'
import base64, os, sys, zlib
body = base64.urlsafe_b64encode(os.urandom(132)).decode().rstrip("=")
token = "ATATT3xFfGF0" + body + "="
token += "%08X" % zlib.crc32(token.encode())
with open(sys.argv[1], "w") as f:
    f.write(token)
EOF
token_lines() { # protocol host -> a request with the fake token, for `store`
  printf 'protocol=%s\nhost=%s\nusername=x-bitbucket-api-token-auth\npassword=%s\n\n' \
    "$1" "$2" "$(cat "$work/token")"
}

# --- a private D-Bus session bus and gnome-keyring -----------------------------------------
cat >"$work/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=$work/bus</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
<allow own="*"/></policy></busconfig>
EOF
dbus-daemon --nofork --print-address=3 --config-file="$work/bus.conf" \
  3>"$work/bus.address" </dev/null >/dev/null 2>"$work/dbus.log" &
pids+=($!)
wait_for() { # seconds description command...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { say "timed out waiting for $what"; exit 1; }
    sleep 0.05
  done
}
wait_for 10 "dbus-daemon" test -s "$work/bus.address"
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$work/bus.address")
export DBUS_SESSION_BUS_ADDRESS
printf 'bench-keyring-password' |
  gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>"$work/gnome-keyring.log" &
pids+=($!)
secrets_call() {
  dbus-send --session --print-reply --dest=org.freedesktop.secrets "$@"
}
name_owned() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true'
}
wait_for 10 "gnome-keyring on the private bus" name_owned
if ! secrets_call /org/freedesktop/secrets org.freedesktop.Secret.Service.ReadAlias string:default |
  grep -q /collection/; then
  secrets_call /org/freedesktop/secrets org.freedesktop.Secret.Service.SetAlias string:default \
    objpath:/org/freedesktop/secrets/collection/login >/dev/null
fi

# --- a named kernel session keyring, held open by a process that waits on fd 7 --------------
ku_name=gcb-bench-$$-$RANDOM
ku_host=bench-$RANDOM$RANDOM.invalid
mkfifo "$work/keyutils.fifo"
keyctl session "$ku_name" sh -c 'keyctl setperm @s 0x3f3f0000 && echo ready >"$1" && exec cat >/dev/null' \
  sh "$work/keyutils.ready" <"$work/keyutils.fifo" >/dev/null 2>&1 &
pids+=($!)
exec 7>"$work/keyutils.fifo"
wait_for 10 "the session keyring" test -s "$work/keyutils.ready"
in_keyring() { keyctl session "$ku_name" "$@" 2> >(grep -v '^Joined session keyring' >&2); }

# --- the local Bitbucket-like server ----------------------------------------------------------
git init -q "$work/seed"
git -C "$work/seed" commit -q --allow-empty -m seed
mkdir -p "$work/srv/ws"
git clone -q --bare "$work/seed" "$work/srv/ws/repo.git"
python3 "$repo/bench/server.py" "$work/srv" "$work/token" >"$work/server.port" 2>"$work/server.log" &
pids+=($!)
wait_for 10 "bench/server.py" test -s "$work/server.port"
server=127.0.0.1:$(head -n1 "$work/server.port")
url=http://$server/ws/repo.git

# --- stored entries ---------------------------------------------------------------------------
q() { printf '%q' "$1"; }
ours="$(q "$helper")"
store_ok() { # what... : runs a `store` (or `login`) that must exit 0
  "$@" >/dev/null || { say "store failed: $*"; exit 1; }
}
# Ours keeps only a token typed at git's prompt: the `get` that answers without a password (git
# prompts), then the `store`, as git runs them.
typed() { # protocol host helper... : get, then store of the token
  printf 'protocol=%s\nhost=%s\n\n' "$1" "$2" | "${@:3}" get >/dev/null 2>&1
  token_lines "$1" "$2" | store_ok "${@:3}" store 2>/dev/null
}
creds=$work/git-credentials
typed https bitbucket.org "$helper" --store secret-service
typed https bitbucket.org "$helper" --store file
token_lines https bitbucket.org | store_ok "$libsecret" store
token_lines https bitbucket.org | store_ok git credential-store --file "$creds" store
ku_entries+=("https $ku_host" "http $server")
typed https "$ku_host" in_keyring "$helper" --store keyutils --host "$ku_host"
typed http "$server" "$helper" --store secret-service --host "$server"
typed http "$server" "$helper" --store file --host "$server"
typed http "$server" in_keyring "$helper" --store keyutils --host "$server"
token_lines http "$server" | store_ok "$libsecret" store
token_lines http "$server" | store_ok git credential-store --file "$creds" store
token_lines https bitbucket.org >"$work/in/store-bb"
token_lines https "$ku_host" >"$work/in/store-ku"
printf 'protocol=https\nhost=bitbucket.org\n\n' >"$work/in/get-bb"
printf 'protocol=https\nhost=%s\n\n' "$ku_host" >"$work/in/get-ku"
printf 'protocol=https\nhost=github.com\n\n' >"$work/in/get-gh"

# Every `get` must hand back the token before we time it (grep reads the line from a file).
printf 'password=%s\n' "$(cat "$work/token")" >"$work/in/expected"
check_get() { # input command... : the output must carry the stored token
  local input=$1 n; shift
  n=$("$@" <"$input" 2>/dev/null | grep -cxFf "$work/in/expected" || true)
  [ "$n" = 1 ] || { say "get did not return the stored token: $*"; exit 1; }
}
check_get "$work/in/get-bb" "$helper" --store secret-service get
check_get "$work/in/get-bb" "$helper" --store file get
check_get "$work/in/get-bb" "$libsecret" get
check_get "$work/in/get-bb" git credential-store --file "$creds" get
check_get "$work/in/get-ku" in_keyring "$helper" --store keyutils --host "$ku_host" get
git ls-remote -q "$url" >/dev/null 2>&1 && { say "the server answered without credentials"; exit 1; }
check_ls_remote() { # [wrapper] helper-config : git ls-remote must authenticate with it
  local wrap=""
  [ "$1" = in_keyring ] && { wrap=$1; shift; }
  $wrap git -c credential.helper= -c "credential.helper=$1" ls-remote -q "$url" >/dev/null ||
    { say "git ls-remote failed with credential.helper=$1"; exit 1; }
}
check_ls_remote "$helper --store secret-service --host $server"
check_ls_remote in_keyring "$helper --store keyutils --host $server"
check_ls_remote "$helper --store file --host $server"
check_ls_remote "$libsecret"
check_ls_remote "store --file $creds"

# --- measuring ----------------------------------------------------------------------------
# spec_row KEY LABEL TARGET MEMORY INPUT OURS THEIRS: one row of a bench/rounds.py spec. OURS
# and THEIRS are command lines quoted for a shell (split here into argv; no shell runs them).
spec_row() {
  [[ $1 =~ $only ]] || return 0
  python3 - "$@" <<'PY'
import json, shlex, shutil, sys
key, label, target, memory, stdin, ours, theirs = sys.argv[1:8]
def argv(line):
    words = shlex.split(line)
    return [shutil.which(words[0]) or words[0]] + words[1:]
print(json.dumps({"key": key, "label": label, "target": float(target) if target else None,
                  "memory": memory == "yes", "input": stdin, "ours": argv(ours),
                  "theirs": argv(theirs)}))
PY
}
measure() { # SPEC ROUNDS: the table rows, all run inside the named session keyring
  [ -s "$1" ] || return 0
  say "measuring $(wc -l <"$1") rows, $2 rounds"
  in_keyring python3 "$repo/bench/rounds.py" "$1" "$2" "$work/bin/peak-rss" >>"$work/table"
}
gcc -O2 -static -o "$work/bin/peak-rss" "$repo/bench/peak-rss.c"
store=$(printf 'git credential-store --file %q' "$creds")
: >"$work/table"

spec=$work/spec-one
: >"$spec"
spec_row get-other "\`get\`, host not served (github.com) — vs /usr/bin/true" 0.8 yes \
  "$work/in/get-gh" "$ours get" /usr/bin/true >>"$spec"
spec_row get-file "\`get\`, file store, 1 token — vs git-credential-store" 0.6 yes \
  "$work/in/get-bb" "$ours --store file get" "$store get" >>"$spec"
spec_row get-ku "\`get\`, keyutils, 1 token — vs git-credential-store" 0.6 yes \
  "$work/in/get-ku" "$ours --store keyutils --host $ku_host get" "$store get" >>"$spec"
spec_row get-ss "\`get\`, Secret Service, 1 token — vs git-credential-libsecret" 0.15 yes \
  "$work/in/get-bb" "$ours --store secret-service get" "$(q "$libsecret") get" >>"$spec"
# What `setup` configures by default: `auto` also checks that the default collection is unlocked
# (to fall back to keyutils if not), one more call to the service.
spec_row get-ss-auto "\`get\`, Secret Service through \`--store auto\` — vs git-credential-libsecret" "" yes \
  "$work/in/get-bb" "$ours --store auto get" "$(q "$libsecret") get" >>"$spec"
spec_row store-file "\`store\` of the stored token, file store — vs git-credential-store" "" no \
  "$work/in/store-bb" "$ours --store file store" "$store store" >>"$spec"
spec_row store-ku "\`store\` of the stored token, keyutils — vs git-credential-store" "" no \
  "$work/in/store-ku" "$ours --store keyutils --host $ku_host store" "$store store" >>"$spec"
spec_row store-ss "\`store\` of the stored token, Secret Service — vs git-credential-libsecret" "" no \
  "$work/in/store-bb" "$ours --store secret-service store" "$(q "$libsecret") store" >>"$spec"
measure "$spec" "$rounds"

spec=$work/spec-ls
: >"$spec"
ls_remote() { # helper-config -> a git ls-remote command line
  printf 'git -c credential.helper= -c credential.helper=%q ls-remote -q %q' "$1" "$url"
}
spec_row ls-file "\`git ls-remote\`, file store — vs git-credential-store" "" no /dev/null \
  "$(ls_remote "$helper --store file --host $server")" "$(ls_remote "store --file $creds")" >>"$spec"
spec_row ls-ku "\`git ls-remote\`, keyutils — vs git-credential-store" "" no /dev/null \
  "$(ls_remote "$helper --store keyutils --host $server")" "$(ls_remote "store --file $creds")" >>"$spec"
spec_row ls-ss "\`git ls-remote\`, Secret Service — vs git-credential-libsecret" "" no /dev/null \
  "$(ls_remote "$helper --store secret-service --host $server")" "$(ls_remote "$libsecret")" >>"$spec"
measure "$spec" "$ls_rounds"

# --- $many stored workspace tokens -------------------------------------------------------------
# Workspace tokens (useHttpPath) ws-0 … ws-N, each its own fake token, in every store; `get` asks
# for the one each store keeps last: ours sort by key (ws-999 last), git credential-store puts
# each new entry first (so ws-999 is stored first).
if [ "$only" = . ] || [[ get-many =~ $only ]]; then
  say "storing $many workspace tokens in every store"
  last=$((many - 1))
  python3 - "$work/many" "$many" <<'PY'
import base64, os, sys, zlib
with open(sys.argv[1], "w") as f:
    for _ in range(int(sys.argv[2])):
        body = base64.urlsafe_b64encode(os.urandom(132)).decode().rstrip("=")
        token = "ATATT3xFfGF0" + body + "="
        f.write(token + "%08X" % zlib.crc32(token.encode()) + "\n")
PY
  many_creds=$work/git-credentials-many
  : >"$many_creds"
  ws_line() { # protocol host workspace token -> a `store` request for that workspace
    printf 'protocol=%s\nhost=%s\npath=%s/repo.git\nusername=x-bitbucket-api-token-auth\npassword=%s\n\n' "$@"
  }
  mapfile -t many_tokens <"$work/many"
  i=0
  ku_many=true
  for n in "$last" $(seq 0 $((last - 1))); do
    tok=${many_tokens[$i]}
    i=$((i + 1))
    # `login --workspace` is how a person keeps a token per workspace (git's `store` writes
    # the host's entry unless the workspace already has one).
    printf '%s\n' "$tok" | store_ok "$helper" --store file login --workspace "ws-$n" --stdin 2>/dev/null
    printf '%s\n' "$tok" | store_ok "$helper" --store secret-service login --workspace "ws-$n" --stdin
    printf '%s\n' "$tok" | in_keyring "$helper" --store keyutils --host "$ku_host" \
      login --workspace "ws-$n" --stdin >/dev/null 2>&1
    ws_line https bitbucket.org "ws-$n" "$tok" | store_ok "$libsecret" store
    ws_line https bitbucket.org "ws-$n" "$tok" | store_ok git credential-store --file "$many_creds" store
  done
  ws_get() { printf 'protocol=https\nhost=%s\npath=ws-%s/repo.git\n\n' "$1" "$last"; }
  ws_get bitbucket.org >"$work/in/get-bb-many"
  ws_get "$ku_host" >"$work/in/get-ku-many"
  printf 'password=%s\n' "${many_tokens[0]}" >"$work/in/expected"
  check_get "$work/in/get-bb-many" "$helper" --store file get
  check_get "$work/in/get-bb-many" "$helper" --store secret-service get
  check_get "$work/in/get-bb-many" "$libsecret" get
  check_get "$work/in/get-bb-many" git credential-store --file "$many_creds" get
  check_get "$work/in/get-ku-many" in_keyring "$helper" --store keyutils --host "$ku_host" get
  store_many=$(printf 'git credential-store --file %q' "$many_creds")
  spec=$work/spec-many
  : >"$spec"
  spec_row get-file-many "\`get\`, file store, $many tokens — vs git-credential-store" 0.6 yes \
    "$work/in/get-bb-many" "$ours --store file get" "$store_many get" >>"$spec"
  spec_row get-ku-many "\`get\`, keyutils, $many tokens — vs git-credential-store" 0.6 yes \
    "$work/in/get-ku-many" "$ours --store keyutils --host $ku_host get" "$store_many get" >>"$spec"
  spec_row get-ss-many "\`get\`, Secret Service, $many tokens — vs git-credential-libsecret" 0.15 yes \
    "$work/in/get-bb-many" "$ours --store secret-service get" "$(q "$libsecret") get" >>"$spec"
  measure "$spec" "$rounds"
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
os=$(. /etc/os-release && echo "$PRETTY_NAME")
echo "Machine: $cpu, $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; $os, Linux $(uname -r)."
echo "Versions: $(git --version), gnome-keyring $(gnome-keyring-daemon --version 2>/dev/null | awk 'NR == 1 {print $2}'),"
echo "libsecret $(pkg-config --modversion libsecret-1), $toolchain."
echo "Helper: $(basename "$helper"), $(stat -c %s "$helper") bytes, $(file -b "$helper" | grep -o 'static[-a-z]* linked\|dynamically linked')."
echo
echo "bench/rounds.py: $rounds rounds ($ls_rounds for \`git ls-remote\`), each running every command"
echo "once in shuffled order; ratios are taken within each round. Times are medians of the whole"
echo "process; peak RSS is the largest ru_maxrss of five runs through bench/peak-rss.c."
echo
python3 "$repo/bench/rounds.py" --header
cat "$work/table"
