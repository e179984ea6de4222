#!/usr/bin/env bash
# Builds every release artifact this Linux machine can build into OUT (default dist/):
#   git-credential-bitbucket-VERSION-x86_64-unknown-linux-musl.tar.gz  static binary, man pages,
#       completions, README, licenses, install.sh (installs the binary, runs setup; no cargo)
#   git-credential-bitbucket_VERSION_amd64.deb    the same static binary in /usr/bin, man pages,
#       completions, docs; configures nothing (its postinst says to run `setup`)
#   git-credential-bitbucket-VERSION-x86_64-pc-windows-gnu.zip  the .exe, README and docs/,
#       licenses, PowerShell completions
#   SHA256SUMS
# On a fresh Debian machine (as root) it installs what it needs: musl-tools, the MinGW-w64 cross
# compiler, zip, and the two rustup targets. The archives are reproducible: file times are the
# last commit's (SOURCE_DATE_EPOCH), owners are root, entries are sorted.
#
#   scripts/dist.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath -m "${1:-dist}")
name=git-credential-bitbucket
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
linux=x86_64-unknown-linux-musl
windows=x86_64-pc-windows-gnu
say() { printf 'dist.sh: %s\n' "$*" >&2; }

. scripts/lib/ensure.sh
ensure_packages dist.sh musl-tools gcc-mingw-w64-x86-64 zip dpkg
ensure_rust_targets "$linux" "$windows"

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
# musl-gcc for any C a dependency may build; the binary is fully static.
export CC_x86_64_unknown_linux_musl=musl-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
for target in "$linux" "$windows"; do
  say "building $target"
  cargo build --locked --release --quiet --target "$target"
done
binary="target/$linux/release/$name"

stage=$(mktemp -d "${TMPDIR:-/tmp}/gcb-dist.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"
# The man pages and completions come from the binary being packaged (its hidden generate-docs).
"$binary" generate-docs "$stage/generated" >/dev/null

# The tarball (the same script packs the macOS ones in the release workflow).
tarball=$(scripts/tarball.sh "$linux" "$binary" "$out")

# The .deb, built with dpkg-deb: the layout is ten lines here, and cargo-deb would be one more
# tool to compile on every CI run.
root="$stage/deb"
doc="$root/usr/share/doc/$name"
install -D -m 0755 "$binary" "$root/usr/bin/$name"
mkdir -p "$root/usr/share/man/man1" "$doc"
for page in "$stage"/generated/man/*.1; do
  gzip -9 -n -c "$page" >"$root/usr/share/man/man1/${page##*/}.gz"
done
install -D -m 0644 "$stage/generated/completions/$name.bash" \
  "$root/usr/share/bash-completion/completions/$name"
install -D -m 0644 "$stage/generated/completions/_$name" "$root/usr/share/zsh/vendor-completions/_$name"
install -D -m 0644 "$stage/generated/completions/$name.fish" \
  "$root/usr/share/fish/vendor_completions.d/$name.fish"
install -m 0644 README.md ARCHITECTURE.md CONTRIBUTING.md docs/*.md "$doc/"
{
  echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
  echo "Upstream-Name: $name"
  echo "License: MIT or Apache-2.0"
  echo
  echo "Files: *"
  echo "Copyright: The git-credential-bitbucket contributors"
  echo "License: MIT or Apache-2.0"
  echo " The MIT license follows; the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0."
  echo " ."
  sed -e 's/^$/./' -e 's/^/ /' LICENSE-MIT
} >"$doc/copyright"
mkdir -p "$root/DEBIAN"
install -m 0755 packaging/postinst "$root/DEBIAN/postinst"
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: amd64
Maintainer: git-credential-bitbucket contributors <noreply@invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: git
Suggests: gnome-keyring, keyutils
Section: vcs
Priority: optional
Description: git credential helper for Bitbucket Cloud API tokens
 Keeps Bitbucket Cloud API tokens in the OS keychain (Secret Service, kernel
 keyutils, or an opt-in file) and hands them to git with the username
 x-bitbucket-api-token-auth; refuses legacy app passwords. Installing the
 package configures nothing: run "git-credential-bitbucket setup".
CONTROL
find "$root" -type d -exec chmod 0755 {} +
deb="${name}_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$out/$deb" >/dev/null

# The Windows zip.
dir="$stage/$name-$version-$windows"
mkdir -p "$dir"
install -m 0755 "target/$windows/release/$name.exe" "$dir/"
install -m 0644 README.md ARCHITECTURE.md CONTRIBUTING.md LICENSE-MIT LICENSE-APACHE \
  "$stage/generated/completions/_$name.ps1" "$dir/"
# README links to docs/, ARCHITECTURE.md and CONTRIBUTING.md: ship them, as the tarball does.
mkdir -p "$dir/docs"
install -m 0644 docs/*.md "$dir/docs/"
find "$dir" -exec touch -d "@$SOURCE_DATE_EPOCH" {} +
zipfile="$name-$version-$windows.zip"
rm -f "$out/$zipfile"
(cd "$stage" && find "$(basename "$dir")" -print | LC_ALL=C sort | zip -X -q -@ "$out/$zipfile")

(cd "$out" && sha256sum "$tarball" "$deb" "$zipfile" >SHA256SUMS)
say "wrote $out: $tarball $deb $zipfile SHA256SUMS"
