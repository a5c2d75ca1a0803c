/**
 * Talks to a Kubernetes API server through @kubernetes/client-node (kubeconfig contexts; token,
 * client-certificate and exec auth as kubectl does them): server-side apply with field manager
 * `wasm-fn`, rollout waits, status in words, delete by label. Every failure is a WfnError with a
 * stable code and a sentence that says what to do, never a raw stack.
 */
import { AppsV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, PatchStrategy, ServerConfiguration, createConfiguration, type Configuration, type CoreV1Event, type RequestContext, type ResponseContext, type V1Deployment, type V1Pod } from "@kubernetes/client-node";
import { WfnError } from "@wasm-fn/abi";
import { FUNCTION_LABEL, MANAGED_BY, type KubeObject } from "./manifests.js";

export const KubeErrors = {
  CONFIG: "WFN_KUBE_CONFIG",
  UNREACHABLE: "WFN_KUBE_UNREACHABLE",
  UNAUTHORIZED: "WFN_KUBE_UNAUTHORIZED",
  FORBIDDEN: "WFN_KUBE_FORBIDDEN",
  NO_KIND: "WFN_KUBE_KIND_MISSING",
  INVALID: "WFN_KUBE_INVALID",
  NO_RUNTIMECLASS: "WFN_KUBE_RUNTIMECLASS_MISSING",
  NOT_FOUND: "WFN_KUBE_NOT_FOUND",
  ROLLOUT: "WFN_KUBE_ROLLOUT",
  API: "WFN_KUBE_API",
} as const;

export interface ClusterOptions {
  kubeconfig?: string;
  context?: string;
  /** How long one request may take before it is given up (default 30 s; as kubectl's --request-timeout). */
  requestTimeoutMs?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** The kinds `wasm-fn deploy` creates, in the order `delete` removes them. */
const OWNED_KINDS: { apiVersion: string; kind: string; namespaced: boolean }[] = [
  { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", namespaced: true },
  { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", namespaced: true },
  { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", namespaced: true },
  { apiVersion: "core.openfunction.io/v1beta2", kind: "Function", namespaced: true },
  { apiVersion: "v1", kind: "Service", namespaced: true },
  { apiVersion: "apps/v1", kind: "Deployment", namespaced: true },
  { apiVersion: "dapr.io/v1alpha1", kind: "Component", namespaced: true },
];

/** KubernetesObjectApi on a Configuration of ours (its makeApiClient takes none), with the context's namespace as default. */
class ObjectApi extends KubernetesObjectApi {
  static with(config: Configuration, kc: KubeConfig): KubernetesObjectApi {
    const api = new ObjectApi(config);
    api.setDefaultNamespace(kc);
    return api;
  }
}

export class Cluster {
  readonly server: string;
  readonly context: string;
  private readonly timeoutMs: number;
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;

  constructor(opts: ClusterOptions = {}) {
    const kc = new KubeConfig();
    try {
      if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
      else kc.loadFromDefault();
      if (opts.context) kc.setCurrentContext(opts.context);
    } catch (e) {
      throw new WfnError(KubeErrors.CONFIG, `cannot read the kubeconfig${opts.kubeconfig ? ` ${opts.kubeconfig}` : " (KUBECONFIG or ~/.kube/config)"}: ${(e as Error).message}; pass --kubeconfig FILE`);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) {
      const names = kc.getContexts().map((c) => c.name);
      throw new WfnError(KubeErrors.CONFIG, opts.context
        ? `the kubeconfig has no context '${opts.context}'${names.length ? `; it has: ${names.join(", ")}` : ""}`
        : `no Kubernetes cluster is configured (KUBECONFIG or ~/.kube/config, current context); pass --kubeconfig FILE or --context NAME`);
    }
    this.server = cluster.server;
    this.context = kc.getCurrentContext();
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    // Every request carries an abort signal: an API server that accepts a connection and then says
    // nothing (seen here after it reset connections under load) fails the request, which a retry or a
    // clear error follows, instead of a CLI that waits forever on an open socket.
    const timeoutMs = this.timeoutMs;
    const config: Configuration = createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kc },
      promiseMiddleware: [{
        pre: async (ctx: RequestContext) => { ctx.setSignal(AbortSignal.timeout(timeoutMs)); return ctx; },
        post: async (rsp: ResponseContext) => rsp,
      }],
    });
    this.objects = ObjectApi.with(config, kc);
    this.core = new CoreV1Api(config);
    this.apps = new AppsV1Api(config);
  }

  /** Server-side apply of each object (field manager wasm-fn, conflicts taken over); `dryRun` asks the server to validate only. */
  async apply(objects: KubeObject[], opts: { dryRun?: boolean; onApplied?: (o: KubeObject) => void } = {}): Promise<void> {
    for (const o of objects) {
      try {
        await retried(() => this.objects.patch(o, undefined, opts.dryRun ? "All" : undefined, "wasm-fn", true, PatchStrategy.ServerSideApply));
      } catch (e) {
        throw this.explain(e, `apply ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`, o);
      }
      opts.onApplied?.(o);
    }
  }

  /** Whether a RuntimeClass exists (null when this user may not read RuntimeClasses: the check is skipped). */
  async hasRuntimeClass(name: string): Promise<boolean | null> {
    try {
      await retried(() => this.objects.read({ apiVersion: "node.k8s.io/v1", kind: "RuntimeClass", metadata: { name } }));
      return true;
    } catch (e) {
      const code = statusOf(e);
      if (code === 404) return false;
      if (code === 403) return null;
      throw this.explain(e, `read RuntimeClass ${name}`);
    }
  }

  /** Waits until the function's Deployment has all its replicas updated and available; calls `progress` when that changes. */
  async waitRollout(namespace: string, name: string, timeoutMs: number, progress: (line: string) => void): Promise<V1Deployment> {
    const end = Date.now() + timeoutMs;
    let last = "";
    // A Wasm pod is Ready well under a second after it is created: ask often at first (100 ms, then
    // half as often again each time, up to once a second), not once a second from the start (which
    // added ~1 s to every deploy: P13 in docs/benchmarks.md).
    let pause = 100;
    for (;;) {
      const d = await this.deployment(namespace, name);
      const want = d.spec?.replicas ?? 1;
      const s = d.status ?? {};
      const line = `${s.availableReplicas ?? 0}/${want} available, ${s.updatedReplicas ?? 0} updated`;
      if (line !== last) { progress(line); last = line; }
      const current = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1);
      if (current && (s.updatedReplicas ?? 0) >= want && (s.availableReplicas ?? 0) >= want && (s.replicas ?? 0) <= want) return d;
      if (Date.now() > end) {
        const st = await this.status(namespace, name).catch(() => null);
        throw new WfnError(KubeErrors.ROLLOUT, `${namespace}/${name} did not become ready in ${Math.round(timeoutMs / 1000)} s (${line})${st ? `: ${st.problem ?? "no pod reported a problem"}` : ""}; see \`wasm-fn status ${name} -n ${namespace}\``);
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(1000, Math.round(pause * 1.5));
    }
  }

  private async deployment(namespace: string, name: string): Promise<V1Deployment> {
    try {
      return await retried(() => this.apps.readNamespacedDeployment({ name, namespace }));
    } catch (e) {
      if (statusOf(e) === 404) throw new WfnError(KubeErrors.NOT_FOUND, `no function ${name} in namespace ${namespace} (no Deployment of that name); deploy it with \`wasm-fn deploy\``, { status: 404 });
      throw this.explain(e, `read Deployment ${namespace}/${name}`);
    }
  }

  /** Ready replicas, each pod's phase and problem, and recent events, in words. */
  async status(namespace: string, name: string): Promise<FunctionStatus> {
    const d = await this.deployment(namespace, name);
    let pods: V1Pod[] = [];
    let events: CoreV1Event[] = [];
    try {
      pods = (await retried(() => this.core.listNamespacedPod({ namespace, labelSelector: `${FUNCTION_LABEL}=${name}` }))).items;
      events = (await retried(() => this.core.listNamespacedEvent({ namespace }))).items
        .filter((e) => e.involvedObject.name === name || e.involvedObject.name?.startsWith(`${name}-`));
    } catch (e) {
      throw this.explain(e, `list pods and events in ${namespace}`);
    }
    // A container that keeps exiting without a termination message (a sidecar: Dapr's injector asks
    // for none): its last words from its previous run's log, as `kubectl logs --previous` shows them.
    const said = new Map<V1Pod, Record<string, string>>();
    for (const p of pods.slice(0, 3)) {
      for (const cs of p.status?.containerStatuses ?? []) {
        if (cs.state?.waiting?.reason !== "CrashLoopBackOff" || !cs.lastState?.terminated || cs.lastState.terminated.message) continue;
        try {
          const log = await retried(() => this.core.readNamespacedPodLog({ name: p.metadata?.name ?? "", namespace, container: cs.name, previous: true, tailLines: 20 }));
          if (typeof log === "string" && log.trim()) said.set(p, { ...said.get(p), [cs.name]: lastWords(log) });
        } catch { /* its log is gone or not readable: the exit code is what there is */ }
      }
    }
    const podStates = pods.map((p) => podState(p, said.get(p)));
    events.sort((a, b) => eventTime(a) - eventTime(b));
    const recent = events.slice(-10).map((e) => ({ type: e.type ?? "", reason: e.reason ?? "", object: `${e.involvedObject.kind}/${e.involvedObject.name}`, message: (e.message ?? "").trim(), count: e.count ?? 1 }));
    const problem = podStates.find((p) => p.problem)?.problem ?? [...recent].reverse().find((e) => e.type === "Warning")?.message ?? null;
    return {
      name, namespace,
      image: d.spec?.template.spec?.containers[0]?.image ?? "",
      replicas: d.spec?.replicas ?? 0,
      ready: d.status?.readyReplicas ?? 0,
      available: d.status?.availableReplicas ?? 0,
      pods: podStates,
      events: recent,
      problem,
    };
  }

  /** Deletes what `deploy` made for the function (by its label); returns what was deleted. */
  async remove(namespace: string, name: string): Promise<string[]> {
    const gone: string[] = [];
    for (const k of OWNED_KINDS) {
      let items: KubeObject[];
      try {
        items = (await retried(() => this.objects.list(k.apiVersion, k.kind, namespace, undefined, undefined, undefined, undefined, `${FUNCTION_LABEL}=${name},${MANAGED_BY}=wasm-fn`))).items as KubeObject[];
      } catch (e) {
        const code = statusOf(e);
        if (code === 404) continue; // the kind is not installed in this cluster: nothing of it to delete
        throw this.explain(e, `list ${k.kind} in ${namespace}`);
      }
      for (const o of items) {
        try {
          await retried(() => this.objects.delete({ apiVersion: k.apiVersion, kind: k.kind, metadata: { name: o.metadata.name, namespace } }, undefined, undefined, undefined, undefined, "Background"));
          gone.push(`${k.kind}/${o.metadata.name}`);
        } catch (e) {
          if (statusOf(e) !== 404) throw this.explain(e, `delete ${k.kind} ${namespace}/${o.metadata.name}`);
        }
      }
    }
    return gone;
  }

  /** Turns a client error into a sentence: what failed, why, and what to do. */
  explain(e: unknown, what: string, obj?: KubeObject): WfnError {
    if (e instanceof WfnError) return e;
    const code = statusOf(e);
    const msg = bodyMessage(e);
    const net = networkCode(e);
    if (timedOut(e)) return new WfnError(KubeErrors.UNREACHABLE, `the Kubernetes API server at ${this.server} (context ${this.context}) did not answer in ${this.timeoutMs / 1000} s to ${what}; check that the cluster is up and not overloaded, or allow more with --request-timeout`);
    if (net) return new WfnError(KubeErrors.UNREACHABLE, `cannot reach the Kubernetes API server at ${this.server} (context ${this.context}) to ${what}: ${net}; check that the cluster is up and that --context/--kubeconfig name it`);
    if (code === 401) return new WfnError(KubeErrors.UNAUTHORIZED, `the API server at ${this.server} did not accept the credentials of context ${this.context} (401) to ${what}; refresh them (token, client certificate or exec plugin) in the kubeconfig`);
    if (code === 403) return new WfnError(KubeErrors.FORBIDDEN, `forbidden to ${what}: ${msg}; ask a cluster admin for a Role (RBAC) that allows it, or deploy to a namespace you may write (--namespace)`);
    if (code === 404 && /namespaces? .*not found/.test(msg)) return new WfnError(KubeErrors.NOT_FOUND, `${msg} (to ${what}); create the namespace first (kubectl create namespace NAME) or pass another --namespace`);
    if (code === 404 && obj) return new WfnError(KubeErrors.NO_KIND, `the cluster does not serve ${obj.apiVersion} ${obj.kind} (to ${what}): ${kindHint(obj)}`);
    if (code === 422 || code === 400 || (code === 500 && /failed to create typed patch object|field not declared in schema/.test(msg))) return new WfnError(KubeErrors.INVALID, `the API server refused to ${what}: ${msg}`);
    if (code !== undefined) return new WfnError(KubeErrors.API, `the API server answered ${code} to ${what}: ${msg}`);
    const m = e instanceof Error ? e.message : String(e);
    // Discovery of an unknown group/version fails before any request with a plain Error.
    if (obj && /Unrecognized API version and kind|does not have a resource of kind|Could not find/i.test(m)) return new WfnError(KubeErrors.NO_KIND, `the cluster does not serve ${obj.apiVersion} ${obj.kind} (to ${what}): ${kindHint(obj)}`);
    return new WfnError(KubeErrors.API, `could not ${what}: ${m.split("\n")[0]}`);
  }
}

export interface PodState {
  name: string;
  phase: string;
  ready: boolean;
  restarts: number;
  /** The last container error in words (waiting reason and message, or the last exit), if any. */
  problem: string | null;
}

export interface FunctionStatus {
  name: string;
  namespace: string;
  image: string;
  replicas: number;
  ready: number;
  available: number;
  pods: PodState[];
  events: { type: string; reason: string; object: string; message: string; count: number }[];
  /** The first thing that is wrong, in words, or null. */
  problem: string | null;
}

/**
 * A pod in words: its phase, whether it is Ready, the function container's restarts, and the first
 * container problem — the function's, else a sidecar's (daprd), named — with its last exit and last
 * words: the termination message, or (`said`) the last lines of its previous run's log.
 */
function podState(p: V1Pod, said: Record<string, string> = {}): PodState {
  const statuses = [...(p.status?.containerStatuses ?? [])].sort((a, b) => Number(b.name === "function") - Number(a.name === "function"));
  let problem: string | null = null;
  for (const cs of statuses) {
    const waiting = cs.state?.waiting;
    if (!waiting?.reason || waiting.reason === "ContainerCreating" || waiting.reason === "PodInitializing") continue;
    const last = cs.lastState?.terminated;
    problem = `${p.metadata?.name}${cs.name === "function" ? "" : ` (container ${cs.name})`}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ""}`;
    const words = last?.message ? lastWords(last.message) : said[cs.name];
    if (last) problem += ` (last exit ${last.exitCode}${last.reason ? ` ${last.reason}` : ""}${words ? `: ${words}` : ""})`;
    break;
  }
  if (!problem && p.status?.phase === "Pending") {
    const c = p.status.conditions?.find((x) => x.status === "False" && x.message);
    if (c) problem = `${p.metadata?.name}: ${c.reason ?? "Pending"}: ${c.message}`;
  }
  const fn = statuses[0];
  const ready = p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  return { name: p.metadata?.name ?? "", phase: p.status?.phase ?? "Unknown", ready, restarts: fn?.restartCount ?? 0, problem };
}

/**
 * A container's termination message in words. The Deployment asks for its last log lines when it
 * exits with an error (FallbackToLogsOnError); a function logs JSON lines, so the `msg` of its last
 * error line is what it said last; without one, the last line (crun's or WasmEdge's), as it is.
 * On one line, at most 500 characters.
 */
export function lastWords(message: string): string {
  const lines = message.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  // The function's own words first; the runtime's last line (crun, WasmEdge) when it said nothing.
  let said: string | undefined;
  for (const l of lines) {
    try {
      const o = JSON.parse(l) as { level?: unknown; msg?: unknown };
      if (typeof o?.msg === "string" && (o.level === "error" || o.level === "fatal")) said = o.msg;
    } catch { /* not a JSON log line */ }
  }
  const words = (said ?? lines[lines.length - 1] ?? "").replace(/\s+/g, " ");
  return words.length > 500 ? `${words.slice(0, 500)}…` : words;
}

function eventTime(e: CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}

function statusOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown })?.code;
  return typeof c === "number" ? c : undefined;
}

function bodyMessage(e: unknown): string {
  let b = (e as { body?: unknown })?.body;
  if (typeof b === "string") { const raw = b; try { b = JSON.parse(raw); } catch { return raw.slice(0, 500); } }
  const m = (b as { message?: unknown })?.message;
  if (typeof m === "string") return m;
  return e instanceof Error ? e.message.split("\n")[0]! : String(e);
}

/**
 * A connection closed under a request (ECONNRESET: seen here when the API server dropped a kept-alive
 * connection while a rollout was being watched) is retried, three times with a short pause: every
 * request Cluster makes is idempotent (reads, server-side apply, delete of a named object). So is a
 * request that got no answer in the request timeout. A server that refuses connections or is not
 * found fails at once.
 */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      if (attempt > 3 || !(timedOut(e) || /^(ECONNRESET|EPIPE|UND_ERR_SOCKET)/.test(networkCode(e) ?? ""))) throw e;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** Whether a request was aborted by its timeout (node-fetch's AbortError, anywhere in the cause chain). */
function timedOut(e: unknown): boolean {
  for (let x: unknown = e, i = 0; x && i < 5; x = (x as { cause?: unknown }).cause, i++) {
    if ((x as { name?: unknown }).name === "AbortError" || (x as { name?: unknown }).name === "TimeoutError") return true;
  }
  return false;
}

/** ECONNREFUSED, ENOTFOUND, a TLS failure...: the error code of a failed connection, if that is what it was. */
function networkCode(e: unknown): string | null {
  for (let x: unknown = e, i = 0; x && i < 5; x = (x as { cause?: unknown }).cause, i++) {
    const c = (x as { code?: unknown }).code;
    if (typeof c === "string" && /^E[A-Z]+|CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(c)) return `${c}${(x as Error).message ? ` (${(x as Error).message.split("\n")[0]})` : ""}`;
    const t = (x as { type?: unknown }).type;
    if (t === "system" && typeof (x as { errno?: unknown }).errno === "string") return String((x as { errno: string }).errno);
  }
  return null;
}

function kindHint(o: KubeObject): string {
  switch (o.apiVersion.split("/")[0]) {
    case "keda.sh": return "install KEDA (it scales async functions on their topic), or deploy without it by giving the function minReplicas >= 1";
    case "gateway.networking.k8s.io": return "install the Gateway API CRDs and a Gateway controller, or deploy without --gateway";
    case "dapr.io": return "install Dapr on the cluster (dapr init -k, or its Helm chart), or deploy without --resources-path";
    case "core.openfunction.io": return "install OpenFunction, or use --target kubernetes";
    default: return "this cluster is older or newer than wasm-fn expects";
  }
}
