/**
 * P11: TypeScript functions (wasi:http/proxy components, componentize-js) against the
 * AssemblyScript hello, bare node:http and `wasmtime serve` on the same component, in the same wrk
 * run, interleaved; a component's first request from zero and from a fresh load in a warm shim
 * (cold transpile and from the transpile cache); componentize time; what a TS function ships.
 * Defaults as a user runs them (`wasm-fn run`, access log on; wasmtime serve as documented).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { BIN, ROOT, freePort, median, startCommand, startNode, wrk } from "./lib.js";

const HELLO = path.join(ROOT, "examples", "hello");
const HELLO_TS = path.join(ROOT, "examples", "hello-ts");
const TESTBED = path.join(ROOT, "test", "fixtures", "ts-testbed");
const CACHE = process.env.WASM_FN_CACHE ?? path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "wasm-fn");

function build(dir, env = {}) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, "build", dir, "--no-image"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`wasm-fn build ${dir} failed:\n${r.stderr}`);
  return performance.now() - t;
}

async function wasmtime(log) {
  const bin = execFileSync("bash", [path.join(ROOT, "scripts", "build-wasmtime.sh")], { encoding: "utf8", maxBuffer: 64 << 20 }).trim().split("\n").pop();
  const wasm = path.join(HELLO_TS, "dist", "hello-ts.wasm");
  const digest = createHash("sha256").update(await readFile(wasm)).digest("hex");
  const cwasm = path.join(CACHE, "cwasm", `${path.basename(bin)}-${digest}.cwasm`);
  if (!(await stat(cwasm).then(() => true, () => false))) {
    log("  wasmtime compile hello-ts (once)");
    execFileSync("mkdir", ["-p", path.dirname(cwasm)]);
    execFileSync(bin, ["compile", "-o", cwasm, wasm]);
  }
  return { bin, cwasm };
}

/** ms from sending to the whole answer, on a new connection. */
async function timed(url, init) {
  const t = performance.now();
  const r = await fetch(url, init);
  await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
  return performance.now() - t;
}

/** @param {{ rounds: number, seconds: number, connections: number, log: (s: string) => void, work: string }} o */
export async function componentRows(o) {
  o.log("P11: TypeScript components: builds (componentize, cold and cached)");
  build(HELLO);
  const coldCache = await mkdtemp(path.join(os.tmpdir(), "wfn-bench-cache-"));
  const componentizeCold = [];
  const componentizeCached = [];
  try {
    for (let i = 0; i < 2; i++) {
      await rm(path.join(coldCache, "componentize"), { recursive: true, force: true });
      componentizeCold.push(build(HELLO_TS, { WASM_FN_CACHE: coldCache }));
      componentizeCached.push(build(HELLO_TS, { WASM_FN_CACHE: coldCache }));
    }
  } finally {
    await rm(coldCache, { recursive: true, force: true });
  }
  build(TESTBED);
  const tsWasm = await readFile(path.join(HELLO_TS, "dist", "hello-ts.wasm"));
  const asWasm = await readFile(path.join(HELLO, "dist", "hello.wasm"));
  const bundle = await stat(path.join(HELLO_TS, "dist", "hello-ts.bundle.js"));

  o.log("P11: TS hello vs AS hello vs bare node:http vs wasmtime serve (same wrk settings, interleaved)");
  const wt = await wasmtime(o.log);
  const ports = { bare: await freePort(), as: await freePort(), ts: await freePort(), wasmtime: await freePort() };
  const urls = {
    bare: `http://127.0.0.1:${ports.bare}/default/hello`,
    as: `http://127.0.0.1:${ports.as}/default/hello`,
    ts: `http://127.0.0.1:${ports.ts}/default/hello-ts`,
    wasmtime: `http://127.0.0.1:${ports.wasmtime}/default/hello-ts`,
  };
  const servers = {
    bare: await startNode([path.join(ROOT, "test", "bench", "bare.js"), String(ports.bare)], { ready: urls.bare, cwd: o.work }),
    as: await startNode([BIN, "run", HELLO, "--port", String(ports.as)], { ready: urls.as, cwd: o.work }),
    ts: await startNode([BIN, "run", HELLO_TS, "--port", String(ports.ts)], { ready: urls.ts, cwd: o.work, timeoutMs: 120_000 }),
    wasmtime: await startCommand(wt.bin, ["serve", "--allow-precompiled", "-S", "cli", "--addr", `127.0.0.1:${ports.wasmtime}`, wt.cwasm], { ready: urls.wasmtime, cwd: o.work, timeoutMs: 120_000 }),
  };
  const res = { bare: [], as: [], ts: [], wasmtime: [] };
  try {
    for (const k of Object.keys(urls)) await wrk(urls[k], { connections: o.connections, seconds: 3 }); // warm up: JIT tiers, pools
    for (let r = 0; r < o.rounds; r++) {
      for (const k of ["bare", "as", "ts", "wasmtime"]) {
        const w = await wrk(urls[k], { connections: o.connections, seconds: o.seconds });
        if (w.non2xx || w.socketErrors) throw new Error(`${k}: ${w.non2xx} non-2xx, ${w.socketErrors} socket errors under load:\n${w.raw}`);
        res[k].push(w);
        o.log(`  round ${r + 1} ${k.padEnd(8)} ${Math.round(w.rps)} req/s  p50 ${w.p50.toFixed(2)} ms  p99 ${w.p99.toFixed(2)} ms`);
      }
    }
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
  const m = (k) => median(res[k].map((x) => x.rps));
  const ratio = (a, b) => median(res[a].map((x, i) => x.rps / res[b][i].rps));

  o.log("P11: a component's first request: scaled to zero, and loaded fresh into a warm shim (cold transpile, transpile cache)");
  const cache = await mkdtemp(path.join(os.tmpdir(), "wfn-bench-cache-"));
  const fromZero = [];
  const loadCold = [];
  const loadCached = [];
  const firstAfterLoad = [];
  try {
    const dir = await mkdtemp(path.join(o.work, "zero-"));
    await writeFile(path.join(dir, "hello-ts.wasm"), tsWasm);
    await writeFile(path.join(dir, "hello-ts.json"), JSON.stringify({ config: { name: "hello-ts", lang: "ts", scaleOptions: { minReplicas: 0, idleTimeout: "300ms" } } }));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/default/hello-ts`;
    const s = await startNode([BIN, "run", path.join(dir, "hello-ts.wasm"), "--port", String(port)], { ready: url, cwd: o.work, timeoutMs: 120_000, env: { WASM_FN_CACHE: cache } });
    try {
      for (let i = 0; i < 3; i++) await timed(url);
      for (let r = 0; r < Math.max(3, o.rounds); r++) {
        await new Promise((res2) => setTimeout(res2, 1200)); // past the idle timeout: scaled to zero
        fromZero.push(await timed(url));
      }
      const testbed = await readFile(path.join(TESTBED, "dist", "ts-testbed.wasm"));
      const put = async (bytes) => {
        const t = performance.now();
        const r2 = await fetch(`http://127.0.0.1:${port}/admin/functions/default/hello-ts`, { method: "PUT", body: bytes, headers: { "content-type": "application/wasm" } });
        if (r2.status !== 200) throw new Error(`admin PUT: ${r2.status} ${await r2.text()}`);
        return performance.now() - t;
      };
      for (let r = 0; r < 2; r++) {
        // A component this shim's cache has not seen: its transpile folder is removed first.
        await rm(path.join(cache, "components"), { recursive: true, force: true });
        loadCold.push(await put(testbed));
        firstAfterLoad.push(await timed(`${url}/count`));
        await put(tsWasm);
        await timed(url);
        loadCached.push(await put(testbed));
        firstAfterLoad.push(await timed(`${url}/count`));
        await put(tsWasm);
        await timed(url);
      }
    } finally {
      await s.stop();
    }
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
  const gz = gzipSync(tsWasm, { level: 9 }).length;
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;
  return [
    { id: "P11", figure: `TypeScript hello (examples/hello-ts, a componentize-js component) warm req/s through the shim, the defaults (wrk -t1 -c${o.connections}, ${o.seconds} s x ${o.rounds} rounds)`, value: `${Math.round(m("ts"))} req/s`, reference: `AssemblyScript hello ${Math.round(m("as"))} req/s`, ratio: `${ratio("ts", "as").toFixed(3)}x`, target: ">= 0.5x", met: ratio("ts", "as") >= 0.5 },
    { id: "P11", figure: "the same TS hello: the shim against `wasmtime serve -S cli` (wasmtime 48.0.8, precompiled; a fresh instance per request) on the same component", value: `${Math.round(m("ts"))} req/s`, reference: `wasmtime serve ${Math.round(m("wasmtime"))} req/s`, ratio: `${ratio("ts", "wasmtime").toFixed(2)}x`, target: "> 10x", met: ratio("ts", "wasmtime") > 10 },
    { id: "P11 (info)", figure: "the same TS hello against bare node:http answering hello's bytes", value: `${Math.round(m("ts"))} req/s`, reference: `bare node:http ${Math.round(m("bare"))} req/s`, ratio: `${ratio("ts", "bare").toFixed(3)}x`, target: "-", met: null },
    { id: "P11 (info)", figure: "p99 latency at the same load: TS hello vs AS hello", value: `${median(res.ts.map((x) => x.p99)).toFixed(2)} ms`, reference: `AS ${median(res.as.map((x) => x.p99)).toFixed(2)} ms`, ratio: `${(median(res.ts.map((x) => x.p99)) / median(res.as.map((x) => x.p99))).toFixed(1)}x`, target: "-", met: null },
    { id: "P11", figure: "a TS function's first request from the transpile cache: hello-ts loaded in a warm shim (transpile cached, compiled at load), scaled to zero (no instance), client-side latency", value: `${median(fromZero).toFixed(1)} ms`, reference: "AS hello from zero: P4", ratio: "-", target: "<= 50 ms", met: median(fromZero) <= 50 },
    { id: "P11 (info)", figure: "loading a new component into a warm shim (admin PUT; read, cap, compile eagerly), from the transpile cache / with a cold transpile (jco); then its first request", value: `${median(loadCached).toFixed(0)} ms / ${median(loadCold).toFixed(0)} ms; first request ${median(firstAfterLoad).toFixed(0)} ms`, reference: "-", ratio: "-", target: "-", met: null },
    { id: "P11", figure: "`wasm-fn build examples/hello-ts --no-image` wall time: componentize cold (empty cache) / cached (same bundle)", value: `${(median(componentizeCold) / 1000).toFixed(1)} s / ${(median(componentizeCached) / 1000).toFixed(1)} s`, reference: "AS hello: P6", ratio: "-", target: "report", met: null },
    { id: "P11", figure: "what a TS function ships: the component (= the OCI artifact's one layer), gzipped; the bundle componentize was given", value: `${mib(tsWasm.length)}; gzip ${mib(gz)}; bundle ${kib(bundle.size)}`, reference: `AS hello module ${kib(asWasm.length)}`, ratio: `${Math.round(tsWasm.length / asWasm.length)}x`, target: "report", met: null },
  ];
}
