import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile, rename } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { WfnError, capMemory, encodeList } from "@wasm-fn/abi";
import { eventInputs, isPubsubOutput, topicRoute, type FunctionConfig } from "./config.js";
import { BuildErrors } from "./errors.js";
import { cacheRoot } from "./instrumented.js";

const require = createRequire(import.meta.url);
const run = promisify(execFile);
type Binaryen = typeof import("binaryen").default;
type BModule = InstanceType<Binaryen["Module"]>;

/** The adapter's AssemblyScript source (this package's `adapter/` folder). */
export const ADAPTER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "adapter");
const WASI = "wasi_snapshot_preview1";
/** Features of the WasmEdge form: multi-memory joins the guest's memory and the adapter's. */
const FEATURES = ["MutableGlobals", "BulkMemory", "BulkMemoryOpt", "SignExt", "NontrappingFPToInt", "MultiMemory"];

/**
 * Links a guest module (ABI v1, fuel-instrumented, not asyncified) with the WasmEdge adapter into
 * one WASI command: `wasmedge --env PORT=8080 fn.wasm` serves the function over HTTP and reaches
 * Dapr over its HTTP API. The result imports only `wasi_snapshot_preview1` (with WasmEdge's
 * socket functions) and has two memories: the adapter's (index 0, the one WASI sees) and the
 * guest's, joined by a small glue module that copies between them.
 *
 * @example const cmd = await linkWasmEdge(guestBytes, config, { optimize: true });
 */
export async function linkWasmEdge(guest: Uint8Array, config: FunctionConfig, opts: { optimize: boolean }): Promise<Uint8Array> {
  const { default: binaryen } = await import("binaryen");
  const adapter = await adapterModule();
  // The guest memory's maximum is limits.memory, as in the shim: growth past it fails inside the guest.
  const prepared = prepareGuest(binaryen, capMemory(guest, config.limits.memoryPages, `${config.name} (${config.entry})`), config);
  const glue = glueModule(binaryen, adapterConfig(config));
  const dir = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-link-"));
  try {
    const files = { adapter: path.join(dir, "adapter.wasm"), guest: path.join(dir, "guest.wasm"), glue: path.join(dir, "glue.wasm"), out: path.join(dir, "merged.wasm") };
    await writeFile(files.adapter, adapter);
    await writeFile(files.guest, prepared);
    await writeFile(files.glue, glue);
    // binaryen's wasm-merge (the `binaryen` package's build) in a child process: ~0.8 s for hello, most of
    // it merging the adapter. Tried on a worker thread started with the build, to hide its load: the
    // build got slower (the load competes with the compile for the 2 cores), so a plain child it is.
    const tool = path.join(path.dirname(require.resolve("binaryen/package.json")), "bin", "wasm-merge");
    try {
      await run(process.execPath, [tool, files.adapter, "wfn", files.guest, "wfn_guest", files.glue, "wfn_glue", "-o", files.out, "--rename-export-conflicts",
        "--enable-multimemory", "--enable-bulk-memory", "--enable-bulk-memory-opt", "--enable-sign-ext", "--enable-mutable-globals", "--enable-nontrapping-float-to-int"]);
    } catch (e) {
      throw new WfnError(BuildErrors.COMPILE, `linking ${config.name} with the WasmEdge adapter failed: ${String((e as { stderr?: string }).stderr ?? e).trim().slice(0, 600)}`);
    }
    return finish(binaryen, await readFile(files.out), config, opts);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function features(binaryen: Binaryen): number {
  const F = binaryen.Features as unknown as Record<string, number>;
  return FEATURES.reduce((acc, f) => acc | (F[f] ?? 0), 0);
}

/**
 * The guest as the adapter links it: its WASI imports renamed to the adapter's shims
 * (`wfn.wasi_<name>`, served against the guest's memory), and its exports reduced to what the
 * adapter calls, with one initialiser `wfn_init` (`_initialize`, `_start` or nothing).
 */
function prepareGuest(binaryen: Binaryen, bytes: Uint8Array, config: FunctionConfig): Uint8Array {
  const mod = binaryen.readBinary(bytes);
  try {
    mod.setFeatures(features(binaryen));
    const wasi: ReturnType<Binaryen["getFunctionInfo"]>[] = [];
    for (let i = 0; i < mod.getNumFunctions(); i++) {
      const info = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
      if (info.module === WASI) wasi.push(info);
    }
    for (const info of wasi) {
      const shim = `${info.name}$wfn`;
      mod.removeFunction(info.name);
      mod.addFunctionImport(shim, "wfn", `wasi_${info.base}`, info.params, info.results);
      const params = binaryen.expandType(info.params);
      mod.addFunction(info.name, info.params, info.results, [], mod.call(shim, params.map((t, i) => mod.local.get(i, t)), info.results));
    }
    const exports: ReturnType<Binaryen["getExportInfo"]>[] = [];
    for (let i = 0; i < mod.getNumExports(); i++) exports.push(binaryen.getExportInfo(mod.getExportByIndex(i)));
    for (const e of exports) mod.removeExport(e.name);
    let init: string | undefined;
    for (const e of exports) {
      if (e.kind === binaryen.ExternalMemory && e.name === "memory") mod.addMemoryExport(e.value, "memory");
      else if (e.kind === binaryen.ExternalFunction && (e.name === "wfn_handle" || e.name === "wfn_abi_version")) mod.addFunctionExport(e.value, e.name);
      else if (e.kind === binaryen.ExternalFunction && (e.name === "_initialize" || (e.name === "_start" && !init))) init = e.value;
    }
    if (!init) {
      init = "wfn$noinit";
      mod.addFunction(init, binaryen.none, binaryen.none, [], mod.nop());
    }
    mod.addFunctionExport(init, "wfn_init");
    if (!mod.validate()) throw new WfnError(BuildErrors.COMPILE, `${config.name}: the guest module is not valid after preparing it for WasmEdge`);
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

/** The glue: copies between the two memories and the config as a passive data segment. */
function glueModule(binaryen: Binaryen, config: Uint8Array): Uint8Array {
  const data = [...config].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
  const mod = binaryen.parseText(`(module
  (import "wfn" "memory" (memory $a 0))
  (import "wfn_guest" "memory" (memory $g 0))
  (data $cfg "${data}")
  (func (export "to_guest") (param i32 i32 i32) (memory.copy $g $a (local.get 0) (local.get 1) (local.get 2)))
  (func (export "from_guest") (param i32 i32 i32) (memory.copy $a $g (local.get 0) (local.get 1) (local.get 2)))
  (func (export "guest_size") (result i32) (i32.shl (memory.size $g) (i32.const 16)))
  (func (export "config_len") (result i32) (i32.const ${config.length}))
  (func (export "config_copy") (param i32) (memory.init $a $cfg (local.get 0) (i32.const 0) (i32.const ${config.length}))))`);
  try {
    mod.setFeatures(features(binaryen));
    if (!mod.validate()) throw new Error("the WasmEdge glue module is invalid");
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

/** Keeps `_start` and the adapter's memory (index 0, the one WASI calls use) and drops the rest. */
function finish(binaryen: Binaryen, merged: Uint8Array, config: FunctionConfig, opts: { optimize: boolean }): Uint8Array {
  const mod = binaryen.readBinary(merged);
  try {
    mod.setFeatures(features(binaryen));
    const exports = new Map<string, string>();
    for (let i = 0; i < mod.getNumExports(); i++) { const e = binaryen.getExportInfo(mod.getExportByIndex(i)); exports.set(e.name, e.value); }
    const init = exports.get("_wfn_adapter_start");
    const main = exports.get("wfn_main");
    if (!init || !main) throw new WfnError(BuildErrors.COMPILE, `${config.name}: the WasmEdge adapter lacks its entry points`);
    for (const n of exports.keys()) if (n !== "memory") mod.removeExport(n);
    mod.addFunction("wfn$start", binaryen.none, binaryen.none, [], mod.block(null, [mod.call(init, [], binaryen.none), mod.call(main, [], binaryen.none)]));
    mod.addFunctionExport("wfn$start", "_start");
    // Both halves are optimised already (the adapter when it is compiled, the guest by instrument):
    // dropping what nothing reaches any more is all that is left, and a full -O3 of the merged module
    // would cost ~2 s of every build (measured) for a few hundred bytes.
    if (opts.optimize) mod.runPasses(["remove-unused-module-elements"]);
    if (!mod.validate()) throw new WfnError(BuildErrors.COMPILE, `${config.name}: the linked WasmEdge module is not valid`);
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

/** The function's config as the adapter reads it (adapter/config.ts): a flat key/value byte-string list. */
export function adapterConfig(config: FunctionConfig): Uint8Array {
  const topics: string[] = [];
  const subscriptions: { pubsubname: string; topic: string; route: string; metadata?: Record<string, string>; deadLetterTopic?: string }[] = [];
  const bindings: string[] = [];
  for (const input of eventInputs(config)) {
    if (input.kind === "binding") { bindings.push(input.name); continue; }
    const route = topicRoute(input.name, input.topic);
    topics.push(route, input.name, input.topic);
    // deadLetterTopic: daprd moves an event there when its delivery fails (RETRY after daprd's own
    // retries, DROP, no answer), as for the shim's subscriptions (docs/wasmedge.md).
    subscriptions.push({
      pubsubname: input.name, topic: input.topic, route,
      ...(Object.keys(input.metadata).length ? { metadata: input.metadata } : {}),
      ...(input.deadLetterTopic ? { deadLetterTopic: input.deadLetterTopic } : {}),
    });
  }
  const outputs: (string | Uint8Array)[] = [];
  for (const { dapr: o } of config.outputs) {
    const pubsub = isPubsubOutput(o);
    const meta: string[] = [];
    for (const [k, v] of Object.entries(o.metadata ?? {})) meta.push(k, v);
    outputs.push(pubsub ? "pubsub" : "binding", o.name, pubsub ? (o.topic ?? "") : (o.operation ?? "create"), encodeList(meta));
  }
  return encodeList([
    "name", config.name,
    "namespace", config.namespace,
    "timeoutMs", String(config.limits.timeoutMs),
    "requestBytes", String(config.limits.requestBytes),
    "responseBytes", String(config.limits.responseBytes),
    "paths", encodeList(config.triggers.http?.route?.paths ?? []),
    "hosts", encodeList(config.permissions.hosts),
    "subscribe", JSON.stringify(subscriptions),
    "topics", encodeList(topics),
    "bindings", encodeList(bindings),
    "outputs", encodeList(outputs),
    "grant.states", encodeList(config.permissions.states),
    "grant.publish", encodeList(config.permissions.publish),
    "grant.bindings", encodeList(config.permissions.bindings),
    "grant.secrets", encodeList(config.permissions.secrets),
    "grant.configuration", encodeList(config.permissions.configuration),
    "grant.invoke", encodeList(config.permissions.invoke),
  ]);
}

let cached: Promise<Uint8Array> | undefined;

/**
 * The adapter module, compiled from `adapter/*.ts` by AssemblyScript (in-process) once per source
 * hash and cached beside this package's build output (or in ~/.cache/wasm-fn when that is read-only).
 */
export function adapterModule(): Promise<Uint8Array> {
  return (cached ??= compileAdapterCached());
}

async function compileAdapterCached(): Promise<Uint8Array> {
  const files = (await readdir(ADAPTER_DIR)).filter((f) => f.endsWith(".ts")).sort();
  const hash = createHash("sha256");
  hash.update(require("assemblyscript/package.json").version as string);
  for (const f of files) hash.update(f).update(await readFile(path.join(ADAPTER_DIR, f)));
  const key = hash.digest("hex").slice(0, 16);
  const dirs = [path.join(ADAPTER_DIR, "..", "dist"), path.join(cacheRoot(), "adapter")];
  for (const d of dirs) {
    try { return await readFile(path.join(d, `wasmedge-adapter-${key}.wasm`)); } catch { /* not cached there */ }
  }
  const wasm = await compileAdapter();
  for (const d of dirs) {
    try {
      await mkdir(d, { recursive: true });
      const file = path.join(d, `wasmedge-adapter-${key}.wasm`);
      await writeFile(`${file}.${process.pid}.tmp`, wasm);
      await rename(`${file}.${process.pid}.tmp`, file);
      break;
    } catch { /* read-only: try the next place */ }
  }
  return wasm;
}

async function compileAdapter(): Promise<Uint8Array> {
  const { default: asc } = await import("assemblyscript/asc");
  let binary: Uint8Array | undefined;
  let diagnostics = "";
  const { error } = await asc.main(
    // The same WASI shim config as guests (asc keeps library files between in-process runs).
    ["index.ts", "--baseDir", ADAPTER_DIR, "--outFile", "adapter.wasm", "--config", require.resolve("@assemblyscript/wasi-shim/asconfig.json"),
      "--runtime", "incremental", "--optimizeLevel", "3", "--shrinkLevel", "2", "--noAssert", "--disableWarning", "--exportStart", "_wfn_adapter_start"],
    {
      readFile: async (name: string, baseDir: string) => { try { return await readFile(path.resolve(baseDir, name), "utf8"); } catch { return null; } },
      listFiles: async (dirname: string, baseDir: string) => {
        try { return (await readdir(path.resolve(baseDir, dirname))).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")); } catch { return null; }
      },
      writeFile: (name: string, contents: Uint8Array | string) => { if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents; },
      stdout: { write: () => undefined },
      stderr: { write: (s: string | Uint8Array) => { diagnostics += typeof s === "string" ? s : Buffer.from(s).toString("utf8"); } },
    } as never,
  );
  if (error || !binary) throw new WfnError(BuildErrors.COMPILE, `the WasmEdge adapter (${ADAPTER_DIR}) does not compile:\n${diagnostics.replace(/\x1b\[[0-9;]*m/g, "").trim() || error?.message}`);
  return binary;
}
