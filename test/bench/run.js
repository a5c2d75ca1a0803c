/**
 * `npm run bench`: measures P1-P7 of ../shared/guide/TARGETS.md (P8/P9 through test/bench/dapr.js
 * when present) and writes docs/benchmarks.md. P1 is the defaults a user runs (access log on); the
 * `--no-access-log` figure is reported beside it, never instead of it. Every figure is reported beside a reference
 * measured in the same run on the same machine, interleaved, as the median of several rounds.
 *
 * Needs: `npx tsc -b` done (npm run bench does it), wrk (Debian package `wrk`, installed by
 * scripts/provision.sh). Uses only 127.0.0.1. Environment: BENCH_ROUNDS (default 5),
 * BENCH_SECONDS (wrk duration per run, default 5), BENCH_SKIP (comma list: limits,p7,dapr,wasmedge,components,kube,abuse).
 */
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { runInProcess } from "./inprocess.js";
import { runLimits } from "./limits.js";
import { runAbuse } from "./abuse.js";
import { wasmedgeRows } from "./wasmedge.js";
import { componentRows } from "./components.js";
import { BIN, ROOT, cpuSeconds, freePort, get, hasWrk, machineLine, median, rssOf, sleep, startNode, wrk } from "./lib.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SKIP = new Set((process.env.BENCH_SKIP ?? "").split(",").filter(Boolean));
const CONNECTIONS = 50;
const HELLO = path.join(ROOT, "examples", "hello");
const log = (s) => process.stderr.write(s + "\n");

/** @typedef {{ id: string, figure: string, value: string, reference: string, ratio: string, target: string, met?: boolean | null, note?: string }} Row */

async function main() {
  if (!hasWrk()) throw new Error("wrk not found: run `bash scripts/provision.sh` (apt-get install wrk)");
  const machine = machineLine();
  log(`wasm-fn bench: ${machine}`);
  const work = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-bench-"));
  /** @type {Row[]} */
  const rows = [];
  const extra = { notes: /** @type {string[]} */ ([]) };
  try {
    rows.push(...(await p6Build()));
    const tp = await throughput(work);
    rows.push(...tp.rows);
    extra.cpu = tp.cpu;
    extra.fresh = tp.fresh;
    rows.push(await p4ScaleFromZero(work));
    rows.push(await p5ProcessStart(work));
    if (!SKIP.has("p7")) rows.push(await p7Density(work));
    log("in-process: the function step, fresh isolation, workers");
    extra.inproc = await runInProcess();
    if (!SKIP.has("dapr")) rows.push(...(await daprRows(extra.notes)));
    if (!SKIP.has("wasmedge")) rows.push(...(await wasmedgeRows({ rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, log, work })));
    if (!SKIP.has("components")) rows.push(...(await componentRows({ rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, log, work })));
    if (!SKIP.has("kube")) rows.push(...(await kubeRows(work, extra.notes)));
    if (!SKIP.has("limits")) extra.limits = await runLimits({ rounds: Math.max(1, Math.min(3, ROUNDS)), log });
    if (!SKIP.has("abuse")) {
      const seconds = Number(process.env.BENCH_ABUSE_SECONDS ?? 60);
      log(`mixed abuse: ${seconds} s, the defaults, then --runaways threads`);
      extra.abuse = [await runAbuse({ seconds, log }), await runAbuse({ seconds, log, args: ["--runaways", "threads"] })];
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const md = render(machine, rows, extra);
  await writeFile(path.join(ROOT, "docs", "benchmarks.md"), md);
  log(`\nwrote docs/benchmarks.md`);
  process.stdout.write(md);
}

// ---- P6: build time and image size ----------------------------------------------------------

async function p6Build() {
  log("P6: wasm-fn build examples/hello (3 runs)");
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [BIN, "build", HELLO, "--tar"], { cwd: ROOT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`wasm-fn build failed:\n${r.stderr}`);
    times.push(performance.now() - t);
  }
  const dist = path.join(HELLO, "dist");
  const wasm = (await stat(path.join(dist, "hello.wasm"))).size;
  const tar = await stat(path.join(dist, "hello.oci.tar")).then((s) => s.size, () => NaN);
  const blobs = await dirSize(path.join(dist, "oci", "blobs"));
  const ms = median(times);
  return [
    { id: "P6", figure: "`wasm-fn build examples/hello --tar`, wall time (process start to exit)", value: `${Math.round(ms)} ms`, reference: "-", ratio: "-", target: "<= 3 s", met: ms <= 3000 },
    { id: "P6", figure: "image size: OCI blobs (manifest + config + layer); oci-archive tar; module", value: `${kib(blobs)} KiB; tar ${kib(tar)} KiB; module ${kib(wasm)} KiB`, reference: "Spin hello ~284 kB; Node base image ~40 MB", ratio: "-", target: "<= 64 KiB", met: Math.max(blobs, tar) <= 64 * 1024 },
  ];
}

async function dirSize(dir) {
  const { readdir } = await import("node:fs/promises");
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += (await stat(path.join(e.parentPath ?? e.path, e.name))).size;
  }
  return n;
}

// ---- P1-P3: throughput and p99 against bare node:http, interleaved ---------------------------

async function throughput(work) {
  const freshDir = path.join(work, "fresh");
  await mkdir(freshDir, { recursive: true });
  await cp(path.join(HELLO, "dist", "hello.wasm"), path.join(freshDir, "hello.wasm"));
  await writeFile(path.join(freshDir, "hello.json"), JSON.stringify({ config: { name: "hello", isolation: "fresh" } }));
  const [pb, pbb, ps, pq, pf] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  // shim: the defaults a user runs (access log on, read from a pipe like a log collector would);
  // quiet: the same with --no-access-log, reported beside it, never instead of it.
  const servers = {
    bare: await startNode([path.join(ROOT, "test", "bench", "bare.js"), String(pb)], { ready: `http://127.0.0.1:${pb}/`, cwd: work }),
    batched: await startNode([path.join(ROOT, "test", "bench", "bare.js"), String(pbb), "--batch"], { ready: `http://127.0.0.1:${pbb}/`, cwd: work }),
    shim: await startNode([BIN, "run", HELLO, "--port", String(ps)], { ready: `http://127.0.0.1:${ps}/default/hello`, cwd: work }),
    quiet: await startNode([BIN, "run", HELLO, "--port", String(pq), "--no-access-log"], { ready: `http://127.0.0.1:${pq}/default/hello`, cwd: work }),
    fresh: await startNode([BIN, "run", path.join(freshDir, "hello.wasm"), "--port", String(pf), "--no-access-log"], { ready: `http://127.0.0.1:${pf}/default/hello`, cwd: work }),
  };
  const urls = { bare: `http://127.0.0.1:${pb}/default/hello`, batched: `http://127.0.0.1:${pbb}/default/hello`, shim: `http://127.0.0.1:${ps}/default/hello`, quiet: `http://127.0.0.1:${pq}/default/hello`, fresh: `http://127.0.0.1:${pf}/default/hello` };
  const res = { bare: [], batched: [], shim: [], quiet: [], fresh: [] };
  try {
    for (const k of Object.keys(urls)) await wrk(urls[k], { connections: CONNECTIONS, seconds: 2 }); // warm up: JIT tiers, pools
    for (let r = 0; r < ROUNDS; r++) {
      for (const k of /** @type {const} */ (["bare", "batched", "shim", "quiet", "fresh"])) {
        const pid = servers[k].pid;
        const c0 = cpuSeconds(pid);
        const w = await wrk(urls[k], { connections: CONNECTIONS, seconds: SECONDS });
        const cpu = cpuSeconds(pid) - c0;
        if (w.non2xx || w.socketErrors) throw new Error(`${k}: ${w.non2xx} non-2xx, ${w.socketErrors} socket errors under load:\n${w.raw}`);
        res[k].push({ ...w, cpuUsPerReq: (cpu * 1e6) / w.requests });
        log(`  round ${r + 1} ${k.padEnd(7)} ${Math.round(w.rps)} req/s  p50 ${w.p50.toFixed(2)} ms  p99 ${w.p99.toFixed(2)} ms  cpu ${((cpu * 1e6) / w.requests).toFixed(1)} µs/req`);
      }
    }
    const freshInfo = await adminInfo(`http://127.0.0.1:${pf}`);
    const ratio = (k, f) => median(res[k].map((x, i) => f(x) / f(res.bare[i])));
    const m = (k, f) => median(res[k].map(f));
    const p1 = ratio("shim", (x) => x.rps);
    const p1quiet = ratio("quiet", (x) => x.rps);
    const p2 = ratio("fresh", (x) => x.rps);
    const p3 = ratio("shim", (x) => x.p99);
    const vsBatched = median(res.shim.map((x, i) => x.rps / res.batched[i].rps));
    return {
      rows: [
        { id: "P1", figure: `sync hello req/s, reuse isolation, the defaults (access log on, stdout a pipe read by the bench) (wrk -t1 -c${CONNECTIONS}, ${SECONDS} s x ${ROUNDS} rounds)`, value: `${Math.round(m("shim", (x) => x.rps))} req/s`, reference: `bare node:http ${Math.round(m("bare", (x) => x.rps))} req/s`, ratio: `${p1.toFixed(2)}x`, target: ">= 0.85x (reach 0.95x)", met: p1 >= 0.85 },
        { id: "P1 (--no-access-log)", figure: "the same shim with `--no-access-log` (a tuned variant, beside the default)", value: `${Math.round(m("quiet", (x) => x.rps))} req/s`, reference: `bare node:http ${Math.round(m("bare", (x) => x.rps))} req/s`, ratio: `${p1quiet.toFixed(2)}x`, target: "-", met: null },
        { id: "P1 (info)", figure: "the same shim runs against a bare node:http server that also releases its answers once per event-loop turn (test/bench/bare.js --batch)", value: `${Math.round(m("shim", (x) => x.rps))} req/s`, reference: `batched bare node:http ${Math.round(m("batched", (x) => x.rps))} req/s`, ratio: `${vsBatched.toFixed(2)}x`, target: "-", met: null },
        { id: "P2", figure: "same, fresh isolation (pristine memory per request), --no-access-log", value: `${Math.round(m("fresh", (x) => x.rps))} req/s`, reference: `bare node:http ${Math.round(m("bare", (x) => x.rps))} req/s`, ratio: `${p2.toFixed(2)}x`, target: ">= 0.6x", met: p2 >= 0.6 },
        { id: "P3", figure: `p99 latency at ${CONNECTIONS} connections (reuse)`, value: `${m("shim", (x) => x.p99).toFixed(2)} ms`, reference: `bare node:http ${m("bare", (x) => x.p99).toFixed(2)} ms`, ratio: `${p3.toFixed(2)}x`, target: "<= 2x", met: p3 <= 2 },
      ],
      cpu: { bare: m("bare", (x) => x.cpuUsPerReq), batched: m("batched", (x) => x.cpuUsPerReq), shim: m("shim", (x) => x.cpuUsPerReq), quiet: m("quiet", (x) => x.cpuUsPerReq), fresh: m("fresh", (x) => x.cpuUsPerReq), p50: { bare: m("bare", (x) => x.p50), shim: m("shim", (x) => x.p50), fresh: m("fresh", (x) => x.p50) } },
      fresh: freshInfo?.fresh ?? null,
    };
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
}

async function adminInfo(base) {
  const agent = new http.Agent();
  const [status, , body] = await get(`${base}/admin/functions`, agent);
  agent.destroy();
  return status === 200 ? JSON.parse(body).functions[0] : null;
}

// ---- P4: first request to a function scaled to zero ------------------------------------------

async function p4ScaleFromZero(work) {
  log("P4: first request after scale to zero (minReplicas 0, idleTimeout 200ms)");
  const dir = path.join(work, "zero");
  await mkdir(dir, { recursive: true });
  await cp(path.join(HELLO, "dist", "hello.wasm"), path.join(dir, "hello.wasm"));
  await writeFile(path.join(dir, "hello.json"), JSON.stringify({ config: { name: "hello", scaleOptions: { minReplicas: 0, idleTimeout: "200ms" } } }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const shim = await startNode([BIN, "run", path.join(dir, "hello.wasm"), "--port", String(port), "--no-access-log"], { ready: `${base}/healthz`, cwd: work });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const cold = [], warm = [];
  try {
    for (let i = 0; i < 200; i++) await get(`${base}/default/hello`, agent); // JIT warm-up of the request path
    for (let i = 0; i < 15; i++) {
      for (let t = 0; (await adminInfo(base))?.pool.live !== 0; t++) {
        if (t > 200) throw new Error("the pool did not scale to zero");
        await sleep(25);
      }
      await get(`${base}/healthz`, agent); // the connection is open and warm; only the pool is cold
      const [s1, c] = await get(`${base}/default/hello`, agent);
      const w = [];
      for (let k = 0; k < 5; k++) w.push((await get(`${base}/default/hello`, agent))[1]);
      if (s1 !== 200) throw new Error(`cold request answered ${s1}`);
      cold.push(c);
      warm.push(median(w));
    }
  } finally {
    agent.destroy();
    await shim.stop();
  }
  const added = median(cold) - median(warm);
  return { id: "P4", figure: "first request to a function scaled to zero (module compiled), client-side latency", value: `${median(cold).toFixed(3)} ms (adds ${added.toFixed(3)} ms)`, reference: `warm request ${median(warm).toFixed(3)} ms`, ratio: `+${added.toFixed(3)} ms`, target: "adds <= 5 ms", met: added <= 5 };
}

// ---- P5: process start to first 200 -----------------------------------------------------------

async function p5ProcessStart(work) {
  log("P5: process start to first 200");
  const shimMs = [], bareMs = [];
  const artifact = path.join(HELLO, "dist", "hello.wasm");
  for (let i = 0; i < ROUNDS; i++) {
    let port = await freePort();
    const b = await startNode([path.join(ROOT, "test", "bench", "bare.js"), String(port)], { ready: `http://127.0.0.1:${port}/`, cwd: work });
    bareMs.push(b.startMs);
    await b.stop();
    port = await freePort();
    const s = await startNode([BIN, "run", artifact, "--port", String(port), "--no-access-log"], { ready: `http://127.0.0.1:${port}/default/hello`, cwd: work });
    shimMs.push(s.startMs);
    await s.stop();
  }
  const v = median(shimMs);
  return { id: "P5", figure: "`wasm-fn run dist/hello.wasm`: process spawn to first 200", value: `${Math.round(v)} ms`, reference: `bare node:http ${Math.round(median(bareMs))} ms`, ratio: `${(v / median(bareMs)).toFixed(2)}x`, target: "<= 300 ms", met: v <= 300 };
}

// ---- P7: 1,000 distinct functions in one shim -------------------------------------------------

async function p7Density(work) {
  log("P7: 1,000 distinct functions in one shim");
  const dir = path.join(work, "thousand");
  await mkdir(dir, { recursive: true });
  const hello = await readFile(path.join(HELLO, "dist", "hello.wasm"));
  const files = [];
  for (let i = 0; i < 1000; i++) {
    const name = `fn-${String(i).padStart(4, "0")}`;
    // A custom section with the index makes every module's bytes distinct (V8 shares code of identical bytes).
    const payload = Buffer.from(`wfn-bench${name}`);
    const section = Buffer.concat([Buffer.from([0, payload.length + 1, 9]), payload]);
    const file = path.join(dir, `${name}.wasm`);
    await writeFile(file, Buffer.concat([hello, section]));
    await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ config: { name } }));
    files.push(file);
  }
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t0 = performance.now();
  const shim = await startNode([BIN, "run", ...files, "--port", String(port), "--no-access-log"], { ready: `${base}/default/fn-0999`, cwd: work, timeoutMs: 180000 });
  const loadMs = performance.now() - t0;
  try {
    const afterLoad = rssOf(shim.pid);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    let bad = 0;
    for (let i = 0; i < 1000; i += 8) {
      const batch = await Promise.all(Array.from({ length: Math.min(8, 1000 - i) }, (_, k) => get(`${base}/default/fn-${String(i + k).padStart(4, "0")}`, agent)));
      bad += batch.filter(([s]) => s !== 200).length;
    }
    agent.destroy();
    if (bad) throw new Error(`${bad} of 1000 functions did not answer 200`);
    await sleep(500);
    const afterServe = rssOf(shim.pid);
    const mib = afterServe / 2 ** 20;
    return { id: "P7", figure: "1,000 distinct functions in one shim, each served once (1,000 live instances): RSS", value: `${mib.toFixed(0)} MiB (${(afterLoad / 2 ** 20).toFixed(0)} MiB loaded, before any instance; start ${(loadMs / 1000).toFixed(1)} s)`, reference: `${((afterServe - afterLoad) / 1000 / 1024).toFixed(0)} KiB per live instance`, ratio: "-", target: "<= 400 MiB", met: mib <= 400 };
  } finally {
    await shim.stop();
  }
}

// ---- P8, P9: through Dapr (test/bench/dapr.js, another engineer's) ----------------------------

async function daprRows(notes) {
  const file = path.join(ROOT, "test", "bench", "dapr.js");
  if (!existsSync(file)) {
    notes.push("P8, P9: not measured in this run: test/bench/dapr.js is not there yet.");
    return [];
  }
  try {
    const mod = await import(file);
    const rows = await mod.run();
    if (!rows || rows.length === 0) notes.push("P8, P9: test/bench/dapr.js measured nothing (no daprd?).");
    return (rows ?? []).map((r) => ({ ...r, met: r.met ?? null }));
  } catch (e) {
    notes.push(`P8, P9: not measured in this run: ${e.message.split("\n")[0]}`);
    return [];
  }
}

// ---- P13: on the single-node cluster (test/bench/kube-node.bench.ts, run by vitest) --------------

async function kubeRows(work, notes) {
  log("P13: wasm-fn deploy on the single-node cluster (kubelet, containerd, crun + WasmEdge)");
  const out = path.join(work, "kube-rows.json");
  const r = spawnSync(path.join(ROOT, "node_modules", ".bin", "vitest"), ["run", "--config", "test/bench/vitest.kube.config.ts"], {
    cwd: ROOT, env: { ...process.env, BENCH_KUBE_OUT: out }, stdio: ["ignore", "inherit", "inherit"], timeout: 60 * 60_000,
  });
  if (r.status !== 0 || !existsSync(out)) {
    notes.push(`P13: not measured in this run: the Kubernetes bench failed (exit ${r.status ?? r.signal}; its output is above).`);
    return [];
  }
  return JSON.parse(await readFile(out, "utf8"));
}

// ---- docs/benchmarks.md ---------------------------------------------------------------------

function render(machine, rows, extra) {
  const out = [];
  out.push("# Benchmarks");
  out.push("");
  out.push(`Generated by \`npm run bench\` (test/bench/run.js) on ${new Date().toISOString().slice(0, 10)}. Do not edit by hand.`);
  out.push("");
  out.push(`Machine: ${machine}.`);
  out.push("");
  out.push(`Method: every figure beside a reference measured in the same run, on the same machine, with the same load generator (wrk, one thread, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per run), servers interleaved (bare, batched bare, shim with the defaults (access log on, its stdout a pipe this process reads), shim with --no-access-log, shim fresh, then again), ${ROUNDS} rounds; the tables show medians, and a ratio is the median of the per-round ratios. The reference server (test/bench/bare.js) is a bare \`node:http\` server with the idiomatic synchronous handler, answering the same bytes as the shim's hello (status, the same headers with a fresh request id, the same body). Only 127.0.0.1 is used. The box is shared: other work may run during a run, which is why only interleaved ratios are compared.`);
  out.push("");
  out.push("| id | figure | value | reference | ratio | target | met |");
  out.push("|---|---|---|---|---|---|---|");
  for (const r of rows) out.push(`| ${r.id} | ${r.figure} | ${r.value} | ${r.reference} | ${r.ratio} | ${r.target} | ${r.met === true ? "yes" : r.met === false ? "**no**" : "-"} |`);
  out.push("");
  if (extra.cpu) {
    const c = extra.cpu;
    out.push("## Where the time goes");
    out.push("");
    out.push(`CPU time of the server process per request (user + system, from /proc, median over the rounds): bare node:http ${c.bare.toFixed(1)} µs (batched ${c.batched.toFixed(1)} µs), shim ${c.shim.toFixed(1)} µs (+${(c.shim - c.bare).toFixed(1)} µs; ${c.quiet.toFixed(1)} µs with --no-access-log), shim with fresh isolation ${c.fresh.toFixed(1)} µs. Median latency at ${CONNECTIONS} connections: bare ${c.p50.bare.toFixed(2)} ms, shim ${c.p50.shim.toFixed(2)} ms, fresh ${c.p50.fresh.toFixed(2)} ms.`);
    const q = extra.inproc;
    if (q) {
      out.push("");
      out.push("The function step without HTTP (test/bench/inprocess.js, in one process, median of 5 batches):");
      out.push("");
      out.push("| step | µs per invocation |");
      out.push("|---|---|");
      out.push(`| pool + hello guest + host calls + metrics, main thread, 64 in flight (what a request adds besides HTTP) | ${q.mainUs.toFixed(2)} |`);
      out.push(`| the same on a worker thread, one at a time (a postMessage round trip each) | ${q.workerUs.toFixed(1)} |`);
      out.push(`| the same on a worker thread, 16 in flight | ${q.workerConcurrentUs.toFixed(1)} |`);
      out.push(`| instance reused (reuse isolation) | ${q.reuseUs.toFixed(2)} |`);
      out.push(`| instance reset after each invocation: ${q.memoryKiB} KiB memory copy + mutable globals (fresh, "reset") | ${q.resetUs.toFixed(2)} |`);
      out.push(`| new instance per invocation: instantiate + initialiser + invoke (fresh, "new") | ${q.newUs.toFixed(1)} |`);
      out.push(`| WebAssembly.Instance from the compiled module alone | ${q.instantiateUs.toFixed(1)} |`);
      out.push("");
      out.push(`A function's first worker thread answered its first invocation after ${q.workerStartMs.toFixed(0)} ms.`);
    }
    if (extra.fresh) out.push(`The P2 shim measured fresh isolation for this module when it loaded: a new instance ${extra.fresh.newUs} µs, a reset ${extra.fresh.resetUs} µs; it chose \`${extra.fresh.kind}\`.`);
    out.push("");
  }
  if (extra.limits) {
    const L = extra.limits;
    out.push("## Limits: a healthy function during a storm of runaway requests");
    out.push("");
    out.push("test/bench/limits.js: one shim serves hello and a function whose /loop never ends (timeout 1 s); 4 clients measure hello for 4 s alone, then for 4 s while 4 other clients send /loop back to back. Medians over the rounds; hello req/s is wrk at 50 connections on the same shim.");
    out.push("");
    out.push("| --offload | hello p50 / p99 alone | hello p50 / p99 during the storm | runaway requests answered | hello errors | hello req/s |");
    out.push("|---|---|---|---|---|---|");
    for (const [p, v] of Object.entries(L)) out.push(`| ${p} | ${ms(v.base50)} / ${ms(v.base99)} | ${ms(v.storm50)} / ${ms(v.storm99)} | ${v.stormAnswers} | ${v.helloErrors} | ${Math.round(v.rps)} |`);
    out.push("");
  }
  if (extra.abuse) {
    const [A] = extra.abuse;
    out.push("## Mixed abuse: hello beside four functions that misbehave without end");
    out.push("");
    out.push(`test/bench/abuse.js: one shim with its defaults (access log on, adaptive offload, default limits) serves hello and four functions, each hit by 2 clients back to back for ${A.seconds} s: one loops, one allocates to its memory cap, one logs without end, one calls a loopback server without end (outbound HTTP, granted). ${A.connections} clients measure hello, ${A.quiet.n} requests quiet first. Goal (issue "Hardening"): hello's p99 under 2x its quiet value, zero errors. The defaults first (suspected runaways in child processes in Linux's SCHED_IDLE class, raised while starved unless the shim's own work keeps it busy; docs/runtime.md), then the same run with \`--runaways threads\` (worker threads at nice 10).`);
    out.push("");
    out.push("| run | | hello p50 | hello p99 | hello requests | hello errors | RSS, shim + children |");
    out.push("|---|---|---|---|---|---|---|");
    for (const R of extra.abuse) {
      const name = R.args.length ? R.args.join(" ") : "defaults";
      out.push(`| ${name} | quiet | ${ms(R.quiet.p50)} | ${ms(R.quiet.p99)} | ${R.quiet.n} | ${R.quiet.errors} | ${(R.rss.before / 1048576).toFixed(0)} MiB |`);
      out.push(`| ${name} | during the abuse | ${ms(R.during.p50)} | ${ms(R.during.p99)} (${(R.during.p99 / R.quiet.p99).toFixed(2)}x quiet) | ${R.during.n} | ${R.during.errors} | max ${(R.rss.max / 1048576).toFixed(0)} MiB, ${(R.rss.after / 1048576).toFixed(0)} MiB after |`);
    }
    out.push("");
    for (const R of extra.abuse) out.push(`The abusers' answers (${R.args.length ? R.args.join(" ") : "defaults"}): ${Object.entries(R.abusers).map(([k, v]) => `${k} ${Object.entries(v).map(([s, n]) => `${n}x ${s}`).join(", ")}`).join("; ")}.`);
    out.push("");
  }
  const missed = rows.filter((r) => r.met === false);
  out.push("## Closing note");
  out.push("");
  if (missed.length === 0) out.push("Every measured target was met in this run.");
  for (const r of missed) out.push(`- ${r.id} missed: ${r.value} against ${r.target} (${r.ratio}${shortBy(r)}). ${why(r.id, extra)}`);
  for (const n of extra.notes) out.push(`- ${n}`);
  out.push("");
  return out.join("\n");
}

/** ", short by N%" for a ratio target. */
function shortBy(r) {
  const got = parseFloat(r.ratio);
  const want = /([<>]=)\s*([\d.]+)x/.exec(r.target);
  if (!Number.isFinite(got) || !want) return "";
  const need = Number(want[2]);
  const pct = want[1] === ">=" ? (100 * (need - got)) / need : (100 * (got - need)) / need;
  return `, ${want[1] === ">=" ? "short" : "over"} by ${pct.toFixed(0)}%`;
}

/** Why a target was missed, from this run's own numbers and the profiles described in docs/runtime.md. */
function why(id, extra) {
  const c = extra.cpu;
  const q = extra.inproc;
  switch (id) {
    case "P1":
    case "P3":
      return `The shim spends ${c ? (c.shim - c.bare).toFixed(1) : "?"} µs more CPU per request than bare node:http, ${c ? (c.shim - c.quiet).toFixed(1) : "?"} µs of it the access log (against --no-access-log: one JSON line per request, written by the buffered writer in runtime-shim/src/logger.ts). The function step itself is ${q ? q.mainUs.toFixed(1) : "?"} µs (most of it the hello guest: the AssemblyScript SDK parsing the query, building strings, its GC; ~0.6 µs of it the fuel checks \`wasm-fn build\` puts at every function entry and loop head), and on a 2-core box where wrk shares the machine every µs of server work costs about 2 µs of throughput (each slower answer finds wrk asleep and pays its wake-up; measured by adding a 4 µs spin to a guest-less gateway: +8 µs CPU per request, -35% req/s). The gateway without a guest runs within ~10% of bare. Two measured costs sit outside the runtime: the Dapr app's gateway route is an async function, so every function request pays a promise and a microtask for a route that declines it (~6% req/s: \`startShim\` alone vs \`wasm-fn run\`), and fuel checks at function entries (loop heads alone suffice for termination) cost ~0.6 µs of guest time.`;
    case "P2":
      return `On top of P1: fresh isolation resets ${q ? q.memoryKiB : "?"} KiB of memory and the globals per request (${q ? (q.resetUs - q.reuseUs).toFixed(1) : "?"} µs more than reuse in-process), amplified like P1's cost.`;
    case "P4":
      return "The first request pays instantiation and the guest's initialiser on its path; minReplicas >= 1 keeps one warm.";
    case "P5":
      return "Process start is dominated by loading Node modules (CLI, shim, backend) before the module is compiled.";
    case "P6":
      return "The build runs AssemblyScript and Binaryen in-process; most of the wall time is loading them and their optimisation passes (packages/build).";
    case "P10":
      return "The kit's WasmEdge 0.17.1 is built without LLVM, so it interprets every instruction of the adapter (HTTP parsing, logging) and of the guest; an AOT build (`wasmedge compile`, WasmEdge with LLVM) runs native code and is expected to close most of the gap, which this machine cannot measure. The WasmEdge form runs one request at a time per process: throughput grows with replicas, not connections. Its start is WasmEdge instantiating and validating ~100 KiB of Wasm, with no Node to load.";
    case "P7":
      return "Each live instance holds its own linear memory (the initial pages the guest touches) plus JS objects; compiled code is per module.";
    default:
      return "";
  }
}

const kib = (b) => (Number.isFinite(b) ? (b / 1024).toFixed(1) : "n/a");
const ms = (x) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(0)) + " ms" : "n/a");

await main();
