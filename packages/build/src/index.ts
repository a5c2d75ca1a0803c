export { buildFunction, writeAtomic, type BuildResult, type BuildOptions, type FunctionMetadata } from "./build.js";
export { loadConfig, loadConfigFile, normalizeConfig, configJsonSchema, toBytes, toMs, CONFIG_FILE, type FunctionConfig, type DaprRef } from "./config.js";
export { instrument } from "./instrument.js";
export { BuildErrors } from "./errors.js";
export { linkWasmEdge, adapterModule, adapterConfig } from "./wasmedge.js";
export { ensureInstrumented, recordInstrumented } from "./instrumented.js";
export { compileAssemblyScript } from "./compile-as.js";
export { compileC } from "./compile-c.js";
export { typeCheck as typeCheckTypeScript } from "./compile-ts.js";
