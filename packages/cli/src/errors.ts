import { isWfnError, WfnError } from "@wasm-fn/abi";

// Stable error codes of the CLI itself (the packages it drives have their own errors.ts).
export const CliErrors = {
  USAGE: "WFN_USAGE",
  /** `wasm-fn dev`: the function's requests while its last build failed (500, with the compiler's message). */
  BUILD_FAILED: "WFN_BUILD_FAILED",
} as const;

/** Any failure as a WfnError: one of ours as it is, anything else as WFN_INTERNAL with its message. */
export function asWfnError(e: unknown): WfnError {
  return isWfnError(e) ? e : new WfnError("WFN_INTERNAL", `internal error: ${(e as Error).message}`);
}
