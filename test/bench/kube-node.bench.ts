// P13 (issue "Kubernetes", point 5), on the suite's single-node cluster (test/harness/kube-node.ts):
//   - `wasm-fn deploy REF` (an image already pushed, as a pipeline deploys it) to the first 200
//     through the function's Service, vs the same objects applied directly by this process
//     (`deploy --dry-run -o json`, then server-side apply) to the first 200, interleaved;
//   - hello's pod, created to Ready (crun + WasmEdge, readiness probe on /readyz), vs a native
//     container's pod on the same node and runtime (the pause image, no probe) created to Ready;
//   - the bytes a node pulls for hello's image (manifest, config, layers as stored in the registry)
//     vs the pause image.
// Run by `npm run bench` through test/bench/vitest.kube.config.ts (a vitest file: the cluster's
// harness is TypeScript); writes its rows as JSON to $BENCH_KUBE_OUT. Not part of `npm test`.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cli, ROOT } from "../harness/cli.js";
import { startKubeApi, type KubeApi } from "../harness/kube.js";
import { startKubeNode, type KubeNode } from "../harness/kube-node.js";
import { startRegistry, type RegistryHandle } from "../harness/registry.js";

const ROUNDS = Number(process.env.BENCH_KUBE_ROUNDS ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const log = (s: string) => process.stderr.write(`${s}\n`);

let kube: KubeApi;
let reg: RegistryHandle;
let node: KubeNode;
let ref: string;

beforeAll(async () => {
  [kube, reg] = await Promise.all([startKubeApi(), startRegistry()]);
  node = await startKubeNode(kube, reg.host);
  const rc = await cli(["deploy", "--emit", "runtimeclass", "-o", "json"]);
  expect((await kube.apply(JSON.parse(rc.stdout).items[0])).status).toBeLessThan(300);
  const b = await cli(["build", path.join(ROOT, "examples", "hello")], { timeoutMs: 240_000 });
  expect(b.code, b.stderr).toBe(0);
  const p = await cli(["--json", "push", `${reg.host}/hello:0.1.0`, path.join(ROOT, "examples", "hello"), "--insecure"], { timeoutMs: 120_000 });
  expect(p.code, p.stderr).toBe(0);
  ref = `${reg.host}/hello:0.1.0`;
}, 45 * 60_000);

afterAll(async () => {
  await node?.stop();
  await Promise.all([kube?.stop(), reg?.stop()]);
}, 120_000);

async function firstOk(t0: number): Promise<number> {
  for (;;) {
    const r = await kube.request("GET", "/api/v1/namespaces/default/services/hello:http/proxy/default/hello").catch(() => ({ status: 0 }));
    if (r.status === 200) return performance.now() - t0;
    if (performance.now() - t0 > 180_000) throw new Error(`no 200 through the Service in 180 s (last ${r.status})`);
    await sleep(20);
  }
}

/** Polls the pods of `selector` every 20 ms from now: when one is first seen, and when it is first Ready. */
async function podTimes(selector: string, t0: number): Promise<{ created: number; ready: number }> {
  let created = -1;
  for (;;) {
    const r = await kube.request("GET", `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(selector)}`);
    const p = (r.body.items ?? []).find((x: any) => !x.metadata.deletionTimestamp);
    if (p && created < 0) created = performance.now() - t0;
    if (p?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True")) return { created, ready: performance.now() - t0 };
    if (performance.now() - t0 > 180_000) throw new Error(`no Ready pod for ${selector} in 180 s`);
    await sleep(20);
  }
}

async function deleteAll(): Promise<void> {
  await cli(["delete", "hello", "--kubeconfig", kube.kubeconfig]);
  await kube.request("DELETE", "/api/v1/namespaces/default/pods/native-ref?gracePeriodSeconds=0");
  for (const end = Date.now() + 120_000; Date.now() < end; await sleep(250)) {
    const r = await kube.request("GET", "/api/v1/namespaces/default/pods");
    if ((r.body.items ?? []).length === 0) return;
  }
  throw new Error("pods were not gone in 120 s");
}

/** The bytes of an image in the registry as a node pulls them: its manifest, config and layers. */
async function imageBytes(repo: string, tag: string): Promise<number> {
  const base = `http://${reg.host}/v2/${repo}`;
  const accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json";
  let res = await fetch(`${base}/manifests/${tag}`, { headers: { accept } });
  let text = await res.text();
  let m = JSON.parse(text);
  let total = Buffer.byteLength(text);
  if (m.manifests) {
    const d = m.manifests[0].digest;
    res = await fetch(`${base}/manifests/${d}`, { headers: { accept } });
    text = await res.text();
    m = JSON.parse(text);
    total += Buffer.byteLength(text);
  }
  return total + m.config.size + m.layers.reduce((n: number, l: any) => n + l.size, 0);
}

it("P13: deploy to first 200, pod created to Ready, image bytes", async () => {
  const cliMs: number[] = [];
  const rawMs: number[] = [];
  const wasmReady: number[] = [];
  const nativeReady: number[] = [];
  const dry = await cli(["deploy", ref, "--dry-run", "-o", "json", "--insecure"]);
  expect(dry.code, dry.stderr).toBe(0);
  const objects = JSON.parse(dry.stdout).items as Record<string, any>[];
  // One deploy first, not measured: the node pulls the image once (as a node that ran it before).
  await cli(["deploy", ref, "--kubeconfig", kube.kubeconfig, "--insecure"]);
  await firstOk(performance.now());
  await deleteAll();
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    const times = podTimes("app.kubernetes.io/name=hello", t0);
    const d = await cli(["deploy", ref, "--kubeconfig", kube.kubeconfig, "--insecure"], { timeoutMs: 300_000 });
    expect(d.code, d.stderr).toBe(0);
    cliMs.push(await firstOk(t0));
    const pt = await times;
    wasmReady.push(pt.ready - pt.created);
    await deleteAll();

    t0 = performance.now();
    for (const o of objects) expect((await kube.apply(o)).status).toBeLessThan(300);
    rawMs.push(await firstOk(t0));
    await deleteAll();

    t0 = performance.now();
    const native = podTimes("bench=native-ref", t0);
    expect((await kube.apply({ apiVersion: "v1", kind: "Pod", metadata: { name: "native-ref", namespace: "default", labels: { bench: "native-ref" } },
      spec: { runtimeClassName: "wasmedge", containers: [{ name: "pause", image: `${reg.host}/pause:3.10` }] } })).status).toBeLessThan(300);
    const nt = await native;
    nativeReady.push(nt.ready - nt.created);
    await deleteAll();
    log(`  round ${r + 1}: wasm-fn deploy -> 200 ${Math.round(cliMs.at(-1)!)} ms, apply -> 200 ${Math.round(rawMs.at(-1)!)} ms; pod created -> Ready: hello ${Math.round(wasmReady.at(-1)!)} ms, pause ${Math.round(nativeReady.at(-1)!)} ms`);
  }
  const helloBytes = await imageBytes("hello", "0.1.0");
  const pauseBytes = await imageBytes("pause", "3.10");
  const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const ratio = (a: number[], b: number[]) => `${median(a.map((x, i) => x / b[i]!)).toFixed(2)}x`;
  const rows = [
    { id: "P13", figure: `\`wasm-fn deploy REF\` (image in the registry, pulled before) to the first 200 through its Service, single-node cluster (kubelet v1.37.2, containerd 1.6, crun + WasmEdge), ${ROUNDS} rounds`, value: fmtS(median(cliMs)), reference: `the same objects applied by the harness ${fmtS(median(rawMs))}`, ratio: ratio(cliMs, rawMs), target: "report", met: null },
    { id: "P13", figure: "hello's pod created to Ready (crun + WasmEdge, readiness probe /readyz)", value: fmtS(median(wasmReady)), reference: `a native container's pod (pause, same runtime, no probe) ${fmtS(median(nativeReady))}`, ratio: ratio(wasmReady, nativeReady), target: "report", met: null },
    { id: "P13", figure: "bytes a node pulls for hello's image (manifest + config + layers, compressed)", value: `${(helloBytes / 1024).toFixed(1)} KiB`, reference: `the pause image ${(pauseBytes / 1024).toFixed(1)} KiB`, ratio: `${(helloBytes / pauseBytes).toFixed(2)}x`, target: "report", met: null },
  ];
  log(JSON.stringify(rows, null, 2));
  if (process.env.BENCH_KUBE_OUT) writeFileSync(process.env.BENCH_KUBE_OUT, JSON.stringify(rows));
}, 60 * 60_000);
