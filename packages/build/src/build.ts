import { createHash } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ABI_MAJOR, ABI_MINOR, ASYNC_IMPORTS, HOST_MODULE, assertWasmBytes, validateModule } from "@wasm-fn/abi";
import { loadConfigFile, type FunctionConfig } from "./config.js";
import { compileAssemblyScript } from "./compile-as.js";
import { compileC } from "./compile-c.js";
import { compileTypeScript, packageVersion } from "./compile-ts.js";
import { instrument } from "./instrument.js";
import { linkWasmEdge } from "./wasmedge.js";
import { recordInstrumented } from "./instrumented.js";

/** What `wasm-fn build` records beside the module (`dist/<name>.json`) and in the OCI image. */
export interface FunctionMetadata {
  abi: string;
  name: string;
  namespace: string;
  version: string;
  wasm: { file: string; sha256: string; size: number };
  /** The WasmEdge form: a WASI command (guest + adapter) that serves HTTP itself; the image's entrypoint. */
  wasmedge?: { file: string; sha256: string; size: number };
  /** A TS/JS function: the module is a wasi:http/proxy component, not a wasm-fn ABI module. */
  component?: { world: string; componentizeJs: string; bundle: { file: string; sha256: string; size: number } };
  /** The function's wasm-fn.yaml as written (validated); readers apply defaults with normalizeConfig. */
  config: Record<string, unknown>;
}

export interface BuildResult {
  dir: string;
  wasmPath: string;
  metadataPath: string;
  metadata: FunctionMetadata;
  wasm: Uint8Array;
  /** The WasmEdge command module (absent with `wasmedge: false`). */
  wasmedge?: Uint8Array;
  wasmedgePath?: string;
  ms: { compile: number; instrument: number; link: number; total: number };
}

export interface BuildOptions {
  optimize?: boolean;
  /** Also link the WasmEdge form (default true). */
  wasmedge?: boolean;
  onStep?: (step: string) => void;
}

/**
 * Builds the function in `dir`: compile -> instrument (asyncify + fuel) -> validate against the ABI
 * -> write `dist/<name>.wasm` and `dist/<name>.json` atomically.
 *
 * @example const { wasmPath } = await buildFunction("examples/hello");
 */
export async function buildFunction(dir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  const t0 = performance.now();
  const optimize = opts.optimize ?? true;
  const { config, source } = await loadConfigFile(dir);
  if (config.lang === "ts" || config.lang === "js") return buildComponent(dir, config, source, opts, t0);
  opts.onStep?.(`compiling ${config.entry} (${config.lang === "as" ? "AssemblyScript" : "C"})`);
  const raw = config.lang === "c" ? await compileC(dir, config.entry, { optimize }) : await compileAssemblyScript(dir, config.entry, { optimize });
  const t1 = performance.now();
  opts.onStep?.(`instrumenting (asyncify, fuel)${optimize ? " and optimising" : ""}${opts.wasmedge === false ? "" : "; linking the WasmEdge form (guest + adapter)"}`);
  // The WasmEdge form needs no asyncify (its host calls block on sockets); the shim's module does
  // only when the guest makes capability calls (ABI_ASYNC imports). Without them both are one module.
  const plain = await instrument(raw, { optimize, asyncify: false });
  const linking = opts.wasmedge === false ? undefined : linkWasmEdge(plain, config, { optimize });
  linking?.catch(() => undefined); // awaited below; no unhandled rejection meanwhile
  const wasm = importsAsync(raw) ? await instrument(raw, { optimize }) : plain;
  assertWasmBytes(wasm, config.entry);
  validateModule(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>), `${config.name} (${config.entry})`);
  const t2 = performance.now();
  const wasmedge = await linking;
  const t2b = performance.now();

  const dist = path.join(dir, "dist");
  const wasmPath = path.join(dist, `${config.name}.wasm`);
  const metadataPath = path.join(dist, `${config.name}.json`);
  const metadata: FunctionMetadata = {
    abi: `${ABI_MAJOR}.${ABI_MINOR}`,
    name: config.name,
    namespace: config.namespace,
    version: config.version,
    wasm: { file: `${config.name}.wasm`, sha256: sha256(wasm), size: wasm.length },
    ...(wasmedge ? { wasmedge: { file: `${config.name}.wasmedge.wasm`, sha256: sha256(wasmedge), size: wasmedge.length } } : {}),
    config: source,
  };
  await mkdir(dist, { recursive: true });
  await writeAtomic(wasmPath, wasm);
  await recordInstrumented(wasm); // the shim then runs these bytes as they are (instrumented.ts)
  const wasmedgePath = wasmedge ? path.join(dist, `${config.name}.wasmedge.wasm`) : undefined;
  if (wasmedge && wasmedgePath) await writeAtomic(wasmedgePath, wasmedge);
  // Built without it (--no-wasmedge, wasm-fn dev): the form an earlier build left would be of another module.
  else await rm(path.join(dist, `${config.name}.wasmedge.wasm`), { force: true });
  await writeAtomic(metadataPath, JSON.stringify(metadata, null, 2) + "\n");
  const t3 = performance.now();
  return {
    dir, wasmPath, metadataPath, metadata, wasm, ...(wasmedge && wasmedgePath ? { wasmedge, wasmedgePath } : {}),
    ms: { compile: t1 - t0, instrument: t2 - t1, link: t2b - t2, total: t3 - t0 },
  };
}

/** A TS/JS function: type-check, bundle, componentize; `dist/<name>.wasm` is the component. */
async function buildComponent(dir: string, config: FunctionConfig, source: Record<string, unknown>, opts: BuildOptions, t0: number): Promise<BuildResult> {
  const built = await compileTypeScript(dir, config.entry, config.lang as "ts" | "js", { onStep: opts.onStep, name: config.name });
  const dist = path.join(dir, "dist");
  const wasmPath = path.join(dist, `${config.name}.wasm`);
  const metadataPath = path.join(dist, `${config.name}.json`);
  const bundleFile = `${config.name}.bundle.js`;
  const metadata: FunctionMetadata = {
    abi: "wasi:http/proxy@0.2.10",
    name: config.name,
    namespace: config.namespace,
    version: config.version,
    wasm: { file: `${config.name}.wasm`, sha256: sha256(built.component), size: built.component.length },
    component: { world: "wasi:http/proxy@0.2.10", componentizeJs: packageVersion("@bytecodealliance/componentize-js"), bundle: { file: bundleFile, sha256: sha256(Buffer.from(built.bundle)), size: Buffer.byteLength(built.bundle) } },
    config: source,
  };
  await mkdir(dist, { recursive: true });
  await writeAtomic(wasmPath, built.component);
  await writeAtomic(path.join(dist, bundleFile), built.bundle);
  // No WasmEdge form for a component: the one left by an earlier AS build of this directory would be stale.
  await rm(path.join(dist, `${config.name}.wasmedge.wasm`), { force: true });
  await writeAtomic(metadataPath, JSON.stringify(metadata, null, 2) + "\n");
  const t2 = performance.now();
  return {
    dir, wasmPath, metadataPath, metadata, wasm: built.component,
    ms: { compile: built.ms.check + built.ms.bundle + built.ms.componentize, instrument: 0, link: 0, total: t2 - t0 },
  };
}

function importsAsync(bytes: Uint8Array): boolean {
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>));
  return imports.some((i) => i.module === HOST_MODULE && (ASYNC_IMPORTS as readonly string[]).includes(i.name));
}

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Writes through a temp file and a rename, so a failed build never leaves a half-written file. */
export async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}
