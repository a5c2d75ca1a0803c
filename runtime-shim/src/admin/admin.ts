/**
 * The admin endpoint, for hot swap: loopback clients only.
 *
 *   GET  /admin/functions                          what runs: version, origin, placement, pool counts
 *   POST /admin/functions/{namespace}/{name}/reload re-read the function from where it was loaded and swap
 *   PUT  /admin/functions/{namespace}/{name}        swap to the module in the body (application/wasm), same config
 *
 * Refused (403) unless the peer is a loopback address, the Host header names a loopback host (no DNS
 * rebinding) and there is no Origin header (no cross-site request from a browser).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { isWfnError, WfnError } from "@wasm-fn/abi";
import type { ServedFunction } from "../function.js";
import { readBody, sendError, sendJson } from "../gateway/http-util.js";
import type { ExtraRoute } from "../gateway/server.js";
import type { Logger } from "../logger.js";

export interface SwapReport {
  namespace: string;
  name: string;
  version: string;
  origin: string;
  /** Time to read, check and compile the new module, in ms. */
  compileMs: number;
  /** Settles when the old version has drained. */
  drained: Promise<void>;
}

/** What the admin endpoint drives: the shim. */
export interface AdminTarget {
  functions(): readonly ServedFunction[];
  /** Swaps a function to a new build: re-read from its source, or the given module bytes. */
  reload(namespace: string, name: string, wasm?: Uint8Array): Promise<SwapReport>;
}

const PREFIX = "/admin/";
const MAX_MODULE_BYTES = 64 * 1024 * 1024;

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === "::1" || addr.startsWith("127.") || addr.startsWith("::ffff:127.");
}

function loopbackHost(host: string | undefined): boolean {
  if (!host) return true; // HTTP/1.0 without Host
  const h = host.startsWith("[") ? host.slice(1, host.indexOf("]")) : host.replace(/:\d+$/, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The admin route for `gateway.use`. Answers only paths under /admin/. */
export function adminRoute(target: AdminTarget, log: Logger): ExtraRoute {
  return (req, res, ctx) => {
    if (!ctx.path.startsWith(PREFIX)) return false;
    return handle(target, log, req, res, ctx.path, ctx.requestId).then(() => true);
  };
}

async function handle(target: AdminTarget, log: Logger, req: IncomingMessage, res: ServerResponse, path: string, requestId: string): Promise<void> {
  try {
    if (!isLoopback(req.socket.remoteAddress) || !loopbackHost(req.headers.host) || req.headers.origin !== undefined) {
      throw new WfnError("WFN_ADMIN_FORBIDDEN", "the admin endpoint answers only loopback clients (127.0.0.1, ::1) that send a loopback Host and no Origin", { status: 403 });
    }
    const parts = path.slice(PREFIX.length).split("/").map((seg) => {
      try { return decodeURIComponent(seg); } catch {
        throw new WfnError("WFN_BAD_REQUEST", `the admin path '${path.slice(0, 200)}' has malformed percent-encoding`, { status: 400 });
      }
    });
    if (parts[0] !== "functions") throw notFound(path);
    if (parts.length === 1 || (parts.length === 2 && parts[1] === "")) {
      if (req.method !== "GET") throw badMethod("GET");
      return sendJson(res, 200, { functions: target.functions().map(describe) });
    }
    const [, namespace, name, action] = parts as [string, string, string | undefined, string | undefined];
    if (!name) throw notFound(path);
    let report: SwapReport;
    if (action === "reload" && parts.length === 4) {
      if (req.method !== "POST") throw badMethod("POST");
      report = await target.reload(namespace, name);
    } else if (action === undefined) {
      if (req.method === "GET") {
        const fn = target.functions().find((f) => f.namespace === namespace && f.name === name);
        if (!fn) throw notFound(path);
        return sendJson(res, 200, describe(fn));
      }
      if (req.method !== "PUT") throw badMethod("GET, PUT");
      const wasm = await readBody(req, MAX_MODULE_BYTES);
      report = await target.reload(namespace, name, wasm);
    } else throw notFound(path);
    log.log("info", "hot swap", { fn: `${namespace}/${name}`, origin: report.origin, compileMs: report.compileMs, requestId });
    report.drained.then(() => log.log("info", "old version drained", { fn: `${namespace}/${name}` }), () => undefined);
    const { drained: _drained, ...body } = report;
    sendJson(res, 200, { swapped: true, ...body });
  } catch (e) {
    const err = isWfnError(e) ? e : new WfnError("WFN_INTERNAL", `internal error: ${(e as Error).message}`);
    sendError(res, err, requestId);
  }
}

function describe(fn: ServedFunction) {
  const s = fn.stats();
  return {
    namespace: fn.namespace, name: fn.name, version: fn.config.version, origin: fn.origin, isolation: fn.config.isolation,
    placement: s.placement, verdict: s.verdict, fresh: s.fresh ? { kind: s.fresh.kind, newUs: round(s.fresh.newUs), resetUs: round(s.fresh.resetUs) } : null,
    loadedAt: new Date(s.loadedAt).toISOString(),
    pool: { live: s.live, idle: s.idle, busy: s.busy, queued: s.queued, created: s.created, coldStarts: s.coldStarts, drainingVersions: s.draining },
  };
}

const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);
const notFound = (path: string) => new WfnError("WFN_ADMIN_NOT_FOUND", `no admin resource at ${path}; try GET /admin/functions`, { status: 404 });
const badMethod = (allowed: string) => new WfnError("WFN_ADMIN_METHOD", `use ${allowed} here`, { status: 405 });
