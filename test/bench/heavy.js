/**
 * What a heavy function costs its neighbours (issue 13, point 7; docs/runtime.md, "Heavy, runaway,
 * or `isolation: worker`"): one shim serves hello, a word counter left where the shim puts it and
 * the same counter with `isolation: worker`. A closed loop (4 clients) measures hello quiet, then
 * while one client posts 500 KB to a counter back to back, for each counter in turn (rounds
 * interleaved). Reports hello's p50/p99/max, the counter's median and where each function ended up.
 *
 * Run alone: node test/bench/heavy.js [seconds per phase] [rounds] [wasm-fn run flags...]   (default 5 s, 2 rounds)
 *            node test/bench/heavy.js 5 2 --offload never   (the counter held on the main thread: no rule moves it)
 */
import http from "node:http";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildFixture, HELLO_SOURCE, WORDCOUNT_SOURCE } from "./fixtures.js";
import { BIN, closedLoop, freePort, median, percentile, startNode } from "./lib.js";

/** A 500 KB text of words (the same shape as test/runtime-isolation.test.ts). */
function body() {
  const words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do", "eiusmod", "Tempor"];
  let s = "";
  for (let i = 0; s.length < 500 * 1024; i++) s += `${words[i % words.length]}${i % 13 === 0 ? ` w${i}` : ""}${i % 97 === 0 ? "\n" : " "}`;
  return Buffer.from(s.slice(0, 500 * 1024));
}

/** @param {string} url @param {Buffer} data @param {http.Agent} agent @returns {Promise<[number, number]>} */
function post(url, data, agent) {
  return new Promise((resolve) => {
    const t = performance.now();
    const req = http.request(url, { method: "POST", agent }, (res) => { res.resume(); res.on("end", () => resolve([res.statusCode ?? 0, performance.now() - t])); });
    req.on("error", () => resolve([0, performance.now() - t]));
    req.end(data);
  });
}

/** One client posting `data` back to back until `stop.now`. @param {string} url @param {Buffer} data @param {{ now: boolean }} stop */
async function heavyClient(url, data, stop) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ms = [];
  const statuses = new Set();
  while (!stop.now) { const [s, t] = await post(url, data, agent); ms.push(t); statuses.add(s); }
  agent.destroy();
  return { ms, statuses: [...statuses] };
}

/** @param {{ seconds?: number, rounds?: number, args?: string[], log?: (s: string) => void }} [o] */
export async function runHeavy(o = {}) {
  const seconds = o.seconds ?? 5;
  const rounds = o.rounds ?? 2;
  const log = o.log ?? ((s) => process.stderr.write(s + "\n"));
  const fixtures = await Promise.all([
    buildFixture("hello", HELLO_SOURCE),
    buildFixture("wordcount", WORDCOUNT_SOURCE),
    buildFixture("wordcount-worker", WORDCOUNT_SOURCE, "isolation: worker\n"),
  ]);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const cwd = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-heavy-"));
  const shim = await startNode([BIN, "run", ...fixtures.map((f) => f.dir), "--port", String(port), "--no-access-log", ...(o.args ?? [])], { ready: `${base}/default/hello`, cwd });
  const hello = `${base}/default/hello`;
  const data = body();
  /** @type {Record<string, { hello: number[], counter: number[] }>} */
  const phases = { quiet: { hello: [], counter: [] }, main: { hello: [], counter: [] }, worker: { hello: [], counter: [] } };
  try {
    await closedLoop(hello, { connections: 4, ms: 1000 }); // JIT warm-up
    const first = await post(`${base}/default/wordcount`, data, new http.Agent());
    for (let r = 0; r < rounds; r++) {
      phases.quiet.hello.push(...(await closedLoop(hello, { connections: 4, ms: seconds * 1000 })).lat);
      for (const [phase, fn] of [["main", "wordcount"], ["worker", "wordcount-worker"]]) {
        const stop = { now: false };
        const counter = heavyClient(`${base}/default/${fn}`, data, stop);
        const h = await closedLoop(hello, { connections: 4, ms: seconds * 1000 });
        stop.now = true;
        const c = await counter;
        phases[phase].hello.push(...h.lat);
        phases[phase].counter.push(...c.ms);
      }
    }
    const admin = /** @type {{ functions: { name: string, placement: string, verdict: string }[] }} */ (await (await fetch(`${base}/admin/functions`)).json());
    const result = {
      seconds, rounds, args: o.args ?? [], firstWordcountMs: first[1],
      placement: Object.fromEntries(admin.functions.map((f) => [f.name, `${f.placement} (${f.verdict})`])),
      ...Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, {
        hello: { p50: percentile(v.hello, 50), p99: percentile(v.hello, 99), max: Math.max(...v.hello), n: v.hello.length },
        counter: v.counter.length ? { median: median(v.counter), n: v.counter.length } : null,
      }])),
    };
    log(`  heavy: ${JSON.stringify(result)}`);
    return result;
  } finally {
    await shim.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await runHeavy({ seconds: Number(process.argv[2] ?? 5), rounds: Number(process.argv[3] ?? 2), args: process.argv.slice(4) });
  process.stdout.write(JSON.stringify(r, null, 2) + "\n");
}
