# Sourced by the scripts that need system packages or Rust targets (test.sh, dist.sh,
# build-windows.sh): each names what it needs, and this installs only what is missing, with
# apt as root (a fresh Debian machine) and rustup, so no script carries its own copy of the loop.

# ensure_packages WHO PACKAGE...: installs the Debian packages not yet installed.
ensure_packages() {
  local who=$1 package
  shift
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$who: missing packages: ${missing[*]}; run as root or install them first" >&2
    exit 1
  fi
  echo "$who: installing ${missing[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# ensure_rust_targets TARGET...: adds the rustup targets not yet installed.
ensure_rust_targets() {
  local installed target
  installed=$(rustup target list --installed)
  for target in "$@"; do
    grep -qx "$target" <<<"$installed" || rustup target add "$target" >&2
  done
}
