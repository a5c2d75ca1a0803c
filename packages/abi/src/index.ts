export * from "./errors.js";
export * from "./abi.js";
export * from "./codec.js";
export * from "./validate.js";
