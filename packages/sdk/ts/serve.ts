/**
 * The adapter `wasm-fn build` puts in front of a TypeScript handler: it exports
 * wasi:http/incoming-handler itself (not StarlingMonkey's FetchEvent, which serves one request
 * per instance: StarlingMonkey issue #247) and turns each wasi:http request into a Web `Request`,
 * the handler's `Response` back into a wasi:http response. Runs inside the component.
 */
import { Fields, IncomingBody, OutgoingBody, OutgoingResponse, ResponseOutparam, type IncomingRequest } from "wasi:http/types@0.2.10";

/** What a function module exports by default: `{ fetch }` (as Workers and Spin) or the function itself. */
import { errorResponse } from "./index.js";

export type FetchHandler = (request: Request) => Response | Promise<Response>;
export type Handler = { fetch: FetchHandler } | FetchHandler;

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Response headers the host owns (wasi:http hosts refuse them). */
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings", "te"]);
/** The most a blocking write takes at once (wasi:io/streams). */
const CHUNK = 4096;

function methodOf(req: IncomingRequest): string {
  const m = req.method();
  return m.tag === "other" ? m.val : m.tag.toUpperCase();
}

/** The body, read to its end; with a Content-Length, to that length (no end-of-stream exception to pay for). */
function readAll(body: IncomingBody, length: number): Uint8Array {
  const stream = body.stream();
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size < length) {
    let b: Uint8Array;
    try {
      b = stream.blockingRead(65536n);
    } catch {
      break; // closed: the end of the body
    }
    parts.push(b);
    size += b.length;
  }
  dispose(stream);
  IncomingBody.finish(body);
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Drops a resource now (a child resource must go before its parent is finished). */
function dispose(r: unknown): void {
  const sym = (Symbol as unknown as { dispose?: symbol }).dispose;
  const d = sym === undefined ? undefined : (r as Record<symbol, unknown>)[sym];
  if (typeof d === "function") d.call(r);
}

function toRequest(incoming: IncomingRequest): Request {
  const method = methodOf(incoming);
  const headers = new Headers();
  for (const [k, v] of incoming.headers().entries()) headers.append(k, dec.decode(v));
  const url = `http://${incoming.authority() ?? headers.get("host") ?? "localhost"}${incoming.pathWithQuery() ?? "/"}`;
  const init: RequestInit = { method, headers };
  // GET and HEAD carry no body a Request may hold: not read at all (most requests).
  if (method !== "GET" && method !== "HEAD") {
    const declared = Number(headers.get("content-length") ?? NaN);
    const body = readAll(incoming.consume(), Number.isSafeInteger(declared) && declared >= 0 ? declared : Infinity);
    if (body.length > 0) init.body = body as unknown as BodyInit;
  }
  return new Request(url, init);
}

async function send(res: Response, out: ResponseOutparam): Promise<void> {
  const body = new Uint8Array(await res.arrayBuffer());
  const pairs: [string, Uint8Array][] = [];
  res.headers.forEach((v, k) => { if (!HOP.has(k)) pairs.push([k, enc.encode(v)]); });
  const response = new OutgoingResponse(Fields.fromList(pairs));
  response.setStatusCode(res.status);
  const ob = response.body();
  ResponseOutparam.set(out, { tag: "ok", val: response });
  const stream = ob.write();
  for (let i = 0; i < body.length; i += CHUNK) stream.blockingWriteAndFlush(body.subarray(i, i + CHUNK));
  dispose(stream);
  OutgoingBody.finish(ob, undefined);
}

/** An error the handler threw, as the one error body wasm-fn answers with (docs/troubleshooting.md). */
function failure(e: unknown, requestId: string): Response {
  const message = e instanceof Error ? e.message : String(e);
  console.error(`the handler threw: ${e instanceof Error && e.stack ? `${message}\n${e.stack}` : message}`);
  return errorResponse(500, message, { requestId, reason: "WFN_HANDLER" });
}

/** The wasi:http/incoming-handler export for `handler`. */
export function serve(handler: Handler): { handle(request: IncomingRequest, out: ResponseOutparam): Promise<void> } {
  const fetchFn: FetchHandler | undefined = typeof handler === "function" ? handler : handler?.fetch?.bind(handler);
  if (typeof fetchFn !== "function") throw new TypeError("the function module must `export default { async fetch(request) { ... } }` (or export a default function)");
  return {
    async handle(incoming, out) {
      let res: Response;
      let request: Request | undefined;
      try {
        request = toRequest(incoming);
        res = await fetchFn(request);
        if (!(res instanceof Response)) throw new TypeError(`fetch returned ${res === null ? "null" : typeof res}, not a Response`);
      } catch (e) {
        // The request id is read only for an error answer: no header lookup on the path of every request.
        res = failure(e, request?.headers.get("x-request-id") ?? "");
      }
      await send(res, out);
    },
  };
}
