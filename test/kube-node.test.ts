// `wasm-fn deploy` on a real single-node Kubernetes: etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and a kubelet (v1.37.2, built from the Go module proxy), containerd 1.6 with its CRI
// plugin, and the WasmEdge kit's crun as the handler of the RuntimeClass `wasmedge`
// (test/harness/kube-node.ts says what these hosts need). The function's pod runs its module in
// WasmEdge, answers through its Service (reached through the API server's proxy on 127.0.0.1),
// scales, reports a crash loop in words, and is deleted. With Dapr's control plane on the cluster
// (test/harness/kube-dapr.ts), counter gets its daprd sidecar injected and keeps count in Redis.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cli, ROOT } from "./harness/cli.js";
import { startKubeApi, type KubeApi } from "./harness/kube.js";
import { startKubeNode, type KubeNode } from "./harness/kube-node.js";
import { hostService, startDaprOnCluster, type DaprOnCluster } from "./harness/kube-dapr.js";
import { startProcess, type Proc } from "./harness/proc.js";
import { startRegistry, type RegistryHandle } from "./harness/registry.js";
import { wasmEdgeKit } from "./harness/wasmedge.js";

const run = promisify(execFile);
let kube: KubeApi;
let reg: RegistryHandle;
let node: KubeNode;
let work: string;
let dapr: DaprOnCluster | undefined;
let redis: Proc | undefined;

beforeAll(async () => {
  [kube, reg] = await Promise.all([startKubeApi(), startRegistry()]);
  node = await startKubeNode(kube, reg.host);
  // What a cluster admin installs once (docs/kubernetes.md).
  const rc = await cli(["deploy", "--emit", "runtimeclass", "-o", "json"]);
  expect(rc.code, rc.stderr).toBe(0);
  const applied = await kube.apply(JSON.parse(rc.stdout).items[0]);
  expect(applied.status).toBeLessThan(300);
  work = mkdtempSync(path.join(os.tmpdir(), "wfn-node-fn-"));
}, 45 * 60_000);

afterAll(async () => {
  await dapr?.stop();
  await redis?.stop();
  await node?.stop();
  await Promise.all([kube?.stop(), reg?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

// A failed case shows what the cluster said, not only what the CLI did.
afterEach((ctx) => {
  if (ctx.task.result?.state !== "fail" || !kube) return;
  const l = node?.logs();
  console.log(`--- kube-apiserver:\n${kube.logs().slice(-3000)}\n--- kubelet:\n${l?.kubelet.slice(-3000)}\n--- containerd:\n${l?.containerd.slice(-1500)}\n--- cluster DNS:\n${l?.dns.slice(-1500)}`);
  for (const [n, text] of Object.entries(dapr?.logs() ?? {})) console.log(`--- dapr ${n}:\n${text.slice(-2500)}`);
});

/** A copy of an example, its wasm-fn.yaml with `extra` appended. */
function fnDir(name: string, src: string, extra = ""): string {
  const dir = path.join(work, name);
  cpSync(path.join(ROOT, src), dir, { recursive: true, filter: (p) => !p.includes(`${path.sep}dist`) });
  if (extra) writeFileSync(path.join(dir, "wasm-fn.yaml"), readFileSync(path.join(dir, "wasm-fn.yaml"), "utf8") + extra);
  return dir;
}

/** GET through the API server's service proxy (the Service's `http` port). */
async function viaService(name: string, p: string): Promise<{ status: number; body: string }> {
  const r = await kube.request("GET", `/api/v1/namespaces/default/services/${name}:http/proxy${p}`);
  return { status: r.status, body: typeof r.body === "string" ? r.body : JSON.stringify(r.body) };
}

async function pods(app: string): Promise<any[]> {
  const r = await kube.request("GET", `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${app}`)}`);
  return r.body.items ?? [];
}

async function status(name: string): Promise<any> {
  const s = await cli(["--json", "status", name, "--kubeconfig", kube.kubeconfig]);
  expect(s.code, s.stderr).toBe(0);
  return JSON.parse(s.stdout);
}

/**
 * Dapr's control plane on the cluster (started once, by the first case that needs it), Redis beside
 * the node published as the Service redis.default, and a Components folder with its state store.
 */
async function ensureDapr(): Promise<string> {
  const comps = path.join(work, "dapr-components");
  if (dapr) return comps;
  dapr = await startDaprOnCluster(kube, node, reg.host);
  const redisIp = await node.addHostAddress(5);
  redis = await startProcess("redis-server", ["--bind", redisIp, "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "no"], { readyLine: "Ready to accept" });
  for (const o of hostService("redis", redisIp, 6379, 6379, "default")) expect((await kube.apply(o)).status).toBeLessThan(300);
  mkdirSync(comps, { recursive: true });
  writeFileSync(path.join(comps, "statestore.yaml"), [
    "apiVersion: dapr.io/v1alpha1", "kind: Component", "metadata:", "  name: statestore", "spec:", "  type: state.redis", "  version: v1", "  metadata:",
    "  - name: redisHost", "    value: redis.default.svc.cluster.local:6379", "",
  ].join("\n"));
  return comps;
}

const CRASHER = `import { Request, Response } from "@wasm-fn/sdk";
const ready = false;
if (!ready) throw new Error("crasher: refusing to start");
export function handle(req: Request): Response {
  return Response.text("never\\n");
}
`;

describe("wasm-fn deploy on a kubelet node", () => {
  it("hello: built, pushed, deployed by digest, Ready, run by crun in WasmEdge, answering through its Service", async () => {
    const dir = fnDir("hello", "examples/hello");
    const t0 = performance.now();
    const d = await cli(["deploy", dir, "--image", `${reg.host}/hello:0.1.0`, "--kubeconfig", kube.kubeconfig, "--timeout", "180s", "--insecure"], { timeoutMs: 600_000 });
    const deployMs = performance.now() - t0;
    expect(d.code, d.stderr + "\n--- kubelet:\n" + node.logs().kubelet.slice(-4000)).toBe(0);
    expect(d.stdout).toMatch(/^deployed default\/hello \(127\.0\.0\.1:\d+\/hello@sha256:[0-9a-f]{64}\): 1 ready$/m);
    expect(d.stdout).toContain("in the cluster: http://hello.default.svc.cluster.local/default/hello");
    // Progress on stderr: build, push, apply, rollout.
    expect(d.stderr).toMatch(/applied Deployment hello/);
    expect(d.stderr).toMatch(/rollout of hello: /);
    const [pod] = await pods("hello");
    expect(pod.status.phase).toBe("Running");
    expect(pod.spec.runtimeClassName).toBe("wasmedge");
    expect(pod.metadata.annotations["module.wasm.image/variant"]).toBe("compat-smart");
    expect(pod.spec.containers[0].image).toMatch(new RegExp(`^${reg.host}/hello@sha256:[0-9a-f]{64}$`));
    // The container is crun's (the kit's, built with WasmEdge), and it runs the module in WasmEdge.
    const id = pod.status.containerStatuses[0].containerID.replace("containerd://", "");
    const info = JSON.parse(await node.ctr("containers", "info", id));
    expect(info.Runtime.Name).toBe("io.containerd.runc.v2");
    // Its runc-shim options (a protobuf Any) name the kit's crun as the binary.
    expect(Buffer.from(info.Runtime.Options.value, "base64").toString("latin1")).toContain(wasmEdgeKit().crun);
    const ps = (await run("ps", ["-eo", "args"])).stdout;
    expect(ps).toMatch(/\[libcrun:wasmedge\] \/hello\.wasm/);
    // The Service reaches the pod once the endpointslice controller has listed it (after the
    // rollout, asynchronously): until then the API server's service proxy answers 503.
    const t1 = performance.now();
    let r = await viaService("hello", "/default/hello?name=kube");
    while (r.status === 503 && performance.now() - t1 < 60_000) {
      await new Promise((res) => setTimeout(res, 250));
      r = await viaService("hello", "/default/hello?name=kube");
    }
    expect(r.status, r.body).toBe(200);
    expect(r.body).toBe("hello, kube\n");
    console.log(`kube node: the Service answered ${((performance.now() - t1) / 1000).toFixed(1)} s after the rollout`);
    const s = await status("hello");
    expect(s).toMatchObject({ name: "hello", ready: 1, replicas: 1 });
    expect(s.pods[0]).toMatchObject({ phase: "Running", ready: true });
    console.log(`kube node: deploy (build, push, apply, rollout) to Ready in ${(deployMs / 1000).toFixed(1)} s`);
  }, 15 * 60_000);

  it("scales from 1 to 3 (scaleOptions.minReplicas, deployed again) while it keeps answering through its Service", async () => {
    const dir = path.join(work, "hello");
    writeFileSync(path.join(dir, "wasm-fn.yaml"), readFileSync(path.join(dir, "wasm-fn.yaml"), "utf8") + "scaleOptions:\n  minReplicas: 3\n  maxReplicas: 3\n");
    // A client that keeps asking through the Service during the rollout (the config is in the image: a new digest).
    let stop = false;
    const answers = new Map<number, number>();
    const client = (async () => {
      while (!stop) {
        const r = await viaService("hello", "/default/hello?name=during");
        answers.set(r.status, (answers.get(r.status) ?? 0) + 1);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    let d;
    try {
      d = await cli(["--json", "deploy", dir, "--image", `${reg.host}/hello:0.1.0`, "--kubeconfig", kube.kubeconfig, "--timeout", "240s", "--insecure"], { timeoutMs: 600_000 });
    } finally {
      stop = true;
      await client;
    }
    console.log(`kube node: scaling 1 -> 3 while serving: ${JSON.stringify(Object.fromEntries(answers))} (status: answers)`);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expect(JSON.parse(d.stdout).ready).toBe(3);
    expect([...answers.keys()]).toEqual([200]);
    expect(answers.get(200)).toBeGreaterThan(10);
    const ps = (await pods("hello")).filter((p) => !p.metadata.deletionTimestamp);
    expect(ps.filter((p) => p.status.phase === "Running")).toHaveLength(3);
    for (const p of ps) {
      const r = await kube.request("GET", `/api/v1/namespaces/default/pods/${p.metadata.name}:8080/proxy/default/hello?name=${p.metadata.name}`);
      expect(r.status).toBe(200);
      expect(r.body).toBe(`hello, ${p.metadata.name}\n`);
    }
    expect(await status("hello")).toMatchObject({ ready: 3, replicas: 3 });
  }, 15 * 60_000);

  it("counter with Dapr on the cluster: the injector adds daprd (mTLS through sentry, its Component from the operator), 100 concurrent increments give 100", async () => {
    const comps = await ensureDapr();
    fnDir("counter", "examples/counter");
    const t0 = performance.now();
    const d = await cli(["--json", "deploy", path.join(work, "counter"), "--image", `${reg.host}/counter:0.1.0`, "--resources-path", comps, "--kubeconfig", kube.kubeconfig, "--timeout", "300s", "--insecure"], { timeoutMs: 900_000 });
    if (d.code !== 0) {
      // What the sidecar said (its previous run when it restarts), for the failure message.
      for (const p of await pods("counter")) {
        for (const previous of [true, false]) {
          const l = await kube.request("GET", `/api/v1/namespaces/default/pods/${p.metadata.name}/log?container=daprd&tailLines=40${previous ? "&previous=true" : ""}`);
          console.log(`--- daprd in ${p.metadata.name}${previous ? " (previous run)" : ""}:\n${typeof l.body === "string" ? l.body : JSON.stringify(l.body)}`);
        }
      }
    }
    expect(d.code, d.stdout + d.stderr).toBe(0);
    console.log(`kube node: counter with a Dapr sidecar deployed to Ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const [pod] = await pods("counter");
    // The injector's work: a daprd container from the sidecar image beside the function, pointed at
    // the control plane's Services, with the sentry token volume.
    const names = pod.spec.containers.map((c: any) => c.name);
    expect(names).toEqual(expect.arrayContaining(["function", "daprd"]));
    const sidecar = pod.spec.containers.find((c: any) => c.name === "daprd");
    expect(sidecar.image).toBe(dapr.sidecarImage);
    expect(sidecar.args.join(" ")).toMatch(/--sentry-address dapr-sentry\.dapr-system\.svc\.cluster\.local:443/);
    expect(sidecar.args.join(" ")).toMatch(/--control-plane-address dapr-api\.dapr-system\.svc\.cluster\.local:443/);
    expect(sidecar.volumeMounts.map((v: any) => v.name)).toContain("dapr-identity-token");
    expect(pod.status.containerStatuses.every((c: any) => c.ready)).toBe(true);
    // daprd in Kubernetes mode (its identity from sentry: without a certificate it would not start),
    // its Component from the operator (the pod has no component files).
    const sidecarLog = (await kube.request("GET", `/api/v1/namespaces/default/pods/${pod.metadata.name}/log?container=daprd`)).body as string;
    expect(sidecarLog).toContain("Running in Kubernetes environment as user 65532:65532");
    expect(sidecarLog).toMatch(/Component loaded: statestore \(state\.redis\/v1\)/);
    // 100 concurrent increments through the Service: ETag conflicts retried by the function, none lost.
    const post = () => kube.request("POST", "/api/v1/namespaces/default/services/counter:http/proxy/default/counter?key=kube");
    const t1 = performance.now();
    let first = await post();
    while (first.status === 503 && performance.now() - t1 < 60_000) { await new Promise((r) => setTimeout(r, 250)); first = await post(); }
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const answers = await Promise.all(Array.from({ length: 99 }, () => post()));
    expect(answers.map((a) => a.status).filter((st) => st !== 200), JSON.stringify(answers.find((a) => a.status !== 200)?.body)).toEqual([]);
    const got = await kube.request("GET", "/api/v1/namespaces/default/services/counter:http/proxy/default/counter?key=kube");
    expect(String(got.body)).toBe("100");
    // In Redis, through Dapr's state store (a hash per key, prefixed with the app id).
    const { stdout } = await run("redis-cli", ["-h", "10.88.0.5", "-p", "6379", "HGET", "counter||kube", "data"]);
    expect(stdout.trim()).toBe("100");
  }, 20 * 60_000);

  it("a sidecar that cannot start (its Dapr Configuration does not exist): deploy fails, status names daprd's crash loop and its last words", async () => {
    await ensureDapr();
    const dir = fnDir("nocfg", "examples/counter");
    writeFileSync(path.join(dir, "wasm-fn.yaml"), readFileSync(path.join(dir, "wasm-fn.yaml"), "utf8").replace(/^name: counter$/m, "name: nocfg"));
    const d = await cli(["--json", "deploy", dir, "--image", `${reg.host}/nocfg:0.1.0`, "--dapr-config", "no-such-config", "--kubeconfig", kube.kubeconfig, "--timeout", "60s", "--insecure"], { timeoutMs: 600_000 });
    expect(d.code).not.toBe(0);
    const err = JSON.parse(d.stdout.trim().split("\n").pop()!).error;
    console.log(`kube node: nocfg's deploy: ${err.code}: ${err.message}`);
    expect(err.code).toBe("WFN_KUBE_ROLLOUT");
    const s = await cli(["status", "nocfg", "--kubeconfig", kube.kubeconfig]);
    console.log(`kube node: wasm-fn status nocfg:\n${s.stdout}`);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/pod nocfg-\S+: Running - \(container daprd\): CrashLoopBackOff/);
    // daprd's own last words (its previous run's log: the injector asks for no termination message):
    // sentry would not sign its certificate, because the Configuration it names is not there.
    expect(s.stdout).toMatch(/\(last exit 1 Error: Fatal error from runtime: failed to retrieve the initial identity: error from sentry SignCertificate: .*failed to get configuration/);
    const del = await cli(["--json", "delete", "nocfg", "--kubeconfig", kube.kubeconfig]);
    expect(del.code, del.stdout + del.stderr).toBe(0);
  }, 15 * 60_000);

  it("a function that exits at start: deploy fails with the reason, status names the crash loop and the last error", async () => {
    // Its module aborts when it starts (a top-level statement): WasmEdge exits, the kubelet restarts it.
    const dir = fnDir("crasher", "examples/hello");
    writeFileSync(path.join(dir, "wasm-fn.yaml"), readFileSync(path.join(dir, "wasm-fn.yaml"), "utf8").replace(/^name: hello$/m, "name: crasher").replace('paths: ["/hello"]', 'paths: ["/crasher"]'));
    writeFileSync(path.join(dir, "assembly", "index.ts"), CRASHER);
    const d = await cli(["--json", "deploy", dir, "--image", `${reg.host}/crasher:0.1.0`, "--kubeconfig", kube.kubeconfig, "--timeout", "60s", "--insecure"], { timeoutMs: 600_000 });
    expect(d.code).not.toBe(0);
    const err = JSON.parse(d.stdout.trim().split("\n").pop()!).error;
    console.log(`kube node: crasher's deploy: ${err.code}: ${err.message}`);
    expect(err.code).toBe("WFN_KUBE_ROLLOUT");
    expect(err.message).toMatch(/default\/crasher did not become ready in 60 s/);
    const s = await cli(["status", "crasher", "--kubeconfig", kube.kubeconfig]);
    console.log(`kube node: wasm-fn status crasher:\n${s.stdout}`);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/^default\/crasher: 0\/1 ready/m);
    // In words: the pod's restarts, the crash loop, and the function's own last words (its log, kept by the kubelet).
    expect(s.stdout).toMatch(/pod crasher-\S+: \w+, \d+ restarts - CrashLoopBackOff/);
    expect(s.stdout).toMatch(/last exit \d+/);
    expect(s.stdout).toMatch(/\(last exit \d+ Error: the function exited \(proc_exit\(255\)\) while starting, before serving any request: abort: crasher: refusing to start/);
    expect(s.stdout).not.toContain('"level"'); // its log's words, not its JSON
  }, 15 * 60_000);

  it("delete removes what deploy made, and the pods go; the other functions are untouched until they are deleted too", async () => {
    const managed = async () => {
      const q = `labelSelector=${encodeURIComponent("app.kubernetes.io/managed-by=wasm-fn")}`;
      const [ds, ss, ps] = await Promise.all([
        kube.request("GET", `/apis/apps/v1/namespaces/default/deployments?${q}`),
        kube.request("GET", `/api/v1/namespaces/default/services?${q}`),
        kube.request("GET", `/api/v1/namespaces/default/pods`),
      ]);
      return { deployments: ds.body.items.map((o: any) => o.metadata.name), services: ss.body.items.map((o: any) => o.metadata.name), pods: ps.body.items.map((o: any) => o.metadata.name) };
    };
    const gone = async (fn: string) => {
      const deadline = Date.now() + 120_000;
      while ((await pods(fn)).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      return (await pods(fn)).length === 0;
    };
    const del = await cli(["--json", "delete", "crasher", "--kubeconfig", kube.kubeconfig]);
    expect(del.code, del.stdout + del.stderr).toBe(0);
    expect((await kube.request("GET", "/apis/apps/v1/namespaces/default/deployments/crasher")).status).toBe(404);
    expect((await kube.request("GET", "/api/v1/namespaces/default/services/crasher")).status).toBe(404);
    expect(await gone("crasher")).toBe(true);
    // hello is untouched.
    expect((await viaService("hello", "/default/hello")).body).toBe("hello, world\n");
    const del2 = await cli(["--json", "delete", "hello", "--kubeconfig", kube.kubeconfig]);
    expect(del2.code, del2.stdout + del2.stderr).toBe(0);
    expect(await gone("hello")).toBe(true);
    // counter goes with its Dapr Component (and its daprd sidecar with its pod).
    const del3 = await cli(["--json", "delete", "counter", "--kubeconfig", kube.kubeconfig]);
    expect(del3.code, del3.stdout + del3.stderr).toBe(0);
    expect(JSON.parse(del3.stdout).deleted).toEqual(expect.arrayContaining(["Deployment/counter", "Service/counter", "Component/statestore"]));
    expect((await kube.request("GET", "/apis/dapr.io/v1alpha1/namespaces/default/components/statestore")).status).toBe(404);
    expect(await gone("counter")).toBe(true);
    // Nothing of either is left: no Deployment, Service or pod (the node's containers with them).
    expect(await managed()).toEqual({ deployments: [], services: [], pods: [] });
    const left = (await node.ctr("containers", "ls", "-q")).split("\n").filter(Boolean);
    const deadline = Date.now() + 60_000;
    let containers = left;
    while (containers.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      containers = (await node.ctr("containers", "ls", "-q")).split("\n").filter(Boolean);
    }
    expect(containers).toEqual([]);
  }, 5 * 60_000);
});
