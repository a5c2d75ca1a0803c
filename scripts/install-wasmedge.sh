#!/usr/bin/env bash
# Makes `wasmedge` (0.17+) and a crun built with WasmEdge available to the test suite, and prints
# the directory holding bin/wasmedge and bin/crun. In order:
#   1. WASMEDGE_KIT=DIR (a kit already installed there),
#   2. `wasmedge` and a `crun` reporting +WASM:wasmedge on PATH (prints nothing: use PATH),
#   3. ~/.cache/wasm-fn/wasmedge-kit (installed before),
#   4. the kit tarball in ../shared/tools/ (next to this checkout), installed into ~/.cache/wasm-fn/wasmedge-kit.
# Users get WasmEdge and crun from their own releases: see docs/wasmedge.md.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="${HOME}/.cache/wasm-fn/wasmedge-kit"
ok() { [ -x "$1/bin/wasmedge" ] && "$1/bin/wasmedge" --version >/dev/null 2>&1 && "$1/bin/crun" --version 2>/dev/null | grep -q 'WASM:wasmedge'; }
if [ -n "${WASMEDGE_KIT:-}" ]; then
  ok "$WASMEDGE_KIT" || { echo "install-wasmedge: WASMEDGE_KIT=$WASMEDGE_KIT has no working bin/wasmedge and WasmEdge-enabled bin/crun" >&2; exit 1; }
  echo "$WASMEDGE_KIT"; exit 0
fi
if command -v wasmedge >/dev/null 2>&1 && command -v crun >/dev/null 2>&1 && crun --version 2>/dev/null | grep -q 'WASM:wasmedge'; then exit 0; fi
if ok "$dest"; then echo "$dest"; exit 0; fi
kit=$(ls "$here"/../shared/tools/wasmedge-kit-*.tar.gz 2>/dev/null | sort | tail -n 1 || true)
if [ -z "$kit" ]; then
  echo "install-wasmedge: no WasmEdge found: install wasmedge (https://wasmedge.org) and a crun built --with-wasmedge, or set WASMEDGE_KIT=DIR (see docs/wasmedge.md)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$kit" -C "$tmp"
sh "$tmp"/wasmedge-kit/install.sh "$dest" >/dev/null
ok "$dest" || { echo "install-wasmedge: the kit installed into $dest does not run" >&2; exit 1; }
echo "$dest"
