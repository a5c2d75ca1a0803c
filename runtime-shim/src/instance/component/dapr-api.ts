/**
 * Dapr's HTTP API (v1.0) as a component reaches it: its outgoing requests to the Dapr address
 * (`http://localhost:3500`, where a sidecar listens by default) are answered here, in the shim,
 * from the capability layer — the same operations, grants and errors as the ABI's `call` — with no
 * network hop and whichever backend serves the function (embedded or daprd). The same component in
 * another wasi:http host with a Dapr sidecar reaches the real sidecar at the same address.
 *
 * Covered: state (get, save, delete, bulk get, transaction), publish, output bindings, service
 * invocation, secrets, configuration. Anything else under /v1.0 answers 501 with a sentence.
 */
import { decodeList, decodeMap, encodeList, encodeMap, ErrorCode, errorCodeName, Op, text } from "@wasm-fn/abi";
import { CapabilityError } from "../instance.js";
import type { IncomingWire, OutgoingWire } from "./wasi-p2.js";

/** The addresses a component's Dapr client uses (DAPR_HTTP_PORT is 3500 in its environment). */
export const DAPR_PORT = 3500;
const DAPR_HOSTS = new Set([`localhost:${DAPR_PORT}`, `127.0.0.1:${DAPR_PORT}`, `[::1]:${DAPR_PORT}`]);

export function isDaprUrl(url: URL): boolean {
  return url.protocol === "http:" && DAPR_HOSTS.has(url.host);
}

/** Makes one capability call; the runner binds it to the invocation (grants, signal, pacing). */
export type CallFn = (op: number, args: Uint8Array) => Uint8Array | Promise<Uint8Array>;

const enc = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Dapr's error codes for the ABI's, as daprd answers (status, errorCode). */
const DAPR_ERRORS: Record<number, [number, string]> = {
  [ErrorCode.INVALID_ARGUMENT]: [400, "ERR_MALFORMED_REQUEST"],
  [ErrorCode.NOT_CONFIGURED]: [400, "ERR_NOT_CONFIGURED"],
  [ErrorCode.DENIED]: [403, "ERR_PERMISSION_DENIED"],
  [ErrorCode.NOT_FOUND]: [404, "ERR_NOT_FOUND"],
  [ErrorCode.CONFLICT]: [409, "ERR_STATE_SAVE"],
  [ErrorCode.UNAVAILABLE]: [503, "ERR_UNAVAILABLE"],
  [ErrorCode.TIMEOUT]: [504, "ERR_TIMEOUT"],
  [ErrorCode.TOO_LARGE]: [413, "ERR_TOO_LARGE"],
};

function jsonAnswer(status: number, v: unknown, headers: [string, string][] = []): IncomingWire {
  return { status, headers: [["content-type", "application/json"], ...headers], body: enc.encode(JSON.stringify(v)) };
}

/** An error body as daprd's, plus the ABI's code name (`wfnCode`) the SDK reads. */
export function daprError(e: unknown): IncomingWire {
  if (e instanceof CapabilityError) {
    const [status, errorCode] = DAPR_ERRORS[e.code] ?? [500, "ERR_INTERNAL"];
    return jsonAnswer(status, { errorCode, message: e.message, wfnCode: errorCodeName(e.code) });
  }
  return jsonAnswer(500, { errorCode: "ERR_INTERNAL", message: e instanceof Error ? e.message : String(e), wfnCode: "INTERNAL" });
}

function bad(message: string): CapabilityError {
  return new CapabilityError(ErrorCode.INVALID_ARGUMENT, message);
}

function parseJson(body: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(text(body));
  } catch (e) {
    throw bad(`${what}: the body is not JSON (${(e as Error).message})`);
  }
}

/** A stored value as Dapr's HTTP API hands it back: its JSON when it is JSON, else the text. */
function storedValue(b: Uint8Array): unknown {
  const s = text(b);
  try { return JSON.parse(s); } catch { return s; }
}

/** A value to store: JSON as the HTTP API takes it (a JSON string is stored with its quotes, as daprd does). */
function valueBytes(v: unknown): Uint8Array {
  return v === undefined ? EMPTY : enc.encode(JSON.stringify(v));
}

function meta(m: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (m && typeof m === "object") for (const [k, v] of Object.entries(m)) out[k] = String(v);
  return out;
}

/** Answers one request to Dapr's HTTP API. Errors come back as daprd's error bodies, never thrown. */
export async function daprApi(req: OutgoingWire, call: CallFn): Promise<IncomingWire> {
  try {
    return await route(req, new URL(req.url), call);
  } catch (e) {
    return daprError(e);
  }
}

async function route(req: OutgoingWire, url: URL, call: CallFn): Promise<IncomingWire> {
  const parts = url.pathname.split("/").slice(1).map((p) => decodeURIComponent(p));
  if (parts[0] !== "v1.0") return jsonAnswer(404, { errorCode: "ERR_NOT_FOUND", message: `${url.pathname} is not a Dapr v1.0 API path` });
  const m = req.method.toUpperCase();
  const header = (n: string) => req.headers.find(([k]) => k.toLowerCase() === n)?.[1];
  const [, api, a, b] = parts;
  switch (api) {
    case "state": {
      if (!a) break;
      if (b === "bulk" && m === "POST" && parts.length === 4) {
        const keys = (parseJson(req.body, "state bulk get") as { keys?: unknown }).keys;
        if (!Array.isArray(keys)) throw bad("state bulk get: the body must be {\"keys\": [...]}");
        const out = decodeList(await call(Op.STATE_BULK_GET, encodeList([a, ...keys.map(String)])));
        const items = [];
        for (let i = 0; i + 3 <= out.length; i += 3) {
          const v = out[i + 1] ?? EMPTY;
          items.push({ key: text(out[i]), ...(v.length > 0 ? { data: storedValue(v) } : {}), etag: text(out[i + 2]) });
        }
        return jsonAnswer(200, items);
      }
      if (b === "transaction" && m === "POST" && parts.length === 4) {
        const ops = (parseJson(req.body, "state transaction") as { operations?: unknown }).operations;
        if (!Array.isArray(ops)) throw bad("state transaction: the body must be {\"operations\": [...]}");
        const list = ops.map((o: { operation?: string; request?: { key?: string; value?: unknown; etag?: string; metadata?: unknown } }, i) => {
          if (o?.operation !== "upsert" && o?.operation !== "delete") throw bad(`state transaction: operations[${i}].operation must be "upsert" or "delete"`);
          const r = o.request ?? {};
          return encodeList([o.operation, String(r.key ?? ""), o.operation === "upsert" ? valueBytes(r.value) : EMPTY, r.etag ?? "", encodeMap(meta(r.metadata))]);
        });
        await call(Op.STATE_TRANSACT, encodeList([a, ...list]));
        return { status: 204, headers: [], body: EMPTY };
      }
      if (b !== undefined && parts.length === 4 && m === "GET") {
        const out = decodeList(await call(Op.STATE_GET, encodeList([a, b])));
        if (out.length === 0) return { status: 204, headers: [], body: EMPTY };
        return { status: 200, headers: [["content-type", "application/json"], ["etag", text(out[1])]], body: out[0] ?? EMPTY };
      }
      if (b !== undefined && parts.length === 4 && m === "DELETE") {
        await call(Op.STATE_DELETE, encodeList([a, b, header("if-match") ?? "", encodeMap({})]));
        return { status: 204, headers: [], body: EMPTY };
      }
      if (b === undefined && m === "POST") {
        const items = parseJson(req.body, "state save");
        if (!Array.isArray(items)) throw bad("state save: the body must be a JSON array of {key, value, etag?, options?, metadata?}");
        for (const [i, it] of items.entries()) {
          const item = it as { key?: unknown; value?: unknown; etag?: unknown; options?: { concurrency?: string }; metadata?: unknown };
          if (typeof item?.key !== "string" || item.key === "") throw bad(`state save: item ${i} has no key`);
          const md = meta(item.metadata);
          if (item.options?.concurrency) md.concurrency = item.options.concurrency;
          await call(Op.STATE_SAVE, encodeList([a, item.key, valueBytes(item.value), typeof item.etag === "string" ? item.etag : "", encodeMap(md)]));
        }
        return { status: 204, headers: [], body: EMPTY };
      }
      break;
    }
    case "publish": {
      if (!a || !b || m !== "POST") break;
      const topic = parts.slice(3).join("/");
      const md: Record<string, string> = {};
      for (const [k, v] of url.searchParams) if (k.startsWith("metadata.")) md[k.slice(9)] = v;
      await call(Op.PUBLISH, encodeList([a, topic, req.body, header("content-type") ?? "application/json", encodeMap(md)]));
      return { status: 204, headers: [], body: EMPTY };
    }
    case "bindings": {
      if (!a || parts.length !== 3 || (m !== "POST" && m !== "PUT")) break;
      const r = parseJson(req.body, "bindings") as { operation?: string; data?: unknown; metadata?: unknown };
      if (!r || typeof r.operation !== "string") throw bad("bindings: the body must be {\"operation\": ..., \"data\": ..., \"metadata\": {...}}");
      const data = r.data === undefined ? EMPTY : typeof r.data === "string" ? enc.encode(r.data) : enc.encode(JSON.stringify(r.data));
      const out = decodeList(await call(Op.BINDING_INVOKE, encodeList([a, r.operation, data, encodeMap(meta(r.metadata))])));
      const headers: [string, string][] = Object.entries(decodeMap(out[1])).map(([k, v]) => [`metadata.${k}`, v]);
      return { status: out.length > 0 && (out[0]?.length ?? 0) > 0 ? 200 : 204, headers, body: out[0] ?? EMPTY };
    }
    case "invoke": {
      if (!a || b !== "method" || parts.length < 4) break;
      const method = url.pathname.split("/").slice(5).join("/") + url.search;
      const out = decodeList(await call(Op.INVOKE, encodeList([a, method, m, req.body, header("content-type") ?? ""])));
      const ct = text(out[2]);
      return { status: Number(text(out[0])) || 200, headers: ct ? [["content-type", ct]] : [], body: out[1] ?? EMPTY };
    }
    case "secrets": {
      if (!a || !b || parts.length !== 4 || m !== "GET") break;
      const md: Record<string, string> = {};
      for (const [k, v] of url.searchParams) if (k.startsWith("metadata.")) md[k.slice(9)] = v;
      const out = decodeList(await call(Op.SECRET_GET, encodeList([a, b, encodeMap(md)])));
      const obj: Record<string, string> = {};
      for (let i = 0; i + 1 < out.length; i += 2) obj[text(out[i])] = text(out[i + 1]);
      return jsonAnswer(200, obj);
    }
    case "configuration": {
      if (!a || parts.length !== 3 || m !== "GET") break;
      const out = decodeList(await call(Op.CONFIG_GET, encodeList([a, ...url.searchParams.getAll("key")])));
      const obj: Record<string, { value: string; version: string; metadata: Record<string, string> }> = {};
      for (let i = 0; i + 3 <= out.length; i += 3) obj[text(out[i])] = { value: text(out[i + 1]), version: text(out[i + 2]), metadata: {} };
      return jsonAnswer(200, obj);
    }
  }
  return jsonAnswer(501, { errorCode: "ERR_NOT_SUPPORTED", message: `${m} ${url.pathname} is not part of Dapr's API that wasm-fn serves to components (state, publish, bindings, invoke, secrets, configuration)` });
}
