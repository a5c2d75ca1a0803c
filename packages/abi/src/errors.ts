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
