// `wasm-fn deploy`, `status` and `delete` against a real kube-apiserver (etcd + kube-apiserver built
// from the Go module proxy, RBAC on, the CRDs of OpenFunction, Dapr, KEDA and Gateway API installed)
// and a real registry: every object `deploy --dry-run` emits passes the API server's strict
// server-side validation; a deploy applies them server-side (field manager wasm-fn) with the image by
// digest; status speaks in words; delete leaves nothing; bad input gets a sentence, never a stack.
// No kubelet runs here: pods are not scheduled (test/kube-node.test.ts runs them on a node).
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ROOT, type CliResult } from "./harness/cli.js";
import { startKubeApi, type KubeApi } from "./harness/kube.js";
import { startRegistry, type RegistryHandle } from "./harness/registry.js";

let kube: KubeApi;
let reg: RegistryHandle;
let work: string;
const dirs: Record<string, string> = {};
const refs: Record<string, string> = {};
const digests: Record<string, string> = {};

const noStack = (r: CliResult) => expect(r.stderr + r.stdout).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
const errorOf = (r: CliResult) => JSON.parse(r.stdout.trim().split("\n").pop()!) as { error: { code: string; message: string } };

beforeAll(async () => {
  [kube, reg] = await Promise.all([startKubeApi(), startRegistry()]);
  work = mkdtempSync(path.join(os.tmpdir(), "wfn-deploy-"));
  for (const [name, src] of [["hello", "examples/hello"], ["counter", "examples/counter"], ["consumer", "examples/order-pipeline/consumer"]] as const) {
    dirs[name] = path.join(work, name);
    cpSync(path.join(ROOT, src), dirs[name]!, { recursive: true, filter: (p) => !p.includes(`${path.sep}dist`) });
  }
  // Components as a cluster would have them (Redis by its Service name).
  const comps = path.join(work, "components");
  cpSync(path.join(ROOT, "examples", "order-pipeline", "components"), comps, { recursive: true });
  writeFileSync(path.join(comps, "pubsub.yaml"), JSON.stringify({ apiVersion: "dapr.io/v1alpha1", kind: "Component", metadata: { name: "pubsub" }, spec: { type: "pubsub.redis", version: "v1", metadata: [{ name: "redisHost", value: "redis.default.svc.cluster.local:6379" }] } }));
  // Build and push each once; the dry-run cases deploy the references (no build on each).
  for (const name of ["hello", "counter", "consumer"]) {
    const b = await cli(["build", dirs[name]!], { timeoutMs: 240_000 });
    expect(b.code, b.stderr).toBe(0);
    const tag = name === "consumer" ? "order-consumer" : name;
    refs[name] = `${reg.host}/${tag}:0.1.0`;
    const p = await cli(["--json", "push", refs[name]!, dirs[name]!, "--insecure"]);
    expect(p.code, p.stderr).toBe(0);
    digests[name] = (JSON.parse(p.stdout) as { digest: string }).digest;
  }
}, 40 * 60_000);

afterAll(async () => {
  await Promise.all([kube?.stop(), reg?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** `wasm-fn deploy ... --dry-run -o json`: the objects it would apply. */
async function dryRun(args: string[]): Promise<Record<string, any>[]> {
  const r = await cli(["deploy", ...args, "--dry-run", "-o", "json", "--insecure"], { timeoutMs: 240_000 });
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { items: Record<string, any>[] }).items;
}

/** Every object passes server-side apply with dryRun=All and fieldValidation=Strict, as admin. */
async function validates(objects: Record<string, any>[]): Promise<void> {
  for (const o of objects) {
    const r = await kube.apply(o, { dryRun: true });
    expect(r.status, `${o.kind} ${o.metadata.name}: ${JSON.stringify(r.body).slice(0, 600)}`).toBeLessThan(300);
  }
}

const kinds = (objs: Record<string, any>[]) => objs.map((o) => o.kind);

describe("wasm-fn deploy --dry-run: the API server accepts every object (strict field validation)", () => {
  it("a strict dry run refuses what is wrong, so the accepted cases mean something", async () => {
    const [dep] = await dryRun([refs.hello!]);
    const bad = structuredClone(dep!);
    bad.spec.template.spec.containers[0].imagePulPolicy = "Always"; // a typo of imagePullPolicy
    const r = await kube.apply(bad, { dryRun: true });
    // Server-side apply answers a field outside the schema with 500 "failed to create typed patch object".
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.body.message).toMatch(/imagePulPolicy: field not declared in schema/);
    // The same for a custom resource: OpenFunction's CRD schema is enforced.
    const [fn] = (await dryRun([refs.hello!, "--target", "openfunction"])).filter((o) => o.kind === "Function");
    const badFn = structuredClone(fn!);
    badFn.spec.workloadRuntimes = "WasmEdge";
    const rf = await kube.apply(badFn, { dryRun: true });
    expect(rf.status).toBeGreaterThanOrEqual(400);
    expect(rf.body.message).toMatch(/workloadRuntimes: field not declared in schema/);
  }, 120_000);

  it("hello, kubernetes: a Deployment for WasmEdge nodes and a Service; no Dapr (it reaches no capability)", async () => {
    const objs = await dryRun([refs.hello!]);
    expect(kinds(objs)).toEqual(["Deployment", "Service", "HorizontalPodAutoscaler"]);
    const pod = objs[0]!.spec.template;
    expect(pod.metadata.annotations["module.wasm.image/variant"]).toBe("compat-smart");
    expect(pod.metadata.annotations["dapr.io/enabled"]).toBeUndefined();
    expect(pod.spec.runtimeClassName).toBe("wasmedge");
    expect(pod.spec.containers[0].image).toBe(`${reg.host}/hello@${digests.hello}`);
    expect(pod.spec.containers[0].readinessProbe.httpGet.path).toBe("/readyz");
    await validates(objs);
  }, 120_000);

  it("counter with its Dapr components: Dapr's annotations, the Components scoped to its app id", async () => {
    const objs = await dryRun([refs.counter!, "--resources-path", path.join(work, "components"), "--dapr-config", "tracing", "--namespace", "default"]);
    expect(kinds(objs)).toEqual(["Component", "Component", "Deployment", "Service", "HorizontalPodAutoscaler"]);
    const ann = objs.find((o) => o.kind === "Deployment")!.spec.template.metadata.annotations;
    expect(ann).toMatchObject({ "dapr.io/enabled": "true", "dapr.io/app-id": "counter", "dapr.io/app-port": "8080", "dapr.io/config": "tracing", "module.wasm.image/variant": "compat-smart" });
    expect(objs.filter((o) => o.kind === "Component").every((c) => c.scopes.includes("counter"))).toBe(true);
    await validates(objs);
  }, 120_000);

  it("an async function: a KEDA ScaledObject on its topic scales it from zero", async () => {
    const objs = await dryRun([refs.consumer!, "--resources-path", path.join(work, "components")]);
    expect(kinds(objs)).toContain("ScaledObject");
    const so = objs.find((o) => o.kind === "ScaledObject")!;
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.triggers[0]).toMatchObject({ type: "redis-streams", metadata: { stream: "orders", address: "redis.default.svc.cluster.local:6379", consumerGroup: "order-consumer" } });
    expect(objs.find((o) => o.kind === "Deployment")!.spec.replicas).toBe(0);
    await validates(objs);
  }, 120_000);

  it("--gateway: a Gateway API HTTPRoute with OpenFunction's host and path templates", async () => {
    const objs = await dryRun([refs.hello!, "--gateway", "ingress/public", "--domain", "fn.example.com"]);
    const route = objs.find((o) => o.kind === "HTTPRoute")!;
    expect(route.spec.parentRefs).toEqual([{ name: "public", namespace: "ingress" }]);
    expect(route.spec.hostnames).toContain("hello.default.fn.example.com");
    expect(route.spec.rules[0].matches.map((m: any) => m.path.value)).toEqual(["/default/hello", "/hello"]);
    await validates(objs);
  }, 120_000);

  it("--target openfunction: a v1beta2 Function with workloadRuntime WasmEdge, accepted by OpenFunction's CRD", async () => {
    for (const [ref, extra] of [[refs.hello!, []], [refs.consumer!, ["--resources-path", path.join(work, "components")]]] as const) {
      const objs = await dryRun([ref, "--target", "openfunction", ...extra]);
      const fn = objs.find((o) => o.kind === "Function")!;
      expect(fn.apiVersion).toBe("core.openfunction.io/v1beta2");
      expect(fn.spec.workloadRuntime).toBe("WasmEdge");
      expect(fn.spec.image).toMatch(/@sha256:[0-9a-f]{64}$/);
      await validates(objs);
    }
  }, 120_000);

  it("--emit runtimeclass: the RuntimeClass a cluster admin installs (handler crun)", async () => {
    const r = await cli(["deploy", "--emit", "runtimeclass", "-o", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const [rc] = (JSON.parse(r.stdout) as { items: Record<string, any>[] }).items;
    expect(rc).toMatchObject({ kind: "RuntimeClass", metadata: { name: "wasmedge" }, handler: "crun" });
    await validates([rc!]);
  }, 60_000);
});

describe("wasm-fn deploy, status and delete against the API server", () => {
  const kc = () => ["--kubeconfig", kube.kubeconfig];

  it("refuses a cluster without the RuntimeClass, with the command that installs it; creates nothing", async () => {
    const r = await cli(["--json", "deploy", refs.hello!, ...kc(), "--no-wait", "--insecure"]);
    expect(r.code).toBe(1);
    noStack(r);
    expect(errorOf(r).error.code).toBe("WFN_KUBE_RUNTIMECLASS_MISSING");
    expect(errorOf(r).error.message).toMatch(/wasm-fn deploy --emit runtimeclass/);
    expect((await kube.request("GET", "/apis/apps/v1/namespaces/default/deployments/hello")).status).toBe(404);
  }, 60_000);

  it("a function directory is built, pushed and deployed by digest (server-side apply, manager wasm-fn); again is a no-op", async () => {
    const rc = await cli(["deploy", "--emit", "runtimeclass", "-o", "json"]);
    expect((await kube.apply((JSON.parse(rc.stdout) as { items: Record<string, any>[] }).items[0]!)).status).toBeLessThan(300);
    const ref = `${reg.host}/hello-dir:1.0`;
    const r = await cli(["--json", "deploy", dirs.hello!, "--image", ref, ...kc(), "--no-wait", "--insecure"], { timeoutMs: 240_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { image: string; applied: string[]; url: string };
    expect(out.image).toMatch(new RegExp(`^${reg.host}/hello-dir@sha256:[0-9a-f]{64}$`));
    expect(out.applied).toEqual(["Deployment/hello", "Service/hello", "HorizontalPodAutoscaler/hello"]);
    expect(out.url).toBe("http://hello.default.svc.cluster.local/default/hello");
    // The registry has the digest the Deployment names.
    const head = await fetch(`${reg.url}/v2/hello-dir/manifests/${out.image.split("@")[1]}`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.manifest.v1+json" } });
    expect(head.status).toBe(200);
    const dep = (await kube.request("GET", "/apis/apps/v1/namespaces/default/deployments/hello")).body;
    expect(dep.spec.template.spec.containers[0].image).toBe(out.image);
    expect(dep.metadata.managedFields.some((f: any) => f.manager === "wasm-fn" && f.operation === "Apply")).toBe(true);
    const again = await cli(["--json", "deploy", refs.hello!, ...kc(), "--no-wait", "--insecure"]);
    expect(again.code, again.stderr).toBe(0);
  }, 300_000);

  it("status says how many replicas are ready and what is in the way; a rollout that cannot finish ends with a sentence", async () => {
    const s = await cli(["--json", "status", "hello", ...kc()]);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ name: "hello", namespace: "default", replicas: 1, ready: 0 });
    const human = await cli(["status", "hello", ...kc()]);
    expect(human.stdout).toMatch(/^default\/hello: 0\/1 ready/);
    // No controller or node runs here: the rollout never finishes.
    const w = await cli(["--json", "deploy", refs.hello!, ...kc(), "--timeout", "3s", "--insecure"]);
    expect(w.code).toBe(1);
    noStack(w);
    expect(errorOf(w).error.code).toBe("WFN_KUBE_ROLLOUT");
    expect(errorOf(w).error.message).toMatch(/did not become ready in 3 s .*wasm-fn status hello/);
  }, 60_000);

  it("delete removes everything deploy made; a second delete says there is nothing", async () => {
    const d = await cli(["--json", "delete", "hello", ...kc()]);
    expect(d.code, d.stderr).toBe(0);
    expect((JSON.parse(d.stdout) as { deleted: string[] }).deleted.sort()).toEqual(["Deployment/hello", "HorizontalPodAutoscaler/hello", "Service/hello"]);
    for (const p of ["/apis/apps/v1/namespaces/default/deployments/hello", "/api/v1/namespaces/default/services/hello", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/hello"]) {
      expect((await kube.request("GET", p)).status).toBe(404);
    }
    const again = await cli(["--json", "delete", "hello", ...kc()]);
    expect(again.code).toBe(1);
    expect(errorOf(again).error.code).toBe("WFN_KUBE_NOT_FOUND");
  }, 60_000);
});

describe("bad input: a sentence, never a stack or a hang", () => {
  it("an API server that does not answer", async () => {
    const dead = path.join(work, "dead.kubeconfig");
    writeFileSync(dead, JSON.stringify({ apiVersion: "v1", kind: "Config", "current-context": "x", clusters: [{ name: "x", cluster: { server: "https://127.0.0.1:9", "insecure-skip-tls-verify": true } }], users: [{ name: "u", user: { token: "t" } }], contexts: [{ name: "x", context: { cluster: "x", user: "u" } }] }));
    const r = await cli(["--json", "deploy", refs.hello!, "--kubeconfig", dead, "--no-wait", "--insecure"], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    noStack(r);
    expect(errorOf(r).error.code).toBe("WFN_KUBE_UNREACHABLE");
    expect(errorOf(r).error.message).toMatch(/cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:9 .*ECONNREFUSED/);
  }, 60_000);

  it("an API server that accepts connections and never answers: each request times out (--request-timeout), the CLI exits", async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((s) => { held.push(s); });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    const cfg = path.join(work, "silent.kubeconfig");
    writeFileSync(cfg, JSON.stringify({ apiVersion: "v1", kind: "Config", "current-context": "x", clusters: [{ name: "x", cluster: { server: `https://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } }], users: [{ name: "u", user: { token: "t" } }], contexts: [{ name: "x", context: { cluster: "x", user: "u" } }] }));
    try {
      for (const cmd of [["status", "hello"], ["delete", "hello"]]) {
        const r = await cli(["--json", ...cmd, "--kubeconfig", cfg, "--request-timeout", "1s"], { timeoutMs: 30_000 });
        expect(r.code, r.stderr).toBe(1);
        noStack(r);
        expect(errorOf(r).error.code).toBe("WFN_KUBE_UNREACHABLE");
        expect(errorOf(r).error.message).toMatch(/did not answer in 1 s to (read Deployment default\/hello|list .*); check that the cluster is up and not overloaded, or allow more with --request-timeout/);
      }
      const bad = await cli(["--json", "status", "hello", "--kubeconfig", cfg, "--request-timeout", "soon"]);
      expect(bad.code).toBe(1);
      expect(errorOf(bad).error.code).toBe("WFN_USAGE");
      expect(errorOf(bad).error.message).toMatch(/--request-timeout takes a duration like 120s or 5m, got 'soon'/);
    } finally {
      for (const s of held) s.destroy();
      silent.close();
    }
  }, 90_000);

  it("a namespace the user may not write (RBAC)", async () => {
    const r = await cli(["--json", "deploy", refs.hello!, "--kubeconfig", kube.devKubeconfig, "--namespace", "default", "--no-wait", "--insecure"]);
    expect(r.code).toBe(1);
    noStack(r);
    expect(errorOf(r).error.code).toBe("WFN_KUBE_FORBIDDEN");
    expect(errorOf(r).error.message).toMatch(/forbidden to apply Deployment default\/hello: .*"dev" cannot patch .*deployments.*RBAC/);
  }, 60_000);

  it("a namespace that does not exist", async () => {
    const rc = await cli(["deploy", "--emit", "runtimeclass", "-o", "json"]);
    expect((await kube.apply((JSON.parse(rc.stdout) as { items: Record<string, any>[] }).items[0]!)).status).toBeLessThan(300);
    const r = await cli(["--json", "deploy", refs.hello!, "--kubeconfig", kube.kubeconfig, "--namespace", "nope", "--no-wait", "--insecure"]);
    expect(r.code).toBe(1);
    noStack(r);
    expect(errorOf(r).error.code).toBe("WFN_KUBE_NOT_FOUND");
    expect(errorOf(r).error.message).toMatch(/namespaces "nope" not found .*create the namespace first/);
  }, 60_000);

  it("an image that is not in the registry", async () => {
    const r = await cli(["--json", "deploy", `${reg.host}/not-pushed:1.0`, "--kubeconfig", kube.kubeconfig, "--no-wait", "--insecure"]);
    expect(r.code).toBe(1);
    noStack(r);
    expect(errorOf(r).error.code).toBe("WFN_REGISTRY_NOT_FOUND");
    expect(errorOf(r).error.message).toMatch(/is not in its registry.*push it first/);
  }, 60_000);

  it("a context the kubeconfig does not have, a directory without --image, a bad --target", async () => {
    const ctx = await cli(["--json", "deploy", refs.hello!, "--kubeconfig", kube.kubeconfig, "--context", "prod", "--no-wait", "--insecure"]);
    expect(errorOf(ctx).error).toMatchObject({ code: "WFN_KUBE_CONFIG" });
    expect(errorOf(ctx).error.message).toMatch(/no context 'prod'; it has: test/);
    const dir = await cli(["--json", "deploy", dirs.hello!, "--kubeconfig", kube.kubeconfig]);
    expect(errorOf(dir).error.code).toBe("WFN_USAGE");
    expect(errorOf(dir).error.message).toMatch(/needs --image/);
    const target = await cli(["--json", "deploy", refs.hello!, "--target", "nomad", "--dry-run"]);
    expect(errorOf(target).error.message).toMatch(/--target must be kubernetes or openfunction/);
    for (const r of [ctx, dir, target]) { expect(r.code).toBe(1); noStack(r); }
  }, 60_000);
});
