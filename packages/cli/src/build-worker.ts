/**
 * Builds for `wasm-fn dev` on a worker thread: the AssemblyScript compiler and Binaryen hold their
 * thread for hundreds of ms per build, which on the main thread would stall every request the shim
 * is serving (test/bench/dev-build-stall.js, examples/hello, warm builds on a 2-core machine at load
 * average ~20: the event loop's longest stall 506-968 ms per build on the main thread, 17-43 ms with
 * the build here). One worker for the whole session, so the compiler stays warm in it. This file is both the worker (when started with
 * `workerData.wasmFnBuildWorker`) and its client, `BuildWorker`.
 *
 * A TS/JS function is built on the main thread: componentize-js spawns its helper with the
 * process's stdio, which a worker thread does not have (Node refuses the worker's stdio streams).
 * Its slow part (componentize, ~20 s, cached by bundle) runs in that child process anyway.
 */
import { createHash } from "node:crypto";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { WfnError } from "@wasm-fn/abi";
import { asWfnError } from "./errors.js";

export interface BuildOptions { dir: string; optimize: boolean }
/** What dev needs of a build: who it is, and a key that changes when the module or the config does. */
export interface Built { name: string; namespace: string; key: string }

type Reply =
  | { id: number; step: string }
  | { id: number; built: Built }
  | { id: number; error: { code: string; message: string } };

/** Runs builds on one worker thread, one at a time (dev never asks for two at once). */
export class BuildWorker {
  private worker: Worker | null = null;
  private pending = new Map<number, { resolve: (b: Built) => void; reject: (e: WfnError) => void; step: (s: string) => void }>();
  private next = 0;

  async build(opts: BuildOptions, step: (s: string) => void): Promise<Built> {
    // An unreadable or invalid config goes to the worker, which reports it as the build's error.
    const { loadConfig } = await import("@wasm-fn/build/config");
    const lang = await loadConfig(opts.dir).then((c) => c.lang, () => null);
    if (lang === "ts" || lang === "js") {
      try { return await buildOnce(opts, step); } catch (e) { throw asWfnError(e); }
    }
    const id = this.next++;
    return new Promise<Built>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, step });
      this.start().postMessage({ id, ...opts });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    await w?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(new URL(import.meta.url), { workerData: { wasmFnBuildWorker: true } });
    w.unref(); // the shim's server keeps dev alive, not this
    w.on("message", (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      if ("step" in m) return p.step(m.step);
      this.pending.delete(m.id);
      if ("built" in m) p.resolve(m.built);
      else p.reject(new WfnError(m.error.code, m.error.message));
    });
    // A worker that dies (out of memory in the compiler, say) fails its build; the next build starts another.
    const lost = (why: string) => {
      if (this.worker === w) this.worker = null;
      for (const p of this.pending.values()) p.reject(new WfnError("WFN_INTERNAL", `the build thread stopped (${why}); save again to rebuild`));
      this.pending.clear();
    };
    w.on("error", (e) => lost(e.message));
    w.on("exit", (code) => lost(`exit code ${code}`));
    this.worker = w;
    return w;
  }
}

/** One build of the module only (no image, no WasmEdge form), summed up for dev. */
async function buildOnce({ dir, optimize }: BuildOptions, step: (s: string) => void): Promise<Built> {
  const { buildAndPackage } = await import("./commands/build.js");
  const { result } = await buildAndPackage(dir, { image: false, wasmedge: false, optimize }, step);
  // The metadata holds the module's digest and the config as written: equal keys, nothing to swap.
  const key = createHash("sha256").update(JSON.stringify(result.metadata)).digest("hex");
  return { name: result.metadata.name, namespace: result.metadata.namespace, key };
}

function serve(): void {
  parentPort!.on("message", async ({ id, ...opts }: BuildOptions & { id: number }) => {
    let reply: Reply;
    try {
      reply = { id, built: await buildOnce(opts, (step) => parentPort!.postMessage({ id, step } satisfies Reply)) };
    } catch (e) {
      const err = asWfnError(e);
      reply = { id, error: { code: err.code, message: err.message } };
    }
    parentPort!.postMessage(reply);
  });
}

if (!isMainThread && (workerData as { wasmFnBuildWorker?: boolean } | null)?.wasmFnBuildWorker) serve();
