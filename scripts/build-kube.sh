#!/usr/bin/env bash
# Builds the parts of a single-node Kubernetes from the Go module proxy at pinned releases and caches
# each binary outside the repo (like scripts/build-daprd.sh).
# Usage: scripts/build-kube.sh crds etcd kube-apiserver [kubelet kube-controller-manager kube-scheduler]
#        -> prints the cache folder that holds the binaries (CRDs go to $CACHE/kube-crds; progress on stderr)
# Env: KUBE_VERSION (v1.37.2), ETCD_VERSION (v3.6.13), WASM_FN_CACHE (default ~/.cache/wasm-fn).
# How: k8s.io/kubernetes is not meant to be a dependency (its go.mod requires k8s.io/api etc. at
# v0.0.0 and replaces them with ./staging/...), so `go install k8s.io/kubernetes/cmd/...@v` is refused.
# A wrapper module repeats its go.mod under another name with each ./staging/src/k8s.io/X replaced by
# the published module k8s.io/X at the matching v0.N.M, requires k8s.io/kubernetes, and copies the
# component's main package (cmd/<name>/*.go) out of the module cache. etcd: a wrapper that calls
# etcdmain.Main from go.etcd.io/etcd/server/v3. Build times here (2 cores, empty Go caches):
# kube-apiserver ~5.5 min, kubelet ~1.5 min, kube-controller-manager ~40 s, kube-scheduler ~12 s, etcd ~30 s.
set -euo pipefail
KUBE_VERSION="${KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.13}"
CACHE="${WASM_FN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasm-fn}"
OUT="$CACHE/kube-$KUBE_VERSION"
[ $# -gt 0 ] || set -- crds etcd kube-apiserver
command -v go >/dev/null || { echo "build-kube: Go >= 1.26 is needed to build Kubernetes $KUBE_VERSION (install Go, then rerun)" >&2; exit 1; }
mkdir -p "$OUT"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
staging="v0.${KUBE_VERSION#v1.}"

download_mod() { # module@version -> path of its go.mod in the module cache
  GOFLAGS=-mod=mod go mod download -json "$1" 2>&1 | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' || true
}

build_etcd() {
  local bin="$OUT/etcd-$ETCD_VERSION"
  [ -x "$bin" ] && return 0
  mkdir -p "$work/etcd" && cd "$work/etcd"
  printf 'module wasmfn.local/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" > go.mod
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  echo "build-kube: building etcd $ETCD_VERSION (first time on this machine only; ~30 s)" >&2
  if ! GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$bin.tmp" . >&2; then
    rm -f "$bin.tmp"; echo "build-kube: go build of etcd $ETCD_VERSION failed (see above)" >&2; exit 1
  fi
  mv "$bin.tmp" "$bin"
}

kube_wrapper() {
  [ -f "$work/kube/go.mod" ] && return 0
  local modfile; modfile="$(download_mod "k8s.io/kubernetes@$KUBE_VERSION")"
  [ -n "$modfile" ] && [ -f "$modfile" ] || { echo "build-kube: could not download k8s.io/kubernetes@$KUBE_VERSION from the Go module proxy (is that version served?)" >&2; exit 1; }
  mkdir -p "$work/kube"
  sed -e 's#^module k8s.io/kubernetes$#module wasmfn.local/kube#' \
      -e "s#^\(\s*\)\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*#\1\2 => \2 $staging#" "$modfile" > "$work/kube/go.mod"
  printf '\nrequire k8s.io/kubernetes %s\n' "$KUBE_VERSION" >> "$work/kube/go.mod"
}

build_kube() { # component name, e.g. kube-apiserver
  local name="$1" bin="$OUT/$1"
  [ -x "$bin" ] && return 0
  kube_wrapper
  cd "$work/kube"
  local src; src="$(go env GOMODCACHE)/k8s.io/kubernetes@$KUBE_VERSION/cmd/$name"
  [ -d "$src" ] || { echo "build-kube: k8s.io/kubernetes@$KUBE_VERSION has no cmd/$name" >&2; exit 1; }
  mkdir -p "cmd/$name"
  for f in "$src"/*.go; do case "$f" in *_test.go) ;; *) cp "$f" "cmd/$name/" && chmod u+w "cmd/$name/$(basename "$f")";; esac; done
  echo "build-kube: building $name $KUBE_VERSION (first time on this machine only; kube-apiserver takes ~5.5 min on 2 cores)" >&2
  if ! GOFLAGS=-mod=mod go build -trimpath \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
      -o "$bin.tmp" "./cmd/$name" >&2; then
    rm -f "$bin.tmp"; echo "build-kube: go build of $name $KUBE_VERSION failed (see above)" >&2; exit 1
  fi
  mv "$bin.tmp" "$bin"
}

# The CRDs of what `wasm-fn deploy` emits beside built-in kinds, from the projects' own Go modules
# (module zips carry the whole repository): Dapr's Component, KEDA's ScaledObject (v2.18.0: later
# releases need a newer Go than 1.26), Gateway API's HTTPRoute. OpenFunction's Function CRD is in
# packages/deploy/schemas/openfunction.
fetch_crds() {
  local dir="$CACHE/kube-crds"
  [ -f "$dir/.done" ] && return 0
  mkdir -p "$dir"
  local d
  d="$(GOFLAGS=-mod=mod go mod download -json "github.com/dapr/dapr@${DAPR_VERSION:-v1.16.5}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
  cp "$d/charts/dapr/crds/components.yaml" "$dir/dapr-components.yaml"
  d="$(GOFLAGS=-mod=mod go mod download -json "github.com/kedacore/keda/v2@${KEDA_VERSION:-v2.18.0}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
  cp "$d/config/crd/bases/keda.sh_scaledobjects.yaml" "$dir/keda-scaledobjects.yaml"
  d="$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION:-v1.6.3}" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')"
  cp "$d/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" "$dir/gateway-httproutes.yaml"
  chmod u+w "$dir"/*.yaml
  touch "$dir/.done"
}

for c in "$@"; do
  case "$c" in
    crds) fetch_crds ;;
    etcd) build_etcd ;;
    kube-apiserver|kubelet|kube-controller-manager|kube-scheduler|kube-proxy) build_kube "$c" ;;
    *) echo "build-kube: unknown component '$c' (crds, etcd, kube-apiserver, kubelet, kube-controller-manager, kube-scheduler)" >&2; exit 1 ;;
  esac
done
echo "$OUT"
