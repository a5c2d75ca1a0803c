export * from "./errors.js";
export * from "./abi.js";
export * from "./codec.js";
export * from "./validate.js";
export * from "./leb128.js";
export * from "./memory-limit.js";
export * from "./table-limit.js";
export { componentInterfaces, isComponentBytes, type ComponentInterfaces } from "./component.js";
