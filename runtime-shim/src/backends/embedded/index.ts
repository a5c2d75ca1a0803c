import { readFileSync } from "node:fs";
import path from "node:path";
import {
  BackendError, BackendErrors, type Backend, type BindingResult, type ConfigItem, type InvokeRequest, type InvokeResult,
  type Metadata, type StateEntry, type StateOperation, type StateSave,
} from "../../capabilities/backend.js";
import { EmbeddedBus, type BusOptions } from "./bus.js";
import type { ComponentSpec } from "./components.js";
import { StateFile } from "./store.js";

export { readComponents, type ComponentSpec } from "./components.js";
export { EmbeddedBus, type BusOptions } from "./bus.js";

export interface EmbeddedOptions {
  /** Where state is persisted (atomically); null keeps it in memory only. */
  file?: string | null;
  /**
   * Where published events wait until handled (an fsync'd journal, read back at start). Default:
   * beside `file` (state.json -> state.events.jsonl); memory only when `file` is null.
   */
  journal?: string | null;
  /**
   * Dapr components (from a resources path). When given, store, pubsub and binding names are
   * checked against them as daprd would; without them any state store or pubsub name works.
   */
  components?: ComponentSpec[];
  /** Extra secret stores by name: store -> secret -> values. */
  secrets?: Record<string, Record<string, Metadata>>;
  bus?: BusOptions;
  /** Timeout for bindings that leave the process (bindings.http). Default 10 s. */
  timeoutMs?: number;
}

const HTTP_OPS: Record<string, string> = { create: "POST", post: "POST", get: "GET", put: "PUT", delete: "DELETE", patch: "PATCH", head: "HEAD", options: "OPTIONS" };

/**
 * The in-process backend for local work: state in a JSON file, pub/sub delivered to subscribers
 * in this process, HTTP output bindings and local-file / env secret stores read from the same
 * component YAML daprd would use. No sidecar, no Redis.
 *
 * @example const backend = new EmbeddedBackend({ file: ".wasm-fn/state.json" });
 */
export class EmbeddedBackend implements Backend {
  readonly kind = "embedded" as const;
  readonly bus: EmbeddedBus;
  private readonly state: StateFile;
  private readonly comps: Map<string, ComponentSpec> | null;
  private readonly secretCache = new Map<string, Record<string, Metadata>>();

  constructor(private readonly opts: EmbeddedOptions = {}) {
    this.state = new StateFile(opts.file ?? null);
    this.bus = new EmbeddedBus({ journal: opts.journal !== undefined ? opts.journal : journalBeside(opts.file ?? null), ...opts.bus });
    this.comps = opts.components ? new Map(opts.components.map((c) => [c.name, c])) : null;
  }

  stateGet(store: string, key: string): StateEntry | null {
    this.component(store, "state");
    return this.state.get(store, key);
  }
  stateSave(store: string, item: StateSave): void {
    this.component(store, "state");
    this.state.save(store, item);
  }
  stateDelete(store: string, key: string, etag: string): void {
    this.component(store, "state");
    this.state.delete(store, key, etag);
  }
  stateBulkGet(store: string, keys: string[]): (StateEntry | null)[] {
    this.component(store, "state");
    return keys.map((k) => this.state.get(store, k));
  }
  stateTransact(store: string, ops: StateOperation[]): void {
    this.component(store, "state");
    this.state.transact(store, ops);
  }

  /** Resolves once the event is in the bus's journal, so an acknowledged publish survives a crash. */
  publish(pubsub: string, topic: string, data: Uint8Array, contentType: string): Promise<void> {
    this.component(pubsub, "pubsub");
    return this.bus.publish(pubsub, topic, data, contentType);
  }

  invokeBinding(name: string, operation: string, data: Uint8Array, metadata: Metadata): Promise<BindingResult> {
    const c = this.comps?.get(name);
    if (!c || !c.type.startsWith("bindings.")) throw notConfigured("binding", name, "bindings.http");
    if (c.type !== "bindings.http") throw new BackendError(BackendErrors.NOT_CONFIGURED, `binding '${name}' is of type ${c.type}, which needs Dapr: run with --dapr (the embedded backend serves bindings.http only)`);
    return this.httpBinding(c, operation, data, metadata);
  }

  invoke(req: InvokeRequest): InvokeResult {
    throw new BackendError(BackendErrors.NOT_FOUND, `no function with app id '${req.appId}' runs in this shim; reaching other Dapr apps needs a sidecar: run with --dapr`);
  }

  secretGet(store: string, key: string): Metadata {
    const secrets = this.secretStore(store);
    // Own keys only: "constructor" or "__proto__" must not resolve to Object.prototype's members.
    const s = Object.hasOwn(secrets, key) ? secrets[key] : undefined;
    if (!s) throw new BackendError(BackendErrors.NOT_FOUND, `secret '${key}' is not in secret store ${store}`);
    return s;
  }

  configGet(store: string, keys: string[]): ConfigItem[] {
    this.component(store, "configuration");
    return this.state.config(store, keys);
  }

  /** Sets a configuration item (embedded only; with Dapr, write to the configuration store itself). */
  setConfig(store: string, key: string, value: string, version = ""): void {
    this.state.setConfig(store, key, value, version);
  }

  async close(): Promise<void> {
    try { await this.bus.close(); } finally { await this.state.close(); }
  }

  private component(name: string, kind: "state" | "pubsub" | "configuration"): void {
    if (!this.comps) return;
    const c = this.comps.get(name);
    if (!c || !c.type.startsWith(`${kind}.`)) throw notConfigured(kind === "state" ? "state store" : kind === "pubsub" ? "pubsub" : "configuration store", name, `${kind}.redis`);
  }

  private secretStore(store: string): Record<string, Metadata> {
    const given = this.opts.secrets && Object.hasOwn(this.opts.secrets, store) ? this.opts.secrets[store] : undefined;
    if (given) return given;
    const cached = this.secretCache.get(store);
    if (cached) return cached;
    const c = this.comps?.get(store);
    let secrets: Record<string, Metadata>;
    if (c?.type === "secretstores.local.file") secrets = readSecretsFile(c);
    else if (c?.type === "secretstores.local.env") secrets = Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined).map(([k, v]) => [k, { [k]: v! }]));
    else throw notConfigured("secret store", store, "secretstores.local.file");
    this.secretCache.set(store, secrets);
    return secrets;
  }

  private async httpBinding(c: ComponentSpec, operation: string, data: Uint8Array, metadata: Metadata): Promise<BindingResult> {
    const method = HTTP_OPS[operation.toLowerCase()];
    if (!method) throw new BackendError(BackendErrors.INVALID, `binding '${c.name}' (bindings.http) does not support operation '${operation}'; use one of ${Object.keys(HTTP_OPS).join(", ")}`);
    const base = c.metadata.url;
    if (!base) throw new BackendError(BackendErrors.NOT_CONFIGURED, `binding '${c.name}' has no url in its metadata`);
    const { path: p = "", ...headers } = metadata;
    const url = base.replace(/\/+$/, "") + (p ? "/" + p.replace(/^\/+/, "") : "");
    const timeout = this.opts.timeoutMs ?? 10_000;
    const { request } = await import("undici");
    try {
      const res = await request(url, { method: method as "POST", headers, body: method === "GET" || method === "HEAD" ? undefined : Buffer.from(data), headersTimeout: timeout, bodyTimeout: timeout });
      const body = new Uint8Array(await res.body.arrayBuffer());
      if (res.statusCode >= 400) throw new BackendError(BackendErrors.INTERNAL, `binding '${c.name}': ${method} ${url} answered ${res.statusCode}: ${Buffer.from(body).toString("utf8").slice(0, 200)}`);
      return { data: body, metadata: { statusCode: String(res.statusCode) } };
    } catch (e) {
      if (e instanceof BackendError) throw e;
      throw new BackendError(BackendErrors.UNAVAILABLE, `binding '${c.name}': ${method} ${url} failed: ${(e as Error).message}`);
    }
  }
}

/** The journal's default place: beside the state file, so one --state-file names all a shim keeps. */
function journalBeside(file: string | null): string | null {
  return file ? path.join(path.dirname(file), `${path.basename(file, path.extname(file))}.events.jsonl`) : null;
}

function notConfigured(what: string, name: string, example: string): BackendError {
  return new BackendError(BackendErrors.NOT_CONFIGURED, `${what} '${name}' is not configured: add a component named ${name} (e.g. type ${example}) to the resources path`);
}

/** Dapr's local.file store: a JSON file, nested objects flattened with nestedSeparator (":"). */
function readSecretsFile(c: ComponentSpec): Record<string, Metadata> {
  const file = c.metadata.secretsFile;
  if (!file) throw new BackendError(BackendErrors.NOT_CONFIGURED, `secret store '${c.name}' has no secretsFile in its metadata`);
  let json: unknown;
  try { json = JSON.parse(readFileSync(file, "utf8")); } catch (e) {
    throw new BackendError(BackendErrors.UNAVAILABLE, `secret store '${c.name}': cannot read ${file}: ${(e as Error).message}`);
  }
  const sep = c.metadata.nestedSeparator ?? ":";
  const flat: Record<string, string> = {};
  const walk = (v: unknown, prefix: string) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, prefix ? `${prefix}${sep}${k}` : k);
    else flat[prefix] = typeof v === "string" ? v : JSON.stringify(v);
  };
  walk(json, "");
  if (c.metadata.multiValued === "true" && json && typeof json === "object") {
    return Object.fromEntries(Object.entries(json as Record<string, unknown>).map(([k, v]) => [k, v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([a, b]) => [a, String(b)])) : { [k]: String(v) }]));
  }
  return Object.fromEntries(Object.entries(flat).map(([k, v]) => [k, { [k]: v }]));
}
