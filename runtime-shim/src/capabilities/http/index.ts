import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import type { Agent, Dispatcher } from "undici";
import { encodeList, ErrorCode, Op } from "@wasm-fn/abi";
import { callSignal } from "../../instance/host-call.js";
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
 * its `permissions.hosts` ("api.example.com" = ports 80 and 443, "api.example.com:8443",
 * "127.0.0.1:*", "*.example.com", or "*"). Redirects are not followed, so an allowed host cannot
 * bounce a guest to a denied one. The name is resolved before the check and the connection goes to
 * the address that was checked (no DNS rebinding); loopback, link-local (cloud metadata), private
 * and unspecified addresses, where the shim's own admin API, metrics and Dapr routes live, are
 * reached only through an entry that names the host with a port.
 *
 * @example new CapabilityRouter([httpCapability({ timeoutMs: 5000 })])
 */
export function httpCapability(opts: HttpCapabilityOptions = {}): Capability {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxResponseBytes ?? 16 * 1024 * 1024;
  // undici is loaded on the first fetch: most functions never make one, and `wasm-fn run` starts faster without it.
  let agent: Promise<Agent> | null = null;
  // Connections go to the addresses checkAllowed approved for the host, never to a fresh lookup.
  const approved = new Map<string, { address: string; family: number }[]>();
  const pinnedLookup = (host: string, o: { all?: boolean }, cb: (e: Error | null, a: unknown, f?: number) => void) => {
    const list = approved.get(host.replace(/^\[|\]$/g, "").toLowerCase());
    if (!list || list.length === 0) { cb(Object.assign(new Error(`${host} was not checked`), { code: "ENOTFOUND" }), undefined); return; }
    if (o?.all) cb(null, list); else cb(null, list[0]!.address, list[0]!.family);
  };
  const getAgent = () => (agent ??= import("undici").then((u) => new u.Agent({ keepAliveTimeout: 4000, connect: { timeout: timeoutMs, lookup: pinnedLookup as never } })));
  return {
    name: "http",
    ops: [Op.HTTP_FETCH],
    handle(_op, bytes, ctx) {
      const a = new Args(bytes, "http.fetch").need(2, "method, url, headers, body");
      const method = (a.str(0) || "GET").toUpperCase();
      const url = parseUrl(a.str(1));
      const explicit = checkAllowed(url, ctx);
      // Aborted when the request ends (answered, timed out, client gone): the connection is closed then.
      const signal = callSignal();
      return resolveChecked(url, explicit, ctx).then((addrs) => {
        approved.set(url.hostname.replace(/^\[|\]$/g, "").toLowerCase(), addrs);
        return fetchOnce(getAgent(), method, url, parseHeaders(a.str(2)), a.bytes(3), timeoutMs, maxBytes, signal);
      });
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

/** True when a permissions.hosts entry grants this URL's host (and port). */
export function hostAllowed(url: URL, allowed: readonly string[]): boolean {
  return grantFor(url, allowed) !== null;
}

/**
 * The entry that grants this URL: "explicit" when it names the port ("host:8080", "host:*"), which
 * internal addresses need. An entry without a port grants the scheme's default port only (80/443).
 */
function grantFor(url: URL, allowed: readonly string[]): { explicit: boolean } | null {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  let found: { explicit: boolean } | null = null;
  for (const raw of allowed) {
    const entry = raw.trim().toLowerCase().replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+|\*))?$/.exec(entry);
    if (!m) continue;
    const h = m[1]!.replace(/^\[|\]$/g, "");
    const p = m[2];
    if (p === undefined ? port !== "80" && port !== "443" : p !== "*" && p !== port) continue;
    const hostOk = h === "*" || h === host || (h.startsWith("*.") && host.endsWith(h.slice(1)) && host.length > h.length - 1);
    if (!hostOk) continue;
    if (p !== undefined) return { explicit: true };
    found = { explicit: false };
  }
  return found;
}

function checkAllowed(url: URL, ctx: CallContext): boolean {
  const grant = grantFor(url, ctx.fn.permissions.hosts);
  if (grant) return grant.explicit;
  const host = url.host;
  throw new CapabilityError(ErrorCode.DENIED, `http.fetch to ${host} is denied: function '${ctx.fn.name}' may reach only the hosts in its config; add "${host}" to permissions.hosts in its wasm-fn.yaml`);
}

/** Loopback, link-local (incl. 169.254.169.254, cloud metadata), private, shared, unspecified and multicast ranges. */
const INTERNAL = new BlockList();
for (const [net, bits] of [["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12], ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 3]] as const) INTERNAL.addSubnet(net, bits, "ipv4");
for (const [net, bits] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8], ["64:ff9b::", 96]] as const) INTERNAL.addSubnet(net, bits, "ipv6");

/** True for an address a guest may reach only through an entry that names its port. */
export function internalAddress(address: string, family = isIP(address)): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return INTERNAL.check(mapped[1]!, "ipv4");
  return INTERNAL.check(address, family === 6 ? "ipv6" : "ipv4");
}

/** Resolves the host once; an internal address needs an entry that names the port. */
async function resolveChecked(url: URL, explicit: boolean, ctx: CallContext): Promise<{ address: string; family: number }[]> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addrs: { address: string; family: number }[];
  const fam = isIP(host);
  if (fam) addrs = [{ address: host, family: fam }];
  else {
    try { addrs = await lookup(host, { all: true, verbatim: true }); } catch (e) {
      throw new CapabilityError(ErrorCode.UNAVAILABLE, `http.fetch: cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const inside = addrs.filter((a) => internalAddress(a.address, a.family));
  if (inside.length > 0 && !explicit) {
    throw new CapabilityError(ErrorCode.DENIED, `http.fetch to ${url.host} is denied: it resolves to ${inside[0]!.address}, a loopback, link-local or private address (where this host's admin API, metrics and Dapr routes live); function '${ctx.fn.name}' may reach it only through a permissions.hosts entry that names the host with its port, e.g. "${host}:${url.port || (url.protocol === "https:" ? "443" : "80")}"`);
  }
  return addrs;
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

async function fetchOnce(agentP: Promise<Agent>, method: string, url: URL, headers: Record<string, string>, body: Uint8Array, timeoutMs: number, maxBytes: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
  const { request, errors: undiciErrors } = await import("undici");
  try {
    signal?.throwIfAborted();
    const res = await request(url, {
      ...(signal ? { signal } : {}),
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
    if (signal?.aborted) throw new CapabilityError(ErrorCode.UNAVAILABLE, `http.fetch ${method} ${url.origin} was cancelled: ${(signal.reason as Error | undefined)?.message ?? "the request ended"}`);
    if (e instanceof undiciErrors.HeadersTimeoutError || e instanceof undiciErrors.BodyTimeoutError || e instanceof undiciErrors.ConnectTimeoutError) {
      throw new CapabilityError(ErrorCode.TIMEOUT, `http.fetch ${method} ${url.origin}: no answer within ${timeoutMs} ms`);
    }
    // undici refuses a malformed request (method, header name or value) before sending: the guest's error.
    if (e instanceof undiciErrors.InvalidArgumentError) throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `http.fetch ${method.slice(0, 20)} ${url.origin}: ${(e as Error).message}`);
    const code = (e as NodeJS.ErrnoException).code ?? "";
    throw new CapabilityError(ErrorCode.UNAVAILABLE, `http.fetch ${method} ${url.origin} failed: ${code ? code + " " : ""}${(e as Error).message}`);
  }
}
