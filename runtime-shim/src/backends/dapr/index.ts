import {
  BackendError, BackendErrors, type Backend, type BindingResult, type ConfigItem, type InvokeRequest, type InvokeResult,
  type Metadata, type StateEntry, type StateOperation, type StateSave,
} from "../../capabilities/backend.js";
import { callSignal, withCallSignal } from "../../instance/host-call.js";
import { goJsonStable } from "./go-json.js";
import { DaprGrpc } from "./grpc.js";
import { classifyDaprMessage } from "./errors.js";
import { DaprHttp } from "./http.js";

export { startSidecar, findDaprd, freePort, type Sidecar, type SidecarOptions } from "./sidecar.js";

export interface DaprBackendOptions {
  /** daprd's HTTP port (DAPR_HTTP_PORT). */
  httpPort: number;
  /** daprd's gRPC port (DAPR_GRPC_PORT). */
  grpcPort: number;
  host?: string;
  /** Every call fails after this long with TIMEOUT instead of waiting on a stuck sidecar. Default 5 s. */
  timeoutMs?: number;
  /** Default: $DAPR_API_TOKEN, as the SDK (and so the gRPC path) reads it: both paths must send the same token. */
  apiToken?: string;
}

/**
 * The Dapr backend: every capability call goes to the sidecar, on the path measured fastest that
 * keeps a guest's bytes exact (docs/dapr.md has the figures):
 * - daprd's HTTP API through undici for reads (raw bytes and the ETag header), for writes whose
 *   value daprd's JSON re-encoding leaves unchanged, publish, invocation, secrets and configuration;
 * - @dapr/dapr's DaprClient over gRPC for every other write and for bindings, because the HTTP API
 *   re-encodes values as JSON (sorted keys, float64 numbers), which would change a guest's bytes.
 * Every call carries a deadline, so an absent or stuck sidecar fails in `timeoutMs`, not ~30 s.
 *
 * @example const backend = new DaprBackend({ httpPort: 3500, grpcPort: 50001 });
 */
export class DaprBackend implements Backend {
  readonly kind = "dapr" as const;
  private readonly http: DaprHttp;
  private readonly grpc: DaprGrpc;

  constructor(opts: DaprBackendOptions) {
    const host = opts.host ?? "127.0.0.1";
    const timeoutMs = opts.timeoutMs ?? 5000;
    const apiToken = opts.apiToken ?? (process.env.DAPR_API_TOKEN || undefined);
    this.http = new DaprHttp(host, opts.httpPort, timeoutMs, apiToken);
    this.grpc = new DaprGrpc(host, opts.grpcPort, timeoutMs, apiToken);
  }

  async stateGet(store: string, key: string): Promise<StateEntry | null> {
    const r = await this.http.request(`state.get ${store}/${key}`, "GET", `/v1.0/state/${seg(store)}/${seg(key)}`);
    if (r.status === 204) return null;
    return { value: r.body, etag: header(r.headers.etag) };
  }

  async stateSave(store: string, item: StateSave): Promise<void> {
    if (!goJsonStable(item.value)) return this.grpc.stateSave(store, item);
    const body = `[${httpItem(item)}]`;
    await this.http.request(`state.save ${store}/${item.key}`, "POST", `/v1.0/state/${seg(store)}`, body, { "content-type": "application/json" });
  }

  async stateDelete(store: string, key: string, etag: string, metadata: Metadata): Promise<void> {
    const { concurrency, ...meta } = metadata;
    const q = new URLSearchParams({ concurrency: etag || concurrency === "first-write" ? "first-write" : "last-write" });
    for (const [k, v] of Object.entries(meta)) q.set(`metadata.${k}`, v);
    await this.http.request(`state.delete ${store}/${key}`, "DELETE", `/v1.0/state/${seg(store)}/${seg(key)}?${q}`, undefined, etag ? { "if-match": etag } : {});
  }

  /** Parallel single reads: exact bytes (daprd's HTTP bulk answer re-encodes values as JSON). */
  async stateBulkGet(store: string, keys: string[]): Promise<(StateEntry | null)[]> {
    const out: (StateEntry | null)[] = new Array(keys.length).fill(null);
    let next = 0;
    // Reads after the first await start outside the host call: they carry its signal explicitly.
    const signal = callSignal();
    const get = (key: string) => (signal ? withCallSignal(signal, () => this.stateGet(store, key)) : this.stateGet(store, key));
    const worker = async () => { while (next < keys.length) { const i = next++; out[i] = await get(keys[i]!); } };
    await Promise.all(Array.from({ length: Math.min(8, keys.length) }, worker));
    return out;
  }

  async stateTransact(store: string, ops: StateOperation[]): Promise<void> {
    if (!ops.every((o) => o.kind === "delete" || goJsonStable(o.value))) return this.grpc.stateTransact(store, ops);
    const operations = ops.map((o) => `{"operation":"${o.kind}","request":${o.kind === "upsert" ? httpItem(o) : httpItem({ ...o, value: new Uint8Array(0) })}}`);
    await this.http.request(`state.transact ${store}`, "POST", `/v1.0/state/${seg(store)}/transaction`, `{"operations":[${operations.join(",")}]}`, { "content-type": "application/json" });
  }

  async publish(pubsub: string, topic: string, data: Uint8Array, contentType: string, metadata: Metadata): Promise<void> {
    await this.http.request(`pubsub.publish ${pubsub}/${topic}`, "POST", `/v1.0/publish/${seg(pubsub)}/${seg(topic)}${metaQuery(metadata)}`, data, { "content-type": contentType });
  }

  invokeBinding(name: string, operation: string, data: Uint8Array, metadata: Metadata): Promise<BindingResult> {
    return this.grpc.invokeBinding(name, operation, data, metadata);
  }

  /** HTTP service invocation: the callee's status, body and content type come back as they are. */
  async invoke(req: InvokeRequest): Promise<InvokeResult> {
    if (!SAFE_METHOD.test(req.method) || req.method.split(/[/?]/).includes("..")) {
      throw new BackendError(BackendErrors.INVALID, `invoke ${req.appId}: method '${req.method.slice(0, 100)}' must be a path without '..' segments`);
    }
    const what = `invoke ${req.appId}/${req.method}`;
    const r = await this.http.request(what, req.verb as "POST", `/v1.0/invoke/${seg(req.appId)}/method/${req.method}`,
      req.verb === "GET" || req.verb === "HEAD" ? undefined : req.data, { "content-type": req.contentType }, () => true);
    // daprd's own failure (app not reachable) is a 500 with its error JSON; anything else is the callee's answer.
    if (r.status >= 500) {
      const own = daprErrorCode(r.body);
      if (own?.startsWith("ERR_DIRECT_INVOKE") || own === "ERR_INVOKE_OUTPUT_BINDING") {
        throw classifyDaprMessage(what, `daprd could not reach app '${req.appId}': ${Buffer.from(r.body).toString("utf8").slice(0, 300)}`, "internal");
      }
    }
    return { status: r.status, data: r.body, contentType: header(r.headers["content-type"]) || "application/octet-stream" };
  }

  async secretGet(store: string, key: string, metadata: Metadata): Promise<Metadata> {
    const r = await this.http.request(`secrets.get ${store}/${key}`, "GET", `/v1.0/secrets/${seg(store)}/${seg(key)}${metaQuery(metadata)}`);
    return JSON.parse(Buffer.from(r.body).toString("utf8")) as Metadata;
  }

  async configGet(store: string, keys: string[]): Promise<ConfigItem[]> {
    const q = new URLSearchParams(keys.map((k) => ["key", k]));
    const r = await this.http.request(`config.get ${store}`, "GET", `/v1.0/configuration/${seg(store)}?${q}`);
    const items = JSON.parse(Buffer.from(r.body).toString("utf8")) as Record<string, { value?: string; version?: string }>;
    return Object.entries(items).map(([key, it]) => ({ key, value: it.value ?? "", version: it.version ?? "" }));
  }

  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.grpc.close()]);
  }
}

const SAFE_METHOD = /^[A-Za-z0-9._~\-/?=&%+:@,;!$'()*]*$/;

function daprErrorCode(body: Uint8Array): string | undefined {
  try { return (JSON.parse(Buffer.from(body).toString("utf8")) as { errorCode?: string }).errorCode; } catch { return undefined; }
}

const seg = (s: string) => encodeURIComponent(s);
function header(v: string | string[] | undefined): string { return Array.isArray(v) ? (v[0] ?? "") : (v ?? ""); }

function metaQuery(m: Metadata): string {
  const e = Object.entries(m);
  return e.length === 0 ? "" : `?${new URLSearchParams(e.map(([k, v]) => [`metadata.${k}`, v]))}`;
}

/** One state item in daprd's HTTP JSON; the value's bytes are embedded as they are (goJsonStable checked). */
function httpItem(item: StateSave): string {
  const { concurrency, ...metadata } = item.metadata;
  const firstWrite = item.etag !== "" || concurrency === "first-write";
  const value = item.value.length === 0 ? "null" : Buffer.from(item.value).toString("utf8");
  return `{"key":${JSON.stringify(item.key)},"value":${value}${item.etag ? `,"etag":${JSON.stringify(item.etag)}` : ""},"options":{"concurrency":"${firstWrite ? "first-write" : "last-write"}"}${Object.keys(metadata).length ? `,"metadata":${JSON.stringify(metadata)}` : ""}}`;
}
