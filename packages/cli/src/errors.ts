// Stable error codes of the CLI itself (the packages it drives have their own errors.ts).
export const CliErrors = {
  USAGE: "WFN_USAGE",
  /** `wasm-fn dev`: the function's requests while its last build failed (500, with the compiler's message). */
  BUILD_FAILED: "WFN_BUILD_FAILED",
} as const;
