#!/usr/bin/env bash
# Builds wasmtime-cli from crates.io at a pinned release and caches the binary outside the repo.
# It is a host nobody here wrote: the tests serve a TypeScript function's wasi:http component with
# `wasmtime serve` and check that it answers as it does under the shim.
# Usage: scripts/build-wasmtime.sh         -> prints the path of the cached wasmtime binary (progress on stderr)
# Env: WASMTIME_VERSION (default below), WASM_FN_CACHE (cache dir, default ~/.cache/wasm-fn).
# Why 48.0.8: it builds with Rust 1.95 (installed here); wasmtime 50.x needs Rust 1.97.
# The first build takes ~11 min on 2 cores; `--locked` builds the exact dependency set wasmtime released.
set -euo pipefail
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
WASMTIME_VERSION="${WASMTIME_VERSION:-48.0.8}"
CACHE="${WASM_FN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasm-fn}"
BIN="$CACHE/wasmtime-$WASMTIME_VERSION"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v cargo >/dev/null || { echo "build-wasmtime: cargo (Rust >= 1.87) is needed to build wasmtime $WASMTIME_VERSION: install Rust with rustup, then rerun" >&2; exit 1; }
mkdir -p "$CACHE"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
echo "build-wasmtime: building wasmtime-cli $WASMTIME_VERSION from crates.io (first time on this machine only; ~11 min)" >&2
if ! CARGO_TARGET_DIR="$work/target" cargo install wasmtime-cli --version "$WASMTIME_VERSION" --locked \
    --root "$work/root" >&2; then
  echo "build-wasmtime: cargo install wasmtime-cli $WASMTIME_VERSION failed (see above)" >&2; exit 1
fi
mv "$work/root/bin/wasmtime" "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
echo "$BIN"
