#!/usr/bin/env bash
# Builds the statically linked warren-agent (static-pie glibc; runs in Debian, Alpine or scratch images).
# Output: target/x86_64-unknown-linux-gnu/release/warren-agent (under $CARGO_TARGET_DIR when set; path
# printed on the last line).
# The explicit --target keeps build scripts and proc macros dynamic.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked -p agent --bin warren-agent --target "$target"
bin="${CARGO_TARGET_DIR:-target}/$target/release/warren-agent"
if ldd "$bin" 2>&1 | grep -q '=>'; then
  echo "error: $bin is dynamically linked" >&2
  ldd "$bin" >&2
  exit 1
fi
echo "$bin"
