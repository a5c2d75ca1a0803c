import { createServer, validateHeaderName, validateHeaderValue, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { randomUUID } from "node:crypto";
import { isWfnError, WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../errors.js";
import type { ServedFunction } from "../function.js";
import type { InvocationResult } from "../instance/invocation.js";
import type { Logger } from "../logger.js";
import { fromDaprd, readBody, sendError, sendJson } from "./http-util.js";
import { Router, type Routable } from "./router.js";

/** A handler for non-function routes (/dapr/*, /metrics, /admin/*): returns true when it answered. */
export type ExtraRoute = (req: IncomingMessage, res: ServerResponse, ctx: { requestId: string; path: string; query: string }) => boolean | Promise<boolean>;

export interface GatewayOptions {
  host: string;
  port: number;
  domain: string;
  log: Logger;
  accessLog: boolean;
}

export type RoutedFunction = ServedFunction & Routable;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The gateway: HTTP in, routes to a function, request id, body limits, health, graceful drain.
 * It is the only place an error becomes an HTTP status.
 */
export class Gateway {
  readonly router: Router<RoutedFunction>;
  private readonly server: Server;
  private readonly extras: ExtraRoute[] = [];
  private inflight = 0;
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  ready = false;

  constructor(private readonly opts: GatewayOptions) {
    this.router = new Router(opts.domain);
    this.server = createServer({ keepAliveTimeout: 5000, requestTimeout: 60_000 }, (req, res) => void this.handle(req, res));
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
      // Malformed HTTP never reaches a function: answer 400 and keep serving.
      if (socket.writable && !socket.destroyed) {
        const body = JSON.stringify({ error: { code: ShimErrors.BAD_REQUEST, message: `malformed HTTP request: ${err.code ?? err.message}` } });
        socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      } else socket.destroy();
      this.opts.log.log("warn", "malformed request", { code: err.code });
    });
  }

  use(route: ExtraRoute): void {
    this.extras.push(route);
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", (e: NodeJS.ErrnoException) => {
        reject(e.code === "EADDRINUSE"
          ? new WfnError(ShimErrors.ADDRESS_IN_USE, `${this.opts.host}:${this.opts.port} is already in use; pick another with --port`)
          : e);
      });
      this.server.listen(this.opts.port, this.opts.host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  /** Stops taking requests, lets in-flight ones finish, then closes. */
  async drain(): Promise<void> {
    this.draining = true;
    this.ready = false;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeIdleConnections();
    if (this.inflight > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const incoming = req.headers["x-request-id"];
    const requestId = typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? "" : url.slice(q + 1);
    this.inflight++;
    const started = this.opts.accessLog ? performance.now() : 0;
    let fnName: string | undefined;
    try {
      if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
      if (path === "/readyz") return sendJson(res, this.ready ? 200 : 503, { status: this.ready ? "ready" : "not ready" });
      // A route that declines synchronously (false) costs no microtask hop on the function path.
      const ctx = { requestId, path, query };
      for (const extra of this.extras) {
        const answered = extra(req, res, ctx);
        if (answered === true || (answered !== false && (await answered))) return;
      }
      if (path.charCodeAt(0) !== 47 /* / */) throw new WfnError(ShimErrors.BAD_REQUEST, `request target '${url.slice(0, 100)}' is not a path; send an origin-form target like /default/hello`, { status: 400 });
      const match = this.router.match(req.headers.host, path);
      if (!match) {
        const known = this.router.routes().map((r) => r.path).slice(0, 10).join(", ");
        throw new WfnError(ShimErrors.NOT_FOUND, `no function serves ${path}; routes here: ${known || "(none)"}`, { status: 404 });
      }
      const fn = match.target;
      fnName = fn.name;
      let rest = match.rest;
      try { rest = decodeURIComponent(rest); } catch {
        throw new WfnError(ShimErrors.BAD_REQUEST, `the path '${rest.slice(0, 100)}' has malformed percent-encoding`, { status: 400 });
      }
      const body = req.method === "GET" || req.method === "HEAD" ? EMPTY : await readBody(req, fn.config.limits.requestBytes);
      // Caller headers say which app invoked this one: only daprd may set them.
      if (req.headers["dapr-caller-app-id"] !== undefined && !fromDaprd(req)) { delete req.headers["dapr-caller-app-id"]; delete req.headers["dapr-caller-namespace"]; }
      // client: a connection closed before the answer cancels the function's host calls.
      const result = await fn.invoke({ requestId, method: req.method ?? "GET", path: rest, query, headers: req.headers, body, client: req.socket });
      this.send(res, result, requestId, fn.name);
    } catch (e) {
      const err = isWfnError(e) ? e : new WfnError("WFN_INTERNAL", `internal error: ${(e as Error).message}`);
      if (err.status >= 500) this.opts.log.log("error", err.message, { requestId, code: err.code, fn: fnName });
      // An early 413 leaves the client sending: close like nginx (lingering close), or the reset
      // that closing at once causes would destroy the answer before the client reads it.
      if (err.status === 413 && !req.complete) lingeringClose(req);
      sendError(res, err, requestId, {
        ...(err.status === 503 ? { "retry-after": "1" } : {}),
        ...(err.status === 413 || this.draining ? { connection: "close" } : {}),
      });
    } finally {
      if (this.opts.accessLog) {
        this.opts.log.log("info", "request", { requestId, method: req.method, path, status: res.statusCode, fn: fnName, ms: Math.round((performance.now() - started) * 1000) / 1000 });
      }
      if (--this.inflight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private send(res: ServerResponse, r: InvocationResult, requestId: string, fn: string): void {
    // A final status only: 1xx (101 Switching Protocols above all) would let a guest turn the
    // client's connection into a tunnel through the shim.
    if (r.status < 200 || r.status > 599) throw new WfnError(ShimErrors.BAD_RESPONSE, `${fn} answered status ${r.status}; a function answers 200-599`);
    const status = r.status;
    // One flat [name, value, ...] list straight into writeHead: Node's fastest header path (no
    // per-header map as with setHeader/appendHeader); it still validates every name and value.
    const flat: string[] = [];
    // The gateway owns the framing: a guest's own content-length or transfer-encoding would let it
    // split the response on a keep-alive connection (both names are 14 and 17 characters long).
    // Hop-by-hop headers (Connection, Upgrade, ...) describe the client's connection, which the
    // gateway owns; so do the framing headers.
    for (const [k, v] of r.headers) {
      if (k.length <= 19 && HOP_BY_HOP.has(k.toLowerCase())) continue;
      flat.push(k, v);
    }
    flat.push("x-request-id", requestId, "content-length", String(r.body.length));
    // While draining, tell keep-alive clients to go elsewhere. (Not via setHeader: once a header
    // is set that way, writeHead merges the list with setHeader and repeated names collapse.)
    if (this.draining) flat.push("connection", "close");
    try {
      // Checked before writeHead for a 204/304: a writeHead that throws has already taken their "no
      // body", and the 500 sent next would announce a body it never sends (the client then waits).
      // Any other status is validated by writeHead itself, once (the hot path).
      if (status === 204 || status === 304) for (let i = 0; i < flat.length; i += 2) { validateHeaderName(flat[i]!); validateHeaderValue(flat[i]!, flat[i + 1]!); }
      res.writeHead(status, flat);
    } catch (e) {
      throw new WfnError(ShimErrors.TRAP, `${fn} returned an invalid response header: ${(e as Error).message}`);
    }
    res.end(r.body);
  }
}

/**
 * Before an early answer: the answer still says `connection: close`, but when Node would close the
 * socket after it (destroySoon: FIN, then destroy) only the FIN is sent; the socket keeps reading
 * (and dropping) what the client still sends, and is destroyed when the client stops, after 2 s, or
 * past 64 MiB, whichever comes first.
 */
function lingeringClose(req: IncomingMessage, maxMs = 2000, maxBytes = 64 * 1024 * 1024): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  let seen = 0;
  const done = () => { clearTimeout(timer); socket.destroy(); };
  const timer = setTimeout(done, maxMs);
  timer.unref();
  socket.destroySoon = () => { socket.end(); };
  socket.on("data", (c: Buffer) => { seen += c.length; if (seen > maxBytes) done(); });
  socket.once("end", done);
  req.resume();
}

const EMPTY = Buffer.alloc(0);
const HOP_BY_HOP = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "upgrade", "te", "trailer", "proxy-authenticate", "proxy-authorization", "x-request-id"]);
