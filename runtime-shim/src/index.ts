export { startShim, type ShimOptions, type RunningShim } from "./shim.js";
export { createLogger, flushLogs, silentLogger, type Logger } from "./logger.js";
export { ShimErrors } from "./errors.js";
export type { FunctionSource } from "./function.js";
export type { Capability, CallContext } from "./capabilities/index.js";
export { startServing, backendFromFlags, type ServeOptions, type Serving, type BackendChoice, type BackendFlags } from "./gateway/dapr-serve.js";
export type { Backend } from "./capabilities/backend.js";
