import type { Agent, Dispatcher } from "undici";
import { encodeList, ErrorCode, Op } from "@wasm-fn/abi";
import { CapabilityError } from "../../instance/instance.js";
import { Args } from "../errors.js";
import type { Capability, CallContext } from "../index.js";

export interface HttpCapabilityOptions {
  /** Per-request limit; the function's own timeout still applies on top. Default 10 s. */
  timeoutMs?: number;
  /** Largest response body handed to a guest. Default 16 MiB. */
  maxResponseBytes?: number;
}

/**
 * Outbound HTTP through undici, denied by default: a function reaches only the hosts listed in
 * its `permissions.hosts` ("api.example.com", "api.example.com:8443", "*.example.com", or "*").
 * Redirects are not followed, so an allowed host cannot bounce a guest to a denied one.
 *
 * @example new CapabilityRouter([httpCapability({ timeoutMs: 5000 })])
 */
export function httpCapability(opts: HttpCapabilityOptions = {}): Capability {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxResponseBytes ?? 16 * 1024 * 1024;
  // undici is loaded on the first fetch: most functions never make one, and `wasm-fn run` starts faster without it.
  let agent: Promise<Agent> | null = null;
  const getAgent = () => (agent ??= import("undici").then((u) => new u.Agent({ keepAliveTimeout: 4000, connect: { timeout: timeoutMs } })));
  return {
    name: "http",
    ops: [Op.HTTP_FETCH],
    handle(_op, bytes, ctx) {
      const a = new Args(bytes, "http.fetch").need(2, "method, url, headers, body");
      const method = (a.str(0) || "GET").toUpperCase();
      const url = parseUrl(a.str(1));
      checkAllowed(url, ctx);
      return fetchOnce(getAgent(), method, url, parseHeaders(a.str(2)), a.bytes(3), timeoutMs, maxBytes);
    },
  };
}

function parseUrl(raw: string): URL {
  let url: URL;
  try { url = new URL(raw); } catch {
    throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `http.fetch: '${raw.slice(0, 200)}' is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `http.fetch: only http and https URLs are allowed, got ${url.protocol}`);
  return url;
}

/** True when a permissions.hosts entry grants this URL's host (and port, when the entry names one). */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const raw of allowed) {
    const entry = raw.trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    if (entry === "*") return true;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    if (!m) continue;
    const h = m[1]!.replace(/^\[|\]$/g, "");
    if (m[2] !== undefined && m[2] !== port) continue;
    if (h === host) return true;
    if (h.startsWith("*.") && host.endsWith(h.slice(1)) && host.length > h.length - 1) return true;
  }
  return false;
}

function checkAllowed(url: URL, ctx: CallContext): void {
  if (hostAllowed(url, ctx.fn.permissions.hosts)) return;
  const host = url.host;
  throw new CapabilityError(ErrorCode.DENIED, `http.fetch to ${host} is denied: function '${ctx.fn.name}' may reach only the hosts in its config; add "${host}" to permissions.hosts in its wasm-fn.yaml`);
}

function parseHeaders(lines: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>; // guest-chosen names: no prototype to reach
  for (const line of lines.split("\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    // The URL alone names the host: a guest's Host header would let it reach another virtual host
    // behind an allowed address (undici sends it as given).
    if (k === "host") continue;
    const v = line.slice(i + 1).trim();
    out[k] = out[k] === undefined ? v : `${out[k]}, ${v}`;
  }
  return out;
}

async function fetchOnce(agentP: Promise<Agent>, method: string, url: URL, headers: Record<string, string>, body: Uint8Array, timeoutMs: number, maxBytes: number): Promise<Uint8Array> {
  const { request, errors: undiciErrors } = await import("undici");
  try {
    const res = await request(url, {
      dispatcher: await agentP,
      method: method as Dispatcher.HttpMethod,
      headers,
      body: body.length > 0 || !["GET", "HEAD"].includes(method) ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of res.body as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > maxBytes) {
        res.body.destroy();
        throw new CapabilityError(ErrorCode.TOO_LARGE, `http.fetch: the response from ${url.host} is over ${maxBytes} bytes`);
      }
      chunks.push(c);
    }
    let head = "";
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) head += `${k}: ${Array.isArray(v) ? v.join(", ") : v}\n`;
    return encodeList([String(res.statusCode), head, Buffer.concat(chunks, size)]);
  } catch (e) {
    if (e instanceof CapabilityError) throw e;
    if (e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError || e instanceof undiciErrors.ConnectTimeoutError) {
      throw new CapabilityError(ErrorCode.TIMEOUT, `http.fetch ${method} ${url.origin}: no answer within ${timeoutMs} ms`);
    }
    // undici refuses a malformed request (method, header name or value) before sending: the guest's error.
    if (e instanceof undiciErrors.InvalidArgumentError) throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `http.fetch ${method.slice(0, 20)} ${url.origin}: ${(e as Error).message}`);
    const code = (e as NodeJS.ErrnoException).code ?? "";
    throw new CapabilityError(ErrorCode.UNAVAILABLE, `http.fetch ${method} ${url.origin} failed: ${code ? code + " " : ""}${(e as Error).message}`);
  }
}
