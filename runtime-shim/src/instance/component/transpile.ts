/**
 * A component as the shim runs it: jco transpiles it once per content digest into JS (the
 * component model's glue) and core Wasm modules, cached on disk under the wasm-fn cache folder
 * (`components/<jco version>/<sha256>/`), so a restart or a second shim loads it in milliseconds.
 * The core modules are compiled once per process and shared by every instance's worker thread.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { capMemory, componentInterfaces, WfnError } from "@wasm-fn/abi";
import { cacheRoot } from "@wasm-fn/build/instrumented";
import { ShimErrors } from "../../errors.js";
import { PROVIDED } from "./wasi-p2.js";

/**
 * The jco this shim transpiles with (runtime-shim/package.json pins it; a test checks they agree):
 * part of the cache key. Not the newest: jco 1.35.0's glue (component-model async tasks on every
 * call) made hello 1.7x slower per request and a new instance 6x slower to make (docs/runtime.md, "Components").
 */
export const JCO_VERSION = "1.10.2";

/**
 * jco's glue calls `_debugLog` on every lift and lower, and each call reads `process.env.JCO_DEBUG`
 * (a lookup into the C++ environment): about a third of hello's time per request. The shim never
 * sets it, so the function returns at once. Applied when the transpile is cached.
 */
export function patchGlue(js: string): string {
  return js.replace("const _debugLog = (...args) => {", "const _debugLog = (...args) => { return;");
}

export interface ComponentMeta {
  digest: string;
  /** Interfaces it imports and exports, with their versions (componentInterfaces). */
  imports: string[];
  exports: string[];
  /** The world it targets as far as the shim cares, e.g. `wasi:http/proxy@0.2.10`. */
  world: string;
  /** The export that handles requests: `wasi:http/incoming-handler@0.2.x`, also jco's name for it. */
  handlerExport: string;
}

export interface CompiledComponent {
  kind: "component";
  meta: ComponentMeta;
  dir: string;
  jsPath: string;
  modules: Record<string, WebAssembly.Module>;
  /** Whether this load transpiled it (false: from the cache). */
  transpiled: boolean;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function cacheDir(digest: string): string {
  return path.join(cacheRoot(), "components", `jco-${JCO_VERSION}`, digest);
}

/** Transpiles (or reads from the cache) and compiles a component; checks it is a wasi:http/proxy component this host can serve. */
export async function compileComponent(bytes: Uint8Array, origin: string, maxMemoryPages: number): Promise<CompiledComponent> {
  const digest = sha256(bytes);
  const dir = cacheDir(digest);
  let meta = await readFile(path.join(dir, "meta.json"), "utf8").then((s) => JSON.parse(s) as ComponentMeta, () => null);
  let transpiled = false;
  if (!meta) {
    meta = await transpileToCache(bytes, origin, digest, dir);
    transpiled = true;
  }
  const modules: Record<string, WebAssembly.Module> = {};
  // Compiled eagerly (Liftoff, on V8's background threads): ~0.4 s more at load for a StarlingMonkey
  // component, and its first request no longer compiles hundreds of functions on the way (~110 -> ~25 ms).
  setFlagsFromString("--no-wasm-lazy-compilation");
  try {
    await compileAll();
  } finally {
    setFlagsFromString("--wasm-lazy-compilation");
  }
  return { kind: "component", meta, dir, jsPath: path.join(dir, "component.js"), modules, transpiled };

  async function compileAll(): Promise<void> {
    for (const f of await readdir(dir)) {
      if (!f.endsWith(".wasm")) continue;
      const raw = await readFile(path.join(dir, f));
      // The memory the component's own core module defines is capped like a core function's (limits.memory).
      const capped = capMemory(raw, maxMemoryPages, origin);
      try {
        modules[f] = await WebAssembly.compile(capped as Uint8Array<ArrayBuffer>);
      } catch (e) {
        throw new WfnError("WFN_NOT_WASM", `${origin}: a core module of the component does not compile: ${(e as Error).message}`, { status: 400 });
      }
    }
  }
}

/** What the shim uses of jco's API (its published types do not cover transpile's result). */
interface Jco {
  transpile(component: Uint8Array, opts: Record<string, unknown>): Promise<{ files: Record<string, Uint8Array> }>;
}

/**
 * What the shim serves, checked on the component's own sections before jco spends any time on it:
 * a wasi:http/proxy component importing only what wasi-p2.ts provides.
 */
function checkInterfaces(bytes: Uint8Array, origin: string, digest: string): ComponentMeta {
  let ifs: ReturnType<typeof componentInterfaces>;
  try {
    ifs = componentInterfaces(bytes);
  } catch (e) {
    throw new WfnError("WFN_NOT_WASM", `${origin} is not a well-formed component: ${(e as Error).message}`, { status: 400 });
  }
  const { handler, world } = ifs;
  if (handler === null || world === null) {
    throw new WfnError(ShimErrors.LOAD, `${origin} is a component but does not export wasi:http/incoming-handler@0.2.x (it exports ${ifs.exports.join(", ") || "nothing"}): the shim serves wasi:http/proxy components`, { status: 400 });
  }
  const unknown = ifs.imports.map((i) => i.replace(/@[^@]*$/, "")).filter((i) => !(PROVIDED as readonly string[]).includes(i));
  if (unknown.length > 0) {
    throw new WfnError(ShimErrors.LOAD, `${origin} imports ${unknown.join(", ")}, which the shim does not provide: it serves wasi:http/proxy components (wasi:http, io, clocks, random, cli)`, { status: 400 });
  }
  return { digest, imports: ifs.imports, exports: ifs.exports, world, handlerExport: handler };
}

async function transpileToCache(bytes: Uint8Array, origin: string, digest: string, dir: string): Promise<ComponentMeta> {
  const meta = checkInterfaces(bytes, origin, digest);
  const { transpile } = (await import("@bytecodealliance/jco")) as unknown as Jco;
  let out: Awaited<ReturnType<Jco["transpile"]>>;
  try {
    out = await transpile(bytes, { name: "component", instantiation: "sync", wasiShim: false, quiet: true, noTypescript: true, base64Cutoff: 0 });
  } catch (e) {
    throw new WfnError("WFN_NOT_WASM", `${origin} is not a component jco can transpile: ${(e as Error).message}`, { status: 400 });
  }
  // Written next to the final folder, then renamed: a reader never sees half a transpile.
  const tmp = `${dir}.${process.pid}.${Date.now()}.tmp`;
  await mkdir(tmp, { recursive: true });
  try {
    for (const [f, b] of Object.entries(out.files)) {
      if (f.endsWith(".d.ts") || f.includes("/")) continue;
      await writeFile(path.join(tmp, f), f === "component.js" ? patchGlue(Buffer.from(b).toString("utf8")) : b);
    }
    // Node must read component.js as an ES module wherever the cache is.
    await writeFile(path.join(tmp, "package.json"), '{"type":"module"}\n');
    await writeFile(path.join(tmp, "meta.json"), JSON.stringify(meta, null, 2));
    await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
      // Another load of the same component won: its copy is the same bytes.
      if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return meta;
}
