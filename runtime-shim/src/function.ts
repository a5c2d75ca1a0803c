import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { assertWasmBytes, checkAbiVersion, validateModule, WfnError } from "@wasm-fn/abi";
import { loadConfig, normalizeConfig, type FunctionConfig } from "@wasm-fn/build/config";
import { ShimErrors } from "./errors.js";
import { Instance, type HostCalls } from "./instance/instance.js";
import { Invocation, type InvocationInput, type InvocationResult } from "./instance/invocation.js";
import { capMemory } from "./instance/memory-limit.js";
import { Pool } from "./pool/pool.js";
import type { Logger } from "./logger.js";

/** Where a function comes from: a built directory, a .wasm file (with its metadata JSON if present), or bytes pulled from a registry. */
export type FunctionSource =
  | { kind: "dir"; dir: string }
  | { kind: "file"; file: string }
  | { kind: "bytes"; wasm: Uint8Array; config: FunctionConfig; origin: string };

export interface LoadedCode {
  config: FunctionConfig;
  wasm: Uint8Array;
  origin: string;
  wasmPath?: string;
}

/** Reads a function's config and module bytes. Bad input gets a WfnError that says what to do. */
export async function readFunction(src: FunctionSource): Promise<LoadedCode> {
  if (src.kind === "bytes") return { config: src.config, wasm: src.wasm, origin: src.origin };
  if (src.kind === "dir") {
    const config = await loadConfig(src.dir);
    const wasmPath = path.join(src.dir, "dist", `${config.name}.wasm`);
    const wasm = await readFile(wasmPath).catch(() => {
      throw new WfnError(ShimErrors.LOAD, `${wasmPath} does not exist: build the function first with \`wasm-fn build ${src.dir}\``);
    });
    return { config, wasm, origin: wasmPath, wasmPath };
  }
  const wasm = await readFile(src.file).catch(() => {
    throw new WfnError(ShimErrors.LOAD, `cannot read ${src.file}: pass a function directory, a .wasm file or an OCI reference`);
  });
  const metaPath = src.file.replace(/\.wasm$/, ".json");
  let config: FunctionConfig;
  const meta = await stat(metaPath).then(() => readFile(metaPath, "utf8"), () => null);
  if (meta !== null) {
    try {
      config = normalizeConfig((JSON.parse(meta) as { config: unknown }).config, metaPath);
    } catch (e) {
      if (e instanceof WfnError) throw e;
      throw new WfnError(ShimErrors.LOAD, `${metaPath} is not valid JSON metadata (${(e as Error).message}); rebuild with \`wasm-fn build\``);
    }
  } else {
    const name = path.basename(src.file).replace(/\.wasm$/, "").toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "") || "fn";
    config = normalizeConfig({ name });
  }
  return { config, wasm, origin: src.file, wasmPath: src.file };
}

/** Compiles and checks a module: Wasm magic, ABI imports/exports, memory cap, ABI version (by a first instance). */
export async function compileFunction(code: LoadedCode, host: HostCalls): Promise<WebAssembly.Module> {
  assertWasmBytes(code.wasm, code.origin);
  const capped = capMemory(code.wasm, code.config.limits.memoryPages, code.origin);
  let mod: WebAssembly.Module;
  try {
    mod = await WebAssembly.compile(capped as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new WfnError("WFN_NOT_WASM", `${code.origin} is not a valid WebAssembly module: ${(e as Error).message}`, { status: 400 });
  }
  if (!validateModule(mod, code.origin).instrumented) {
    // Built elsewhere (plain clang, another toolchain): add the fuel checks and asyncify here, once,
    // so its timeout holds and its host calls can wait on I/O like a module from `wasm-fn build`.
    const { instrument } = await import("@wasm-fn/build");
    mod = await WebAssembly.compile((await instrument(capped, { optimize: false })) as Uint8Array<ArrayBuffer>);
    validateModule(mod, code.origin);
  }
  const probe = new Instance(mod, host, { timeoutMs: code.config.limits.timeoutMs, maxMemoryPages: code.config.limits.memoryPages }, code.origin);
  checkAbiVersion(probe.init(), code.origin);
  return mod;
}

/**
 * A function being served: its compiled module (compiled once per process) and its instance pool.
 * `invoke` is the pool -> instance step of the request's straight line.
 */
export class ServedFunction {
  readonly pool: Pool<Instance>;
  constructor(
    readonly config: FunctionConfig,
    readonly module: WebAssembly.Module,
    private readonly host: HostCalls,
    private readonly log: Logger,
    readonly origin: string,
  ) {
    const opts = { timeoutMs: config.limits.timeoutMs, maxMemoryPages: config.limits.memoryPages };
    this.pool = new Pool<Instance>({
      create: () => {
        const inst = new Instance(module, host, opts, config.name);
        inst.init();
        return inst;
      },
      minReplicas: config.scaleOptions.minReplicas,
      maxReplicas: config.scaleOptions.maxReplicas,
      maxQueue: config.scaleOptions.maxQueue,
      idleTimeoutMs: config.scaleOptions.idleTimeoutMs,
      singleUse: config.isolation === "fresh",
    });
  }

  get name(): string { return this.config.name; }
  get namespace(): string { return this.config.namespace; }

  async invoke(input: InvocationInput): Promise<InvocationResult> {
    const acquired = this.pool.acquire();
    const inst = acquired instanceof Promise ? await acquired : acquired;
    try {
      return await inst.invoke(new Invocation(input, this.config.name, this.log, this.config.limits.responseBytes));
    } finally {
      this.pool.release(inst);
    }
  }

  close(): void { this.pool.close(); }
}
