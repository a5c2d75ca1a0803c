import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorBody, WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../errors.js";

/** Reads a request body up to `limit` bytes; past it, rejects with a 413 WfnError (checked on Content-Length first). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers["content-length"];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(Number(declared), limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(tooLarge(size, limit));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on("error", (e) => reject(new WfnError(ShimErrors.BAD_REQUEST, `the request body could not be read: ${e.message}`, { status: 400 })));
  });
}

function tooLarge(size: number, limit: number): WfnError {
  return new WfnError(ShimErrors.BODY_TOO_LARGE, `the request body (${size} bytes or more) is over this function's limit of ${limit} bytes; send less, or raise limits.requestBody in wasm-fn.yaml`, { status: 413 });
}

/** A JSON error answer in the one shape (@wasm-fn/abi errorBody): {"error": {"code", "message", "requestId", "reason"}}. */
export function sendError(res: ServerResponse, err: WfnError, requestId: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  const body = JSON.stringify(errorBody(err, requestId));
  res.writeHead(err.status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "x-request-id": requestId, ...extra });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * Whether a request comes from the Dapr sidecar: with APP_API_TOKEN set (daprd then sends it as
 * `dapr-api-token` on every call to the app), the header must match; without it, only a loopback
 * client (daprd beside the shim) counts. Deliveries, subscriptions and caller headers are trusted
 * only from daprd.
 */
export function fromDaprd(req: IncomingMessage): boolean {
  const token = process.env.APP_API_TOKEN;
  if (token) {
    const got = req.headers["dapr-api-token"];
    if (typeof got !== "string" || got.length !== token.length) return false;
    return timingSafeEqual(Buffer.from(got), Buffer.from(token));
  }
  const a = req.socket.remoteAddress;
  return a !== undefined && (a === "::1" || a.startsWith("127.") || a.startsWith("::ffff:127."));
}
