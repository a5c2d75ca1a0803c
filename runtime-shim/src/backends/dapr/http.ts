import type { Dispatcher, Pool } from "undici";
import { BackendError, BackendErrors } from "../../capabilities/backend.js";
import { callSignal } from "../../instance/host-call.js";
import { classifyDaprMessage } from "./errors.js";

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/**
 * A keep-alive connection pool to daprd's HTTP API (undici). Measured faster than @dapr/dapr's
 * clients for the calls that take it (docs/dapr.md). Every request carries the configured
 * deadline; transport failures and daprd's error answers become BackendErrors here.
 */
export class DaprHttp {
  private pool: Promise<Pool> | null = null;
  readonly base: string;
  private readonly addr: string;

  constructor(host: string, readonly port: number, private readonly timeoutMs: number, private readonly apiToken?: string) {
    this.base = `http://${host}:${port}`;
    this.addr = `${host}:${port}`;
  }

  private getPool(): Promise<Pool> {
    return (this.pool ??= import("undici").then((u) => new u.Pool(this.base, { connections: 32, keepAliveTimeout: 30_000, connect: { timeout: this.timeoutMs } })));
  }

  /** Sends one request; answers with status >= 400 throw a mapped BackendError unless `pass(status)`. */
  async request(what: string, method: Dispatcher.HttpMethod, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}, pass?: (status: number) => boolean): Promise<HttpAnswer> {
    // The request's signal, read before the first await: the call is cancelled when its request ends.
    const ended = callSignal();
    const pool = await this.getPool();
    const signal = ended ? AbortSignal.any([AbortSignal.timeout(this.timeoutMs), ended]) : AbortSignal.timeout(this.timeoutMs);
    if (this.apiToken) headers["dapr-api-token"] = this.apiToken;
    let res: Dispatcher.ResponseData;
    try {
      res = await pool.request({
        method, path, headers, body: body === undefined ? null : typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength),
        // The signal keeps the deadline: undici's own timers are coarse (measured firing at 570 ms for 800).
        headersTimeout: this.timeoutMs + 1000, bodyTimeout: this.timeoutMs + 1000, signal,
      });
    } catch (e) {
      throw this.transportError(what, e, ended);
    }
    let data: Uint8Array;
    try {
      data = new Uint8Array(await res.body.arrayBuffer());
    } catch (e) {
      throw this.transportError(what, e, ended);
    }
    if (res.statusCode >= 400 && !(pass?.(res.statusCode) ?? false)) throw this.answerError(what, res.statusCode, data);
    return { status: res.statusCode, headers: res.headers, body: data };
  }

  private transportError(what: string, e: unknown, ended?: AbortSignal): BackendError {
    const err = e as NodeJS.ErrnoException & { name?: string };
    if (ended?.aborted) return new BackendError(BackendErrors.UNAVAILABLE, `${what}: cancelled: ${(ended.reason as Error | undefined)?.message ?? "the request ended"}`, { cause: e });
    if (err.name === "TimeoutError" || err.name === "AbortError" || /Timeout/i.test(err.code ?? "") || /timeout/i.test(err.name ?? "")) {
      return new BackendError(BackendErrors.TIMEOUT, `${what}: daprd at ${this.addr} did not answer within ${this.timeoutMs} ms (is the store behind it, e.g. Redis, reachable? raise --dapr-timeout if it is only slow)`, { cause: e });
    }
    return new BackendError(BackendErrors.UNAVAILABLE, `${what}: daprd at ${this.addr} is unreachable (${err.code ?? err.message}); is the sidecar running? (wasm-fn run --dapr starts one)`, { cause: e });
  }

  /** daprd answers errors as {"errorCode": "ERR_...", "message": "..."}. */
  private answerError(what: string, status: number, body: Uint8Array): BackendError {
    let code = "";
    let message = Buffer.from(body).toString("utf8").slice(0, 500);
    try {
      const j = JSON.parse(message) as { errorCode?: string; message?: string };
      code = j.errorCode ?? "";
      message = j.message ?? message;
    } catch { /* not JSON: keep the text */ }
    return classifyDaprMessage(what, `${message}${code ? ` (${code})` : ""}`, status === 409 ? "conflict" : status === 400 ? "invalid" : status === 404 ? "not-found" : status === 403 || status === 401 ? "denied" : "internal");
  }

  async close(): Promise<void> {
    if (this.pool) await (await this.pool).close().catch(() => undefined);
  }
}
