export { startShim, type ShimOptions, type RunningShim } from "./shim.js";
export { createLogger, silentLogger, type Logger } from "./logger.js";
export { ShimErrors } from "./errors.js";
export type { FunctionSource } from "./function.js";
export type { Capability, CallContext } from "./capabilities/index.js";
