/**
 * Base error for every wasm-fn package: a stable `code` (e.g. `WFN_ABI_VERSION`) and a human
 * sentence that says what was wrong and what to do. Each package lists its codes in one file.
 *
 * @example throw new WfnError("WFN_CONFIG_UNKNOWN_KEY", "wasm-fn.yaml: unknown key 'scale' (did you mean 'scaleOptions'?)")
 */
export class WfnError extends Error {
  readonly code: string;
  /** HTTP status the gateway should answer with when this error reaches it (default 500). */
  readonly status: number;
  constructor(code: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WfnError";
    this.code = code;
    this.status = options.status ?? 500;
  }
}

export function isWfnError(e: unknown): e is WfnError {
  return e instanceof Error && typeof (e as WfnError).code === "string" && (e as WfnError).code.startsWith("WFN_");
}

/**
 * The one error body every wasm-fn host and SDK answers with (docs/troubleshooting.md):
 * `{"error":{"code":"TIMEOUT","message":"...","requestId":"...","reason":"WFN_TIMEOUT"}}`.
 * `code` is one of the ABI's error names (ErrorCode), so a client handles every error with one
 * vocabulary; `reason` is the host's stable, finer code when there is one.
 */
export interface ErrorBody {
  error: { code: string; message: string; requestId: string; reason?: string };
}

/** The ABI error name an HTTP error status stands for; the AS SDK's `codeForStatus` is the same table. */
export function errorCodeForStatus(status: number): string {
  switch (status) {
    case 400: case 422: return "INVALID_ARGUMENT";
    case 401: case 403: return "DENIED";
    case 404: return "NOT_FOUND";
    case 409: case 412: return "CONFLICT";
    case 413: case 414: case 431: return "TOO_LARGE";
    case 429: case 503: return "UNAVAILABLE";
    case 408: case 504: return "TIMEOUT";
    case 501: return "UNKNOWN_OP";
    default: return status >= 400 && status < 500 ? "INVALID_ARGUMENT" : "INTERNAL";
  }
}

/** The error body of a WfnError (its status picks the ABI code; its own code is the reason). */
export function errorBody(err: { code: string; message: string; status: number }, requestId: string): ErrorBody {
  return { error: { code: errorCodeForStatus(err.status), message: err.message, requestId, reason: err.code } };
}
