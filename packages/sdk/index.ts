// Package entry for AssemblyScript resolution (`import { Request } from "@wasm-fn/sdk"`).
export * from "./assembly/index";
