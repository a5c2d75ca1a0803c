#!/usr/bin/env bash
# Builds daprd from the Go module proxy at a pinned release and caches the binary outside the repo.
# dapr's go.mod carries `replace` lines, so `go install ...daprd@v` is refused; a tiny wrapper module
# that requires github.com/dapr/dapr, repeats its go.mod (and so its replace lines) and calls app.Run() builds it.
# Usage: scripts/build-daprd.sh            -> prints the path of the cached daprd binary (progress on stderr)
# Env: DAPR_VERSION (default below), WASM_FN_CACHE (cache dir, default ~/.cache/wasm-fn).
# Why v1.16.5: the module proxy reachable here serves only some module versions. v1.18.x needs
# durabletask-go v0.12.x (not served); v1.17.0 needs components-contrib v1.17.0 and v1.17.5 needs
# durabletask-go v0.11.1 (neither served); v1.17.1-4 and v1.17.6-9 are not served at all. v1.16.5's whole build
# graph (components-contrib v1.16.5, durabletask-go v0.10.2, kit v0.16.1, ...) is served and verified
# against the default checksum database, so no replace lines or GOSUMDB changes are needed.
set -euo pipefail
DAPR_VERSION="${DAPR_VERSION:-v1.16.5}"
CACHE="${WASM_FN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasm-fn}"
BIN="$CACHE/daprd-$DAPR_VERSION"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
command -v go >/dev/null || { echo "build-daprd: Go >= 1.24.11 is needed to build daprd $DAPR_VERSION (install Go, then rerun)" >&2; exit 1; }
mkdir -p "$CACHE"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
# (|| true: under pipefail a failed download would otherwise exit before the message below.)
modfile="$(GOFLAGS=-mod=mod go mod download -json "github.com/dapr/dapr@$DAPR_VERSION" 2>&1 | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' || true)"
[ -n "$modfile" ] && [ -f "$modfile" ] || { echo "build-daprd: could not download github.com/dapr/dapr@$DAPR_VERSION from the Go module proxy (is that version served?)" >&2; exit 1; }
# The wrapper's go.mod is dapr's own (same requirements, same replace lines) under another module name.
sed 's#^module github.com/dapr/dapr$#module wasmfn.local/daprd#' "$modfile" > go.mod
printf '\nrequire github.com/dapr/dapr %s\n' "$DAPR_VERSION" >> go.mod
cat > main.go <<'GO'
package main

import "github.com/dapr/dapr/cmd/daprd/app"

func main() { app.Run() }
GO
echo "build-daprd: building daprd $DAPR_VERSION (first time on this machine only; several minutes)" >&2
# stablecomponents: without a components tag daprd registers nothing and panics at start.
# The second -X stamps the version into log lines (ver=...), which otherwise say "unknown".
if ! GOFLAGS=-mod=mod go build -trimpath -tags stablecomponents \
    -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${DAPR_VERSION#v} -X github.com/dapr/kit/logger.DaprVersion=${DAPR_VERSION#v}" \
    -o "$BIN.tmp" . >&2; then
  rm -f "$BIN.tmp"
  echo "build-daprd: go build of daprd $DAPR_VERSION failed (see above; a '403 ... not available' line names a module version the Go module proxy does not serve)" >&2
  exit 1
fi
mv "$BIN.tmp" "$BIN"
echo "$BIN"
