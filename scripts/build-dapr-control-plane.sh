#!/usr/bin/env bash
# Builds Dapr's Kubernetes control plane (sentry, operator, injector, placement) and a static daprd for
# the sidecar image, from the same github.com/dapr/dapr module as scripts/build-daprd.sh, and caches
# them outside the repo.
# Usage: scripts/build-dapr-control-plane.sh  -> prints the cache folder with sentry, operator, injector,
#        placement, daprd (progress on stderr)
# Env: DAPR_VERSION (v1.16.5, see build-daprd.sh for why), WASM_FN_CACHE (default ~/.cache/wasm-fn).
# How: one wrapper module (dapr's go.mod under another name, as build-daprd.sh does) with a main
# package per binary that calls github.com/dapr/dapr/cmd/<name>/app.Run(); one `go build` builds all
# five, so shared packages compile once. CGO_ENABLED=0 as Dapr's own Makefile builds them: the
# sidecar image is `scratch` plus /daprd (as Dapr's distroless/static image), with no libc to link.
set -euo pipefail
DAPR_VERSION="${DAPR_VERSION:-v1.16.5}"
CACHE="${WASM_FN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasm-fn}"
OUT="$CACHE/dapr-control-plane-$DAPR_VERSION"
BINS=(sentry operator injector placement daprd)
ok=1; for b in "${BINS[@]}"; do [ -x "$OUT/$b" ] || ok=0; done
if [ "$ok" = 1 ]; then echo "$OUT"; exit 0; fi
command -v go >/dev/null || { echo "build-dapr-control-plane: Go >= 1.24.11 is needed to build Dapr $DAPR_VERSION (install Go, then rerun)" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
modfile="$(GOFLAGS=-mod=mod go mod download -json "github.com/dapr/dapr@$DAPR_VERSION" 2>&1 | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' || true)"
[ -n "$modfile" ] && [ -f "$modfile" ] || { echo "build-dapr-control-plane: could not download github.com/dapr/dapr@$DAPR_VERSION from the Go module proxy (is that version served?)" >&2; exit 1; }
sed 's#^module github.com/dapr/dapr$#module wasmfn.local/daprcp#' "$modfile" > go.mod
printf '\nrequire github.com/dapr/dapr %s\n' "$DAPR_VERSION" >> go.mod
for b in "${BINS[@]}"; do
  mkdir -p "cmd/$b"
  printf 'package main\n\nimport "github.com/dapr/dapr/cmd/%s/app"\n\nfunc main() { app.Run() }\n' "$b" > "cmd/$b/main.go"
done
echo "build-dapr-control-plane: building ${BINS[*]} $DAPR_VERSION (first time on this machine only; several minutes)" >&2
mkdir -p "$OUT.tmp"
# stablecomponents: daprd registers its components (the Redis state store among them) only with a tag.
if ! CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags stablecomponents \
    -ldflags "-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${DAPR_VERSION#v} -X github.com/dapr/kit/logger.DaprVersion=${DAPR_VERSION#v}" \
    -o "$OUT.tmp/" ./cmd/... >&2; then
  rm -rf "$OUT.tmp"
  echo "build-dapr-control-plane: go build of Dapr $DAPR_VERSION failed (see above; a '403 ... not available' line names a module version the Go module proxy does not serve)" >&2
  exit 1
fi
rm -rf "$OUT"; mv "$OUT.tmp" "$OUT"
echo "$OUT"
