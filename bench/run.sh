#!/usr/bin/env bash
# Whole-process benchmark of git-credential-bitbucket against git's own helpers.
#
#   bench/run.sh [--helper PATH] > table.md
#
# Builds the helper (`cargo build --release --locked`, or takes --helper PATH), builds
# git-credential-libsecret from the contrib source Debian's git package ships, then measures with
# hyperfine, side by side: `get` on the Secret Service, keyutils and the file store, `get` for a
# host we do not serve, `store` of the token already stored, and `git ls-remote` against a local
# Bitbucket-like server (bench/server.py). Commands run with `hyperfine -N` through
# bench/stdin-from.c (which feeds the request on stdin), ours and theirs alternating run by run;
# the wrapper's own cost is measured and subtracted. Peak memory is `/usr/bin/time -f %M`, the
# largest of five runs. The Markdown table goes to stdout, progress to stderr.
#
# Everything is private and thrown away: a temporary HOME and XDG dirs, a private D-Bus session
# bus (no service directories, so nothing is auto-started) with its own gnome-keyring unlocked
# by a throw-away password, a named kernel session keyring, and fake tokens. The user's own bus
# and keychain are never used. keyutils is the one exception the kernel imposes: our keyutils
# store links keys into the user's persistent keyring, so its rows use hosts of their own
# (bench-<random>.invalid and the server's 127.0.0.1:<port>, never bitbucket.org) and erase
# those keys before exiting.
#
# Environment: BENCH_RUNS (runs per command, default 100), BENCH_LS_RUNS (runs of git
# ls-remote, 30), BENCH_CHUNK (the runs go in rounds of this many, ours then theirs, 1: fully
# alternating, which a shared machine needs), BENCH_WARMUP (warm-up runs per round, 1),
# BENCH_ONLY (a regex on row keys, e.g. 'get-ss|get-ku'), CARGO_TARGET_DIR.
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
runs=${BENCH_RUNS:-100}
ls_runs=${BENCH_LS_RUNS:-30}
chunk=${BENCH_CHUNK:-1}
warmup=${BENCH_WARMUP:-1}
only=${BENCH_ONLY:-.}
say() { echo "bench: $*" >&2; }

# --- what we need, installed with apt when root (as scripts/test.sh does) ------------------
libsecret_src=/usr/share/doc/git/contrib/credential/libsecret
declare -A need=(
  [hyperfine]=hyperfine [/usr/bin/time]=time [git]=git [dbus-daemon]=dbus-daemon
  [dbus-send]=dbus-bin [gnome-keyring-daemon]=gnome-keyring [keyctl]=keyutils [gcc]=gcc
  [pkg-config]=pkg-config [python3]=python3
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
  say "building the helper (cargo build --release --locked)"
  cargo build --release --locked >&2
  helper=${CARGO_TARGET_DIR:-$repo/target}/release/git-credential-bitbucket
  case $helper in /*) ;; *) helper=$repo/$helper ;; esac
fi
[ -x "$helper" ] || { say "no helper binary at $helper"; exit 1; }

toolchain=$(rustc --version 2>/dev/null || echo "rustc ?") # before HOME changes (rustup)
work=$(mktemp -d "${TMPDIR:-/tmp}/gcb-bench.XXXXXX")
pids=()
ku_name=""
ku_entries=() # "protocol host" of every key we put in keyutils
cleanup() {
  set +e
  local entry
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
store_ok() { # what... : runs a `store` whose output must be empty and exit 0
  "$@" >/dev/null || { say "store failed: $*"; exit 1; }
}
creds=$work/git-credentials
token_lines https bitbucket.org | store_ok "$helper" --store secret-service store
token_lines https bitbucket.org | store_ok "$helper" --store file store 2>/dev/null
token_lines https bitbucket.org | store_ok "$libsecret" store
token_lines https bitbucket.org | store_ok git credential-store --file "$creds" store
ku_entries+=("https $ku_host" "http $server")
token_lines https "$ku_host" | in_keyring "$helper" --store keyutils --host "$ku_host" store >/dev/null 2>&1
token_lines http "$server" | store_ok "$helper" --store secret-service --host "$server" store
token_lines http "$server" | store_ok "$helper" --store file --host "$server" store 2>/dev/null
token_lines http "$server" | in_keyring "$helper" --store keyutils --host "$server" store >/dev/null 2>&1
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
# hyperfine -N runs each command through bench/stdin-from.c (static: it opens the request file
# as stdin and execs the command), with no shell: hyperfine would subtract a shell's start-up,
# which varies more than a 1 ms helper takes. Each row's runs are split into rounds of $chunk,
# ours then theirs, so that a slow spell of a shared machine hits both.
stdin_from=$work/bin/stdin-from
gcc -O2 -static -o "$stdin_from" "$repo/bench/stdin-from.c"
printf 'int main(void) { return 0; }\n' | gcc -O2 -static -x c -o "$work/bin/noop" -
rows=$work/rows
: >"$rows"
peak() { # wrapper input command -> the largest max RSS (KiB) of five runs
  local wrap=$1 input=$2 cmd=$3 max=0 kib
  for _ in 1 2 3 4 5; do
    eval "$wrap /usr/bin/time -f %M -o \"\$work/time.out\" $cmd" <"$input" >/dev/null 2>&1 || true
    kib=$(tail -n1 "$work/time.out")
    [ "$kib" -gt "$max" ] && max=$kib
  done
  echo "$max"
}
hyperfine_rounds() { # key wrapper runs name command [name command]... (commands already wrapped)
  local key=$1 wrap=$2 n=$3 round; shift 3
  for round in $(seq $(((n + chunk - 1) / chunk))); do
    # shellcheck disable=SC2086 # $wrap is a command name or nothing
    $wrap hyperfine -N --warmup "$warmup" --runs "$chunk" --style none \
      --export-json "$work/res/$key.$round.json" "$@" >&2
  done
}
# row KEY LABEL TARGET WRAPPER INPUT RUNS OURS THEIRS
# WRAPPER is empty or in_keyring; OURS and THEIRS are command lines quoted for a shell.
row() {
  local key=$1 label=$2 target=$3 wrap=$4 input=$5 n=$6 mine=$7 theirs=$8
  [[ $key =~ $only ]] || return 0
  say "$label"
  hyperfine_rounds "$key" "$wrap" "$n" -n ours "$(q "$stdin_from") $(q "$input") $mine" \
    -n theirs "$(q "$stdin_from") $(q "$input") $theirs"
  printf '%s\t%s\t%s\t%s\t%s\n' "$key" "$label" "$target" "$(peak "$wrap" "$input" "$mine")" \
    "$(peak "$wrap" "$input" "$theirs")" >>"$rows"
}
say "the wrapper's own cost"
noop=$(q "$work/bin/noop")
hyperfine_rounds wrapper "" "$runs" -n ours "$(q "$stdin_from") /dev/null $noop" -n theirs "$noop"
store=$(printf 'git credential-store --file %q' "$creds")
row get-ss "\`get\`, Secret Service — vs git-credential-libsecret" "≤ 0.5" "" "$work/in/get-bb" "$runs" \
  "$ours --store secret-service get" "$(q "$libsecret") get"
row get-ku "\`get\`, keyutils — vs git-credential-store" "≤ 1.5" in_keyring "$work/in/get-ku" "$runs" \
  "$ours --store keyutils --host $ku_host get" "$store get"
row get-file "\`get\`, file store — vs git-credential-store" "" "" "$work/in/get-bb" "$runs" \
  "$ours --store file get" "$store get"
row get-other "\`get\`, host not served (github.com) — vs git-credential-store" "≤ 1.0" "" \
  "$work/in/get-gh" "$runs" "$ours get" "$store get"
row store-ss "\`store\` of the stored token, Secret Service — vs git-credential-libsecret" "" "" \
  "$work/in/store-bb" "$runs" "$ours --store secret-service store" "$(q "$libsecret") store"
row store-ku "\`store\` of the stored token, keyutils — vs git-credential-store" "" in_keyring \
  "$work/in/store-ku" "$runs" "$ours --store keyutils --host $ku_host store" "$store store"
row store-file "\`store\` of the stored token, file store — vs git-credential-store" "" "" \
  "$work/in/store-bb" "$runs" "$ours --store file store" "$store store"
ls_remote() { # helper-config -> a git ls-remote command line
  printf 'git -c credential.helper= -c credential.helper=%q ls-remote -q %q' "$1" "$url"
}
row ls-ss "\`git ls-remote\`, Secret Service — vs git-credential-libsecret" "" "" /dev/null "$ls_runs" \
  "$(ls_remote "$helper --store secret-service --host $server")" "$(ls_remote "$libsecret")"
row ls-ku "\`git ls-remote\`, keyutils — vs git-credential-store" "" in_keyring /dev/null "$ls_runs" \
  "$(ls_remote "$helper --store keyutils --host $server")" "$(ls_remote "store --file $creds")"
row ls-file "\`git ls-remote\`, file store — vs git-credential-store" "" "" /dev/null "$ls_runs" \
  "$(ls_remote "$helper --store file --host $server")" "$(ls_remote "store --file $creds")"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
os=$(. /etc/os-release && echo "$PRETTY_NAME")
echo "Machine: $cpu, $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; $os, Linux $(uname -r)."
echo "Versions: $(git --version), gnome-keyring $(gnome-keyring-daemon --version 2>/dev/null | awk 'NR == 1 {print $2}'),"
echo "libsecret $(pkg-config --modversion libsecret-1), $(hyperfine --version), $toolchain."
echo "Helper: $(basename "$helper"), $(stat -c %s "$helper") bytes."
echo
python3 "$repo/bench/report.py" "$rows" "$work/res" "$runs" "$ls_runs" "$chunk"
