// Stable error codes of @wasm-fn/build. Each error's message says what was wrong and what to do.
export const BuildErrors = {
  CONFIG_MISSING: "WFN_CONFIG_MISSING",
  CONFIG_INVALID: "WFN_CONFIG_INVALID",
  CONFIG_UNKNOWN_KEY: "WFN_CONFIG_UNKNOWN_KEY",
  COMPILE: "WFN_COMPILE",
  TOOL_MISSING: "WFN_TOOL_MISSING",
  NOT_WASM: "WFN_NOT_WASM",
  ABI_VERSION: "WFN_ABI_VERSION",
  ABI_IMPORT: "WFN_ABI_IMPORT",
  ABI_EXPORT: "WFN_ABI_EXPORT",
} as const;
