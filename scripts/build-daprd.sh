#!/usr/bin/env bash
# Builds daprd from the Go module proxy at a pinned release and caches the binary outside the repo.
# dapr's go.mod carries `replace` lines, so `go install ...daprd@v` is refused; a tiny wrapper module
# that requires github.com/dapr/dapr, repeats its go.mod (and so its replace lines) and calls app.Run() builds it.
# Usage: scripts/build-daprd.sh            -> prints the path of the cached daprd binary
set -euo pipefail
DAPR_VERSION="${DAPR_VERSION:-v1.18.3}"
CACHE="${WASM_FN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasm-fn}"
BIN="$CACHE/daprd-$DAPR_VERSION"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v go >/dev/null || { echo "build-daprd: Go >= 1.26.6 is needed to build daprd $DAPR_VERSION (install Go, then rerun)" >&2; exit 1; }
mkdir -p "$CACHE"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
modfile="$(GOFLAGS=-mod=mod go mod download -json "github.com/dapr/dapr@$DAPR_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
[ -f "$modfile" ] || { echo "build-daprd: could not download github.com/dapr/dapr@$DAPR_VERSION from the Go module proxy" >&2; exit 1; }
# The wrapper's go.mod is dapr's own (same requirements, same replace lines) under another module name.
sed 's#^module github.com/dapr/dapr$#module wasmfn.local/daprd#' "$modfile" > go.mod
printf '\nrequire github.com/dapr/dapr %s\n' "$DAPR_VERSION" >> go.mod
cat > main.go <<'GO'
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() { app.Run() }
GO
echo "build-daprd: building daprd $DAPR_VERSION (first time on this machine only; several minutes)" >&2
GOFLAGS=-mod=mod go build -trimpath -tags stablecomponents -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${DAPR_VERSION#v}" -o "$BIN.tmp" .
mv "$BIN.tmp" "$BIN"
echo "$BIN"
