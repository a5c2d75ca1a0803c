/**
 * In-process measurements behind the runtime's choices (docs/runtime.md), no HTTP:
 * - the function step (pool + instance + guest) per invocation, main thread and worker thread;
 * - fresh isolation: reuse vs reset of memory + globals vs a new instance per request;
 * - instantiate from a compiled module; a worker thread's start.
 * Run alone: node test/bench/inprocess.js
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ROOT, median } from "./lib.js";

const HELLO = path.join(ROOT, "examples", "hello");
const INPUT = { requestId: "00000000-0000-0000-0000-000000000000", method: "GET", path: "/", query: "", headers: { host: "127.0.0.1", "user-agent": "wrk" }, body: new Uint8Array(0) };

/** µs per call of f, median of `rounds` timed batches after a warm-up. */
async function perCall(f, n, rounds = 5) {
  for (let i = 0; i < n; i++) await f();
  const out = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await f();
    out.push(((performance.now() - t) * 1000) / n);
  }
  return median(out);
}

export async function runInProcess() {
  const { startShim, silentLogger } = await import("@wasm-fn/runtime-shim");
  const dist = path.join(ROOT, "runtime-shim", "dist");
  const { Instance } = await import(path.join(dist, "instance", "instance.js"));
  const { Invocation } = await import(path.join(dist, "instance", "invocation.js"));
  const { exportMutableGlobals } = await import(path.join(dist, "instance", "snapshot.js"));
  const { capMemory } = await import(path.join(ROOT, "packages", "abi", "dist", "index.js"));
  const out = {};

  // The function step through the shim's ServedFunction (what a request pays besides HTTP).
  for (const offload of ["never", "always"]) {
    const shim = await startShim({ functions: [{ kind: "dir", dir: HELLO }], port: 0, log: silentLogger, admin: false, offload });
    const fn = shim.functions[0];
    const t = performance.now();
    await fn.invoke(INPUT);
    const first = performance.now() - t;
    if (offload === "never") {
      // 64 at a time, as from 64 connections: answers are released once per event-loop turn, so one at a time would time the turn.
      out.mainUs = (await perCall(() => Promise.all(Array.from({ length: 64 }, () => fn.invoke(INPUT))), 2000)) / 64;
    } else out.workerUs = await perCall(() => fn.invoke(INPUT), 5000);
    if (offload === "always") {
      out.workerStartMs = first;
      // Throughput with 16 invocations in flight: the worker computes while the main thread does the rest.
      const n = 20000;
      const t1 = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: 16 }, async () => { while (next++ < n) await fn.invoke(INPUT); }));
      out.workerConcurrentUs = ((performance.now() - t1) * 1000) / n;
    }
    await shim.close();
  }

  // Fresh isolation: the same guest and host imports, three ways to get a pristine instance.
  const bytes = capMemory(await readFile(path.join(HELLO, "dist", "hello.wasm")), 1024, "hello");
  const rewritten = exportMutableGlobals(bytes);
  const mod = new WebAssembly.Module(rewritten.bytes);
  const host = { call: () => new Uint8Array(0) };
  const opts = { timeoutMs: 10000, maxMemoryPages: 1024 };
  const inv = () => new Invocation(INPUT, "hello", silentLogger, 1 << 20);
  const reuse = new Instance(mod, host, opts, "hello");
  reuse.init();
  out.reuseUs = await perCall(() => reuse.invoke(inv()), 100000);
  const reset = new Instance(mod, host, { ...opts, snapshot: rewritten.plan }, "hello");
  reset.init();
  out.resetUs = await perCall(() => { reset.invoke(inv()); reset.reset(); }, 50000);
  out.newUs = await perCall(() => { const i = new Instance(mod, host, opts, "hello"); i.init(); i.invoke(inv()); }, 5000);
  out.instantiateUs = await perCall(() => new WebAssembly.Instance(mod, { wfn: new Proxy({}, { get: () => () => 0 }), wasi_snapshot_preview1: new Proxy({}, { get: () => () => 0 }) }), 5000);
  out.memoryKiB = new WebAssembly.Instance(mod, { wfn: new Proxy({}, { get: () => () => 0 }), wasi_snapshot_preview1: new Proxy({}, { get: () => () => 0 }) }).exports.memory.buffer.byteLength / 1024;
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await runInProcess());
