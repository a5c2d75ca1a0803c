/**
 * wasm-fn's SDK for TypeScript and JavaScript functions (components built by `wasm-fn build` with
 * `lang: ts` or `js`). A function is a module whose default export answers Web Requests:
 *
 *   export default { async fetch(request: Request): Promise<Response> { return new Response("hi"); } };
 *
 * Capabilities speak Dapr's HTTP API (`http://localhost:3500/v1.0/...`) through `fetch`: under
 * `wasm-fn run` the shim answers those requests from its capability layer (embedded backend or
 * daprd) without a network hop and with the function's grants; in any other wasi:http host with a
 * Dapr sidecar the same component reaches the sidecar. See docs/typescript.md and docs/abi.md.
 */
export type { FetchHandler, Handler } from "./serve.js";

/** The ABI's error codes by name (docs/abi.md). */
export type ErrorCodeName =
  | "INVALID_ARGUMENT" | "NOT_CONFIGURED" | "DENIED" | "NOT_FOUND" | "CONFLICT"
  | "UNAVAILABLE" | "TIMEOUT" | "TOO_LARGE" | "INTERNAL";

/** A capability call failed: `code` is the ABI's error code, `message` says what and why. */
export class WfnError extends Error {
  override readonly name = "WfnError";
  constructor(readonly code: ErrorCodeName, message: string, readonly status = 0) { super(message); }
}

/** The ABI error name an HTTP status stands for (the table of @wasm-fn/abi's errorCodeForStatus). */
export function errorCodeForStatus(status: number): ErrorCodeName | "UNKNOWN_OP" {
  switch (status) {
    case 400: case 422: return "INVALID_ARGUMENT";
    case 401: case 403: return "DENIED";
    case 404: return "NOT_FOUND";
    case 409: case 412: return "CONFLICT";
    case 413: case 414: case 431: return "TOO_LARGE";
    case 429: case 503: return "UNAVAILABLE";
    case 408: case 504: return "TIMEOUT";
    case 501: return "UNKNOWN_OP";
    default: return status >= 400 && status < 500 ? "INVALID_ARGUMENT" : "INTERNAL";
  }
}

/**
 * An error answer in the one shape every wasm-fn error has (docs/troubleshooting.md):
 * `return errorResponse(404, "no to-do 7", { requestId: request.headers.get("x-request-id") ?? "" })`
 * gives `{"error":{"code":"NOT_FOUND","message":"no to-do 7","requestId":"..."}}`.
 */
export function errorResponse(status: number, message: string, opts: { code?: string; requestId?: string; reason?: string } = {}): Response {
  const error: Record<string, string> = { code: opts.code ?? errorCodeForStatus(status), message, requestId: opts.requestId ?? "" };
  if (opts.reason) error.reason = opts.reason;
  return new Response(JSON.stringify({ error }), { status, headers: { "content-type": "application/json" } });
}

let base = "http://localhost:3500";

/** Where Dapr's HTTP API is (default `http://localhost:3500`, Dapr's default sidecar port). */
export function configure(opts: { daprAddress?: string }): void {
  if (opts.daprAddress) base = opts.daprAddress.replace(/\/+$/, "");
}

const CODES: Record<string, ErrorCodeName> = {
  ERR_STATE_STORE_NOT_FOUND: "NOT_CONFIGURED", ERR_STATE_STORE_NOT_CONFIGURED: "NOT_CONFIGURED",
  ERR_PUBSUB_NOT_FOUND: "NOT_CONFIGURED", ERR_PUBSUB_NOT_CONFIGURED: "NOT_CONFIGURED",
  ERR_SECRET_STORE_NOT_FOUND: "NOT_CONFIGURED", ERR_SECRET_STORES_NOT_CONFIGURED: "NOT_CONFIGURED",
  ERR_CONFIGURATION_STORE_NOT_FOUND: "NOT_CONFIGURED", ERR_CONFIGURATION_STORE_NOT_CONFIGURED: "NOT_CONFIGURED",
  ERR_PERMISSION_DENIED: "DENIED", ERR_MALFORMED_REQUEST: "INVALID_ARGUMENT",
};

function byStatus(status: number): ErrorCodeName {
  if (status === 400) return "INVALID_ARGUMENT";
  if (status === 403) return "DENIED";
  if (status === 404) return "NOT_FOUND";
  if (status === 409 || status === 412) return "CONFLICT";
  if (status === 413) return "TOO_LARGE";
  if (status === 408 || status === 504) return "TIMEOUT";
  if (status === 502 || status === 503) return "UNAVAILABLE";
  return "INTERNAL";
}

async function fail(what: string, res: Response): Promise<never> {
  let body: { errorCode?: string; message?: string; wfnCode?: ErrorCodeName } = {};
  const text = await res.text();
  try { body = JSON.parse(text) as typeof body; } catch { body = { message: text }; }
  const code = body.wfnCode ?? (body.errorCode ? CODES[body.errorCode] : undefined) ?? byStatus(res.status);
  throw new WfnError(code, `${what}: ${body.message || `HTTP ${res.status}`}`, res.status);
}

async function call(what: string, path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(base + path, init);
  } catch (e) {
    throw new WfnError("UNAVAILABLE", `${what}: Dapr's HTTP API at ${base} did not answer (${e instanceof Error ? e.message : String(e)})`);
  }
  if (res.status >= 300) return fail(what, res);
  return res;
}

const seg = (s: string) => encodeURIComponent(s);
const json = (v: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(v) });

/** A value read from a state store. */
export interface StateItem<T> { key: string; value: T; etag: string }

export interface SaveOptions {
  /** Save only if the stored item still has this ETag (CONFLICT otherwise). */
  etag?: string;
  /** Expire the item after this many seconds. */
  ttlSeconds?: number;
  /** "first-write" without an ETag: create only if absent. */
  concurrency?: "first-write" | "last-write";
}

export type StateOp =
  | { operation: "upsert"; key: string; value: unknown; etag?: string }
  | { operation: "delete"; key: string; etag?: string };

function saveItem(key: string, value: unknown, o: SaveOptions = {}): Record<string, unknown> {
  return {
    key, value,
    ...(o.etag ? { etag: o.etag } : {}),
    ...(o.concurrency ? { options: { concurrency: o.concurrency } } : {}),
    ...(o.ttlSeconds !== undefined ? { metadata: { ttlInSeconds: String(o.ttlSeconds) } } : {}),
  };
}

/** State stores named in the function's `states:` (JSON values, ETags, bulk reads, transactions). */
export const state = {
  /** The item, or null when the key is absent. */
  async get<T = unknown>(store: string, key: string): Promise<StateItem<T> | null> {
    const res = await call(`state.get ${store}/${key}`, `/v1.0/state/${seg(store)}/${seg(key)}`);
    if (res.status === 204) return null;
    const text = await res.text();
    if (text.length === 0) return null;
    return { key, value: JSON.parse(text) as T, etag: res.headers.get("etag") ?? "" };
  },
  async set(store: string, key: string, value: unknown, opts: SaveOptions = {}): Promise<void> {
    await call(`state.set ${store}/${key}`, `/v1.0/state/${seg(store)}`, json([saveItem(key, value, opts)]));
  },
  /** Deletes the key (with `etag`: only if it still has it). */
  async delete(store: string, key: string, opts: { etag?: string } = {}): Promise<void> {
    await call(`state.delete ${store}/${key}`, `/v1.0/state/${seg(store)}/${seg(key)}`, { method: "DELETE", headers: opts.etag ? { "if-match": opts.etag } : {} });
  },
  /** Several keys at once; absent keys come back with `value: null` and an empty ETag. */
  async getBulk<T = unknown>(store: string, keys: string[]): Promise<StateItem<T | null>[]> {
    const res = await call(`state.getBulk ${store}`, `/v1.0/state/${seg(store)}/bulk`, json({ keys }));
    const items = (await res.json()) as { key: string; data?: T; etag?: string }[];
    return items.map((i) => ({ key: i.key, value: i.data ?? null, etag: i.etag ?? "" }));
  },
  /** All or nothing. */
  async transact(store: string, ops: StateOp[]): Promise<void> {
    const operations = ops.map((o) => ({ operation: o.operation, request: o.operation === "upsert" ? { key: o.key, value: o.value, ...(o.etag ? { etag: o.etag } : {}) } : { key: o.key, ...(o.etag ? { etag: o.etag } : {}) } }));
    await call(`state.transact ${store}`, `/v1.0/state/${seg(store)}/transaction`, json({ operations }));
  },
};

/** Publishing to pub/sub components named in `permissions.publish` (or the function's outputs). */
export const pubsub = {
  /** `data`: an object (sent as JSON), a string or bytes. */
  async publish(pubsubName: string, topic: string, data: unknown, opts: { contentType?: string; metadata?: Record<string, string> } = {}): Promise<void> {
    const body = typeof data === "string" || data instanceof Uint8Array ? data : JSON.stringify(data);
    const contentType = opts.contentType ?? (typeof data === "string" ? "text/plain" : data instanceof Uint8Array ? "application/octet-stream" : "application/json");
    const q = Object.entries(opts.metadata ?? {}).map(([k, v]) => `metadata.${seg(k)}=${seg(v)}`).join("&");
    await call(`pubsub.publish ${pubsubName}/${topic}`, `/v1.0/publish/${seg(pubsubName)}/${seg(topic)}${q ? `?${q}` : ""}`, { method: "POST", headers: { "content-type": contentType }, body: body as BodyInit });
  },
};

/** Output bindings named in `permissions.bindings` (or the function's outputs). */
export const bindings = {
  async invoke(name: string, operation: string, data?: unknown, metadata: Record<string, string> = {}): Promise<{ data: Uint8Array; metadata: Record<string, string> }> {
    const res = await call(`bindings.invoke ${name}`, `/v1.0/bindings/${seg(name)}`, json({ operation, data, metadata }));
    const out: Record<string, string> = {};
    res.headers.forEach((v, k) => { if (k.startsWith("metadata.")) out[k.slice(9)] = v; });
    return { data: new Uint8Array(await res.arrayBuffer()), metadata: out };
  },
};

/** Service invocation of apps named in `permissions.invoke`: the app's answer, whatever its status. */
export async function invoke(appId: string, method: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(`${base}/v1.0/invoke/${seg(appId)}/method/${method.replace(/^\/+/, "")}`, init);
  } catch (e) {
    throw new WfnError("UNAVAILABLE", `invoke ${appId}/${method}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Secret stores named in `permissions.secrets`. */
export const secrets = {
  async get(store: string, key: string): Promise<Record<string, string>> {
    const res = await call(`secrets.get ${store}/${key}`, `/v1.0/secrets/${seg(store)}/${seg(key)}`);
    return (await res.json()) as Record<string, string>;
  },
};

/** Configuration stores named in `permissions.configuration`. */
export const config = {
  async get(store: string, keys: string[]): Promise<Record<string, { value: string; version: string }>> {
    const q = keys.map((k) => `key=${seg(k)}`).join("&");
    const res = await call(`config.get ${store}`, `/v1.0/configuration/${seg(store)}${q ? `?${q}` : ""}`);
    return (await res.json()) as Record<string, { value: string; version: string }>;
  },
};

/** A pub/sub message or input-binding event, as the shim delivers it (CloudEvents' HTTP binary mode). */
export interface CloudEvent {
  id: string;
  source: string;
  type: string;
  specversion: string;
  datacontenttype: string;
  subject?: string;
  time?: string;
  /** Pub/sub: the topic and component; bindings: the binding's name in `input`. */
  topic?: string;
  pubsubname?: string;
  input?: string;
  data: Uint8Array;
  text(): string;
  json<T = unknown>(): T;
}

/** The event a request carries, or null for a plain HTTP request. */
export async function eventOf(request: Request): Promise<CloudEvent | null> {
  const h = request.headers;
  const id = h.get("ce-id");
  if (id === null) return null;
  const data = new Uint8Array(await request.arrayBuffer());
  const opt = (n: string) => h.get(`ce-${n}`) ?? undefined;
  return {
    id, source: h.get("ce-source") ?? "", type: h.get("ce-type") ?? "", specversion: h.get("ce-specversion") ?? "1.0",
    datacontenttype: h.get("content-type") ?? "application/json",
    subject: opt("subject"), time: opt("time"), topic: opt("topic"), pubsubname: opt("pubsubname"), input: opt("input"),
    data,
    text: () => new TextDecoder().decode(data),
    json: <T>() => JSON.parse(new TextDecoder().decode(data)) as T,
  };
}

/** How an async function answers an event (as a Dapr app answers a delivery). */
export const Event = {
  /** Handled: delivered once. */
  success: (): Response => outcome("SUCCESS"),
  /** Try it again, under the function's `retry:` policy; when that runs out, to the input's `deadLetterTopic` (or dropped). */
  retry: (): Response => outcome("RETRY"),
  /** Give up on it (a dead-letter topic gets it when one is configured). */
  drop: (): Response => outcome("DROP"),
};

function outcome(status: string): Response {
  return new Response(JSON.stringify({ status }), { status: 200, headers: { "content-type": "application/json" } });
}
