import type { IncomingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { Agent, request, type Dispatcher } from "undici";
import { OciErrorCode, ociError } from "../errors.js";
import { DEFAULT_RETRY, backoffMs, isRetryableStatus, parseRetryAfter, sleep, type RetryPolicy } from "./retry.js";

export interface HttpRequest {
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  url: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Safe to send again after a dropped connection or a 5xx (GET, HEAD, manifest PUT, opening an upload). */
  idempotent?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable & { text(): Promise<string>; arrayBuffer(): Promise<ArrayBuffer>; dump(): Promise<void> };
  url: string;
}

const TLS_ERROR = /wrong version number|packet length too long|EPROTO|ERR_SSL|unknown protocol|tls/i;

function netError(req: HttpRequest, err: unknown, host: string): Error {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.cause?.code ?? e.code ?? "";
  const text = `${code} ${e.message} ${e.cause?.message ?? ""}`;
  if (req.url.startsWith("https:") && TLS_ERROR.test(text)) {
    return ociError(OciErrorCode.REGISTRY_INSECURE_REQUIRED, `${host} does not speak HTTPS. If it is a plain-HTTP registry you trust (e.g. a local one), pass --insecure`, { status: 502, cause: err });
  }
  return ociError(OciErrorCode.REGISTRY_UNREACHABLE, `cannot reach ${host} (${code || e.message}) during ${req.method} ${new URL(req.url).pathname}; check the address and that the registry is running`, { status: 502, cause: err });
}

/** Errors that another try will not fix: nobody listening, no such host, not TLS. */
function isFatalNetError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = e.cause?.code ?? e.code ?? "";
  return ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"].includes(code) || TLS_ERROR.test(`${code} ${e.message} ${e.cause?.message ?? ""}`);
}

/**
 * Reads a whole response body, but never more than `max + 1` bytes (callers refuse the excess).
 * A connection dropped midway is WFN_REGISTRY_UNREACHABLE "cut off", never a raw socket error.
 */
export async function readBody(res: HttpResponse, max: number, what: string, onBytes?: (done: number) => void): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let done = 0;
  try {
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      done += b.length;
      chunks.push(b);
      if (done > max) break; // leaving the loop destroys the stream
      onBytes?.(done);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw ociError(OciErrorCode.REGISTRY_UNREACHABLE, `${what} was cut off after ${done} bytes (${e.code ?? e.message}); check the network and try again. Nothing was stored`, { status: 502, cause: err });
  }
  return Buffer.concat(chunks);
}

/**
 * Sends HTTP requests to one registry with bounded retries and exponential back-off
 * (Retry-After honoured). 429 is always retried: the registry did nothing. 5xx and dropped
 * connections only for idempotent requests: a failed upload chunk may have been applied, so
 * the uploader starts a fresh session instead. Never logs headers, so credentials stay out of output.
 */
export class Http {
  readonly dispatcher: Dispatcher | undefined;
  constructor(readonly host: string, readonly retry: RetryPolicy = DEFAULT_RETRY, insecureTls = false) {
    // --insecure also accepts self-signed certificates, as docker's insecure-registries does.
    this.dispatcher = insecureTls ? new Agent({ connect: { rejectUnauthorized: false } }) : undefined;
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 1; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.once(req);
      } catch (err) {
        if (attempt >= this.retry.attempts || !req.idempotent || isFatalNetError(err)) throw netError(req, err, this.host);
        await sleep(backoffMs(this.retry, attempt));
        continue;
      }
      const retryable = res.status === 429 || (req.idempotent === true && isRetryableStatus(res.status));
      if (!retryable || attempt >= this.retry.attempts) return res;
      const after = parseRetryAfter(res.headers["retry-after"]);
      // A server asking for a longer pause than we are willing to wait gets the error now, not a hang.
      if (after !== undefined && after > this.retry.maxDelayMs) return res;
      await res.body.dump().catch(() => undefined);
      await sleep(backoffMs(this.retry, attempt, after));
    }
  }

  private async once(req: HttpRequest): Promise<HttpResponse> {
    const opts: Parameters<typeof request>[1] = {
      method: req.method,
      headers: { "user-agent": "wasm-fn/0.1", ...(req.headers ?? {}) },
      body: req.body ?? null,
      headersTimeout: 60_000,
      bodyTimeout: 120_000,
    };
    if (this.dispatcher) opts.dispatcher = this.dispatcher;
    const res = await request(req.url, opts);
    return { status: res.statusCode, headers: res.headers, body: res.body as HttpResponse["body"], url: req.url };
  }

  async close(): Promise<void> {
    await this.dispatcher?.close();
  }
}
