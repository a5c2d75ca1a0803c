/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver, built once from the Go module
 * proxy by scripts/build-kube.sh (cached outside the repo, like daprd), started on free loopback
 * ports and stopped by PID. RBAC is on; two bearer tokens: `admin` (system:masters) and `dev` (no
 * rights but what a test grants). The CRDs of what `wasm-fn deploy` emits are installed: OpenFunction's
 * Function (packages/deploy/schemas), Dapr's Component, KEDA's ScaledObject, Gateway API's HTTPRoute.
 *
 * @example const kube = await startKubeApi(); ... wasm-fn deploy --kubeconfig kube.kubeconfig ...; await kube.stop();
 */
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Agent, fetch as ufetch } from "undici";
import { parseAllDocuments } from "yaml";
import { ROOT } from "./cli.js";
import { freePort, startProcess, type Proc } from "./proc.js";

const run = promisify(execFile);

export interface KubeApi {
  /** https://127.0.0.1:PORT */
  url: string;
  /** A kubeconfig whose current context is the admin (system:masters). */
  kubeconfig: string;
  /** A kubeconfig for `dev`, who may do nothing a test has not granted. */
  devKubeconfig: string;
  adminToken: string;
  /** An authenticated request as admin (the API server's own certificate is trusted). */
  request(method: string, urlPath: string, body?: unknown, contentType?: string): Promise<{ status: number; body: any }>;
  /** Server-side apply of one object as admin, optionally only validated (dryRun=All, fieldValidation=Strict). */
  apply(obj: Record<string, any>, opts?: { dryRun?: boolean }): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
  logs(): string;
}

const built = new Map<string, string>();

/**
 * The cache folder of the built binaries; builds the ones named the first time (scripts/build-kube.sh:
 * kube-apiserver ~5.5 min on 2 cores, kubelet ~1.5 min).
 */
export async function kubeBinaries(parts: string[] = ["crds", "etcd", "kube-apiserver"]): Promise<string> {
  const key = parts.join(" ");
  const known = built.get(key);
  if (known) return known;
  try {
    const { stdout } = await run("bash", [path.join(ROOT, "scripts", "build-kube.sh"), ...parts], { timeout: 40 * 60_000, maxBuffer: 1 << 22 });
    const dir = stdout.trim().split("\n").pop()!;
    built.set(key, dir);
    return dir;
  } catch (e) {
    throw new Error(`${parts.filter((p) => p !== "crds").join(", ")} not available: run \`bash scripts/provision.sh\` (it builds them with scripts/build-kube.sh; needs Go and the Go module proxy): ${(e as Error).message}`);
  }
}

function crdFiles(): string[] {
  const cache = process.env.WASM_FN_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "wasm-fn");
  return [
    path.join(ROOT, "packages", "deploy", "schemas", "openfunction", "core.openfunction.io_functions.yaml"),
    path.join(cache, "kube-crds", "dapr-components.yaml"),
    path.join(cache, "kube-crds", "keda-scaledobjects.yaml"),
    path.join(cache, "kube-crds", "gateway-httproutes.yaml"),
  ];
}

function kubeconfigFor(url: string, caPem: string, user: string, token: string): string {
  const doc = {
    apiVersion: "v1", kind: "Config", "current-context": "test",
    clusters: [{ name: "test", cluster: { server: url, "certificate-authority-data": Buffer.from(caPem).toString("base64") } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user, namespace: "default" } }],
  };
  return JSON.stringify(doc, null, 2);
}

export async function startKubeApi(): Promise<KubeApi> {
  const bins = await kubeBinaries();
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-kube-"));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcd = await startProcess(path.join(bins, "etcd-v3.6.13"), [
    "--name", "default", "--data-dir", path.join(dir, "etcd"), "--log-level", "warn",
    "--listen-client-urls", `http://127.0.0.1:${etcdPort}`, "--advertise-client-urls", `http://127.0.0.1:${etcdPort}`,
    "--listen-peer-urls", `http://127.0.0.1:${peerPort}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${peerPort}`,
    "--initial-cluster", `default=http://127.0.0.1:${peerPort}`, "--listen-metrics-urls", "",
  ], { readyPort: etcdPort, timeoutMs: 60_000, installHint: "run `bash scripts/provision.sh` (builds etcd with scripts/build-kube.sh)" });
  const adminToken = randomBytes(16).toString("hex");
  const devToken = randomBytes(16).toString("hex");
  writeFileSync(path.join(dir, "tokens.csv"), `${adminToken},admin,admin,"system:masters"\n${devToken},dev,dev\n`);
  const sa = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
  writeFileSync(path.join(dir, "sa.key"), sa.privateKey);
  writeFileSync(path.join(dir, "sa.pub"), sa.publicKey);
  let api: Proc;
  try {
    api = await startProcess(path.join(bins, "kube-apiserver"), [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, "certs")}`, `--token-auth-file=${path.join(dir, "tokens.csv")}`,
      "--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/24",
      "--service-account-issuer=https://kubernetes.default.svc", `--service-account-key-file=${path.join(dir, "sa.pub")}`,
      `--service-account-signing-key-file=${path.join(dir, "sa.key")}`, "--endpoint-reconciler-type=none",
      // Webhooks and the service proxy go to a Service's endpoints, not its ClusterIP: no kube-proxy runs here.
      "--enable-aggregator-routing=true",
      "--enable-priority-and-fairness=false", "-v=1",
    ], { readyPort: apiPort, timeoutMs: 120_000, installHint: "run `bash scripts/provision.sh` (builds kube-apiserver with scripts/build-kube.sh)" });
  } catch (e) {
    await etcd.stop();
    throw e;
  }
  const url = `https://127.0.0.1:${apiPort}`;
  const caPem = readFileSync(path.join(dir, "certs", "apiserver.crt"), "utf8");
  const dispatcher = new Agent({ connect: { ca: caPem } });
  const request = async (method: string, urlPath: string, body?: unknown, contentType = "application/json") => {
    const r = await ufetch(`${url}${urlPath}`, {
      method, dispatcher,
      headers: { authorization: `Bearer ${adminToken}`, accept: "application/json", ...(body !== undefined ? { "content-type": contentType } : {}) },
      ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, body: parsed as any };
  };
  const stop = async () => {
    await api.stop();
    await etcd.stop();
    await dispatcher.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 120_000;
    while ((await request("GET", "/readyz").catch(() => ({ status: 0 }))).status !== 200) {
      if (Date.now() > deadline) throw new Error(`kube-apiserver was not ready in 120 s:\n${api.logs().slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const apply = (obj: Record<string, any>, opts: { dryRun?: boolean } = {}) => {
      const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
      const plural = pluralOf(obj.kind);
      const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
      const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : "";
      const q = `fieldManager=wasm-fn-test&force=true&fieldValidation=Strict${opts.dryRun ? "&dryRun=All" : ""}`;
      return request("PATCH", `${base}${ns}/${plural}/${obj.metadata.name}?${q}`, obj, "application/apply-patch+yaml");
    };
    // The CRDs of the kinds wasm-fn deploy emits, established before any test uses them.
    for (const file of crdFiles()) {
      for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
        const crd = doc.toJS() as Record<string, any> | null;
        if (!crd || crd.kind !== "CustomResourceDefinition") continue;
        const r = await apply(crd);
        if (r.status >= 300) throw new Error(`installing the CRD ${crd.metadata.name} from ${file} failed (${r.status}): ${JSON.stringify(r.body).slice(0, 800)}`);
        for (;;) {
          const got = await request("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
          if ((got.body?.status?.conditions ?? []).some((c: any) => c.type === "Established" && c.status === "True")) break;
          if (Date.now() > deadline) throw new Error(`the CRD ${crd.metadata.name} was not established`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    const kubeconfig = path.join(dir, "admin.kubeconfig");
    const devKubeconfig = path.join(dir, "dev.kubeconfig");
    writeFileSync(kubeconfig, kubeconfigFor(url, caPem, "admin", adminToken));
    writeFileSync(devKubeconfig, kubeconfigFor(url, caPem, "dev", devToken));
    return { url, kubeconfig, devKubeconfig, adminToken, request, apply, stop, logs: () => api.logs() };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The resource name of a kind (the kinds wasm-fn deploy emits, and CRDs). */
function pluralOf(kind: string): string {
  const special: Record<string, string> = { CustomResourceDefinition: "customresourcedefinitions", HorizontalPodAutoscaler: "horizontalpodautoscalers", HTTPRoute: "httproutes", RuntimeClass: "runtimeclasses" };
  return special[kind] ?? `${kind.toLowerCase()}s`;
}
