#!/usr/bin/env bash
# Type-checks and lints the crate for macOS (Intel and Apple silicon) and Windows, here on
# Linux, warnings denied: code behind cfg(target_os = "macos") or cfg(windows) is compiled on
# every change, and code unused on one platform fails as it would there. Type-checking needs no
# linker or SDK, only the targets' standard libraries, which this installs with rustup.
# Also audits unsafe code: exactly one module may allow it (docs/security.md).
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc)
installed=$(rustup target list --installed)
missing=()
for target in "${targets[@]}"; do
  grep -qx "$target" <<<"$installed" || missing+=("$target")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "cross-check.sh: installing rust targets ${missing[*]}"
  rustup target add "${missing[@]}" >/dev/null
fi

for target in "${targets[@]}"; do
  echo "cross-check.sh: $target"
  cargo check --locked --quiet --target "$target"
  cargo clippy --locked --quiet --all-targets --target "$target" -- -D warnings
done

allowed=$(grep -rln --include='*.rs' 'allow(unsafe_code)' src | sort)
if [ "$allowed" != "src/inherited_pipe/windows.rs" ]; then
  echo "cross-check.sh: unsafe code is allowed only in src/inherited_pipe/windows.rs, found: ${allowed:-none}" >&2
  exit 1
fi
echo "cross-check.sh: macOS and Windows type-check and lint clean"
