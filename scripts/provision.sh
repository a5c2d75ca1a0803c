#!/usr/bin/env bash
# Installs the real parts the test suite starts (each on a free loopback port, stopped by PID):
# Redis, Mosquitto, Prometheus Pushgateway, a registry (distribution), skopeo, umoci, containerd,
# clang + wasi-libc for the C example, wrk for benchmarks, the CNI plugins and gcc (a kubelet node's pod
# network and pause image); installs WasmEdge + a WasmEdge-enabled crun (scripts/install-wasmedge.sh);
# then builds daprd, etcd, kube-apiserver, the kubelet, kube-controller-manager and kube-scheduler
# (cached; the first time kube-apiserver takes ~5.5 min on 2 cores, the other three ~2.5 min);
# wasmtime-cli from crates.io (cached; ~11 min the first time), Rust's wasm32-wasip2 target and the
# crates of the Rust component fixture (the tests build it with cargo --offline).
set -euo pipefail
# rustup installs cargo here; a non-login shell may not have it on PATH.
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
need=(redis-server mosquitto mosquitto-clients prometheus-pushgateway docker-registry skopeo umoci containerd
      clang lld wasi-libc libclang-rt-dev-wasm32 wrk apache2-utils openssl
      patchelf libyajl2 libseccomp2 libcap2 libsystemd0
      containernetworking-plugins iproute2 gcc libc6-dev util-linux)
missing=()
for p in "${need[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "provision: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts some of these as system services; the tests start their own on free ports.
for s in redis-server mosquitto prometheus-pushgateway docker-registry containerd; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$s" >/dev/null 2>&1 || true; fi
done
bash "$(dirname "$0")/install-wasmedge.sh" >/dev/null
bash "$(dirname "$0")/build-daprd.sh" >/dev/null
bash "$(dirname "$0")/build-dapr-control-plane.sh" >/dev/null
bash "$(dirname "$0")/build-kube.sh" crds etcd kube-apiserver kubelet kube-controller-manager kube-scheduler >/dev/null
bash "$(dirname "$0")/build-wasmtime.sh" >/dev/null
command -v rustup >/dev/null || { echo "provision: rustup (Rust) is needed for the Rust component test: install it from https://rustup.rs, then rerun" >&2; exit 1; }
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2 >&2
cargo fetch --locked --manifest-path "$(dirname "$0")/../test/fixtures/rust-http/Cargo.toml" >/dev/null 2>&1 \
  || cargo fetch --locked --manifest-path "$(dirname "$0")/../test/fixtures/rust-http/Cargo.toml"
