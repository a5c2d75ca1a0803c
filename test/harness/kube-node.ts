/**
 * A real Kubernetes node beside startKubeApi()'s control plane: kube-controller-manager and
 * kube-scheduler (no leader election, no serving port), a kubelet, and containerd 1.6 with its CRI
 * plugin whose `crun` runtime is the WasmEdge kit's crun (pod annotations `module.wasm.image/*`
 * passed to it). Everything runs as root on this machine, in temp folders, stopped by PID.
 *
 * What these hosts need (each found by running it here; docs/kubernetes.md):
 * - crun refuses the hybrid cgroup layout while /sys/fs/cgroup/unified is visible: containerd, and the
 *   kubelet (entered into containerd's mount namespace with nsenter), run without that mount;
 * - the kubelet's protectKernelDefaults wants vm.overcommit_memory=1, kernel.panic=10,
 *   kernel.panic_on_oops=1: files with those values are bind-mounted over /proc/sys in that private
 *   namespace (the host's settings are not touched);
 * - root here has no CAP_SYS_RESOURCE: containerd's CRI `restrict_oom_score_adj`;
 * - cgroup v1 needs the kubelet's `failCgroupV1: false`;
 * - no image can be pulled from the Internet: the pause image is built from Kubernetes' own
 *   build/pause/linux/pause.c (gcc -static), packed with umoci, cached, and pushed to the test's
 *   registry, which containerd reaches over plain HTTP (a hosts.toml).
 * Pods get addresses on a bridge (`wfn0`, 10.88.0.0/16, no masquerade: nothing leaves the machine);
 * tests reach them only through the API server on 127.0.0.1 (its pod and service proxy).
 *
 * @example
 *   const kube = await startKubeApi(); const reg = await startRegistry();
 *   const node = await startKubeNode(kube, reg.host); ... await node.stop();
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { kubeBinaries, type KubeApi } from "./kube.js";
import { CLUSTER_DOMAIN, startClusterDns, type ClusterDns } from "./kube-dns.js";
import { freePort, requireBinary, startProcess, type Proc } from "./proc.js";
import { wasmEdgeKit } from "./wasmedge.js";

const run = promisify(execFile);
const sh = (cmd: string, timeout = 120_000) => run("bash", ["-c", cmd], { maxBuffer: 1 << 24, timeout });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const KUBE_VERSION = "v1.37.2";
/** The node's name (the kubelet's --hostname-override) and the address the API server reaches it at. */
export const NODE_NAME = "127.0.0.1";
const PAUSE_TAG = "3.10";
const BRIDGE = "wfn0";
/** The host's address on the pods' bridge: the gateway, and where the cluster DNS answers. */
export const BRIDGE_HOST = "10.88.0.1";
/** Pods get addresses from 10.88.1.1 on; 10.88.0.2-254 are left for host processes that pods reach (addHostAddress). */
const POD_RANGE_START = "10.88.1.1";

export interface KubeNode {
  /** containerd's socket (for `ctr --address ... -n k8s.io`). */
  ctrAddress: string;
  /** `ctr` in containerd's k8s.io namespace. */
  ctr(...args: string[]): Promise<string>;
  logs(): { kubelet: string; containerd: string; controllers: string; scheduler: string; dns: string };
  /** Adds 10.88.0.N/32 to the host's side of the bridge, for a host process that pods reach at its own address. */
  addHostAddress(n: number): Promise<string>;
  stop(): Promise<void>;
}


/** wasm-fn's cache folder (WASM_FN_CACHE, default ~/.cache/wasm-fn), where built binaries and images are kept. */
export function cacheDir(): string {
  return process.env.WASM_FN_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "wasm-fn");
}

/** The Go module cache (where the build scripts' downloaded modules, and their sources, are). */
export async function goModCache(): Promise<string> {
  return (await run("go", ["env", "GOMODCACHE"]).catch(() => ({ stdout: path.join(os.homedir(), "go", "pkg", "mod") }))).stdout.trim();
}

/** An OCI layout holding pause:3.10, built once from Kubernetes' pause.c and cached. */
async function pauseLayout(): Promise<string> {
  const out = path.join(cacheDir(), `kube-pause-${KUBE_VERSION}`);
  if (existsSync(path.join(out, "index.json"))) return out;
  const src = path.join(await goModCache(), "k8s.io", `kubernetes@${KUBE_VERSION}`, "build", "pause", "linux", "pause.c");
  if (!existsSync(src)) throw new Error(`${src} is missing: run \`bash scripts/provision.sh\` (scripts/build-kube.sh fetches k8s.io/kubernetes ${KUBE_VERSION} into the Go module cache)`);
  requireBinary("umoci");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "wfn-pause-"));
  try {
    await sh(`cd '${tmp}' && gcc -static -O2 -o pause '${src}' && umoci init --layout oci && umoci new --image oci:${PAUSE_TAG} && umoci insert --image oci:${PAUSE_TAG} pause /pause && umoci config --image oci:${PAUSE_TAG} --config.entrypoint /pause`);
    rmSync(out, { recursive: true, force: true });
    await sh(`mv '${tmp}/oci' '${out}'`);
  } catch (e) {
    throw new Error(`building the pause image failed (needs gcc and libc6-dev: run \`bash scripts/provision.sh\`): ${(e as Error).message}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

function containerdConfig(dir: string, registry: string, crun: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/c.sock"
[ttrpc]
  address = "${dir}/c.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${registry}/pause:${PAUSE_TAG}"
  tolerate_missing_hugetlb_controller = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["module.wasm.image/*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
        BinaryName = "${crun}"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "${dir}/certs.d"
`;
}

/**
 * Starts the node's parts and waits until the Node object is Ready (the kubelet registers itself).
 * `registry` is host:port of a plain-HTTP registry on loopback that images (and the pause image,
 * pushed here) come from.
 */
export async function startKubeNode(kube: KubeApi, registry: string, opts: { readyTimeoutMs?: number } = {}): Promise<KubeNode> {
  if (process.getuid?.() !== 0) throw new Error("a kubelet node needs root: run this suite as root (CI does; see scripts/provision.sh)");
  requireBinary("containerd");
  requireBinary("ctr");
  requireBinary("skopeo");
  if (!existsSync("/usr/lib/cni/bridge")) throw new Error("the CNI plugins are missing (/usr/lib/cni/bridge): run `bash scripts/provision.sh` (Debian package containernetworking-plugins)");
  const bins = await kubeBinaries(["kubelet", "kube-controller-manager", "kube-scheduler"]);
  const crun = wasmEdgeKit().crun;
  const layout = await pauseLayout();
  await run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout}:${PAUSE_TAG}`, `docker://${registry}/pause:${PAUSE_TAG}`], { timeout: 120_000 });
  // Unix socket paths are limited to ~108 bytes: keep the folder short.
  const dir = mkdtempSync("/tmp/wfn-node-");
  mkdirSync(path.join(dir, "net.d"), { recursive: true });
  mkdirSync(path.join(dir, "certs.d", registry), { recursive: true });
  writeFileSync(path.join(dir, "certs.d", registry, "hosts.toml"), `server = "http://${registry}"\n[host."http://${registry}"]\n  capabilities = ["pull", "resolve"]\n`);
  writeFileSync(path.join(dir, "net.d", "10-wfn.conflist"), JSON.stringify({
    cniVersion: "1.0.0", name: "wfn",
    plugins: [
      { type: "bridge", bridge: BRIDGE, isGateway: true, ipMasq: false, ipam: { type: "host-local", ranges: [[{ subnet: "10.88.0.0/16", rangeStart: POD_RANGE_START, gateway: BRIDGE_HOST }]], routes: [{ dst: "10.88.0.0/16" }], dataDir: `${dir}/cni-ipam` } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  }));
  writeFileSync(path.join(dir, "config.toml"), containerdConfig(dir, registry, crun));
  writeFileSync(path.join(dir, "overcommit_memory"), "1\n");
  writeFileSync(path.join(dir, "panic"), "10\n");
  writeFileSync(path.join(dir, "panic_on_oops"), "1\n");
  const ctrAddress = path.join(dir, "c.sock");
  const ctr = async (...args: string[]) => (await run("ctr", ["--address", ctrAddress, "-n", "k8s.io", ...args], { timeout: 60_000, maxBuffer: 1 << 24 })).stdout;
  const started: Proc[] = [];
  let dns: ClusterDns | undefined;
  const stop = async () => {
    await dns?.stop().catch(() => undefined);
    for (const p of started.reverse()) {
      if (p === ctd) {
        // Pod tasks are not containerd's children: kill them first, or they outlive it.
        const ids = (await ctr("task", "ls", "-q").catch(() => "")).split("\n").map((l) => l.trim()).filter(Boolean);
        for (const id of ids) await ctr("task", "kill", "-s", "SIGKILL", id).catch(() => undefined);
        await sleep(ids.length ? 300 : 0);
      }
      await p.stop().catch(() => undefined);
    }
    await sh(`ip link del ${BRIDGE} 2>/dev/null || true`).catch(() => undefined);
    // The kubelet's pod folders may hold mounts in its (now gone) namespace only: plain removal.
    rmSync(dir, { recursive: true, force: true });
  };
  let ctd: Proc | undefined;
  try {
    // The bridge exists before the first pod (the CNI plugin takes it as it is), so the cluster DNS
    // can listen on its host address from the start.
    await sh(`ip link del ${BRIDGE} 2>/dev/null; ip link add ${BRIDGE} type bridge && ip addr add ${BRIDGE_HOST}/16 dev ${BRIDGE} && ip link set ${BRIDGE} up`);
    dns = await startClusterDns(kube, BRIDGE_HOST);
    const ns = [
      "mount --make-rprivate /",
      "(umount /sys/fs/cgroup/unified 2>/dev/null || true)",
      ...["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops"].map((k) => `mount --bind '${dir}/${path.basename(k)}' /proc/sys/${k}`),
    ].join(" && ");
    ctd = await startProcess("unshare", ["-m", "sh", "-c", `${ns} && exec containerd --config '${dir}/config.toml'`], { readyLine: "containerd successfully booted", timeoutMs: 60_000 });
    started.push(ctd);
    const kubeletPort = await freePort();
    writeFileSync(path.join(dir, "kubelet.yaml"), JSON.stringify({
      apiVersion: "kubelet.config.k8s.io/v1beta1", kind: "KubeletConfiguration",
      failCgroupV1: false, cgroupDriver: "cgroupfs", failSwapOn: false, containerRuntimeEndpoint: `unix://${ctrAddress}`,
      address: "127.0.0.1", port: kubeletPort, readOnlyPort: 0, healthzPort: 0, protectKernelDefaults: true,
      authentication: { anonymous: { enabled: true }, webhook: { enabled: false } }, authorization: { mode: "AlwaysAllow" },
      evictionHard: { "memory.available": "0%", "nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%", "imagefs.inodesFree": "0%" },
      imageGCHighThresholdPercent: 100, imageGCLowThresholdPercent: 99,
      podLogsDir: path.join(dir, "pod-logs"), volumePluginDir: path.join(dir, "volume-plugins"), resolvConf: "",
      clusterDNS: [BRIDGE_HOST], clusterDomain: CLUSTER_DOMAIN,
    }));
    started.push(await startProcess(path.join(bins, "kube-controller-manager"), [
      `--kubeconfig=${kube.kubeconfig}`, "--leader-elect=false", "--secure-port=0",
      "--controllers=serviceaccount,root-ca-cert-publisher,deployment,replicaset,garbagecollector,namespace,nodelifecycle,endpointslice",
    ], { readyLine: /./, timeoutMs: 30_000 }));
    started.push(await startProcess(path.join(bins, "kube-scheduler"), [`--kubeconfig=${kube.kubeconfig}`, "--leader-elect=false", "--secure-port=0"], { readyLine: /./, timeoutMs: 30_000 }));
    started.push(await startProcess("nsenter", ["-t", String(ctd.pid), "-m", "--", path.join(bins, "kubelet"),
      `--config=${dir}/kubelet.yaml`, `--kubeconfig=${kube.kubeconfig}`, `--root-dir=${dir}/kubelet`, `--hostname-override=${NODE_NAME}`, "-v=1",
    ], { readyLine: /./, timeoutMs: 30_000 }));
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 180_000);
    for (;;) {
      const n = await kube.request("GET", `/api/v1/nodes/${NODE_NAME}`);
      const conditions: { type: string; status: string; message?: string }[] = n.body?.status?.conditions ?? [];
      if (conditions.some((c) => c.type === "Ready" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`the node was not Ready in time: ${JSON.stringify(conditions)}\n--- kubelet:\n${started[3]?.logs().slice(-6000)}`);
      await sleep(500);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const [, cm, sched, kubelet] = started;
  return {
    ctrAddress, ctr, stop,
    logs: () => ({ kubelet: kubelet!.logs(), containerd: ctd!.logs(), controllers: cm!.logs(), scheduler: sched!.logs(), dns: dns!.log().join("\n") }),
    addHostAddress: async (n: number) => {
      const ip = `10.88.0.${n}`;
      await sh(`ip addr add ${ip}/32 dev ${BRIDGE} 2>/dev/null || ip addr show dev ${BRIDGE} | grep -q ' ${ip}/32'`);
      return ip;
    },
  };
}
