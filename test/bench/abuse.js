/**
 * The mixed-abuse run (issue "Hardening", docs/security.md): one shim with its defaults (access log
 * on, offload adaptive, default limits) serves hello beside four functions that misbehave without
 * end — one loops, one allocates until its memory cap, one logs without end, one floods outbound
 * calls at a loopback server — while a closed loop measures hello. Reports hello's p50/p99 and
 * errors quiet, then during the abuse, and the RSS of the shim with its child processes.
 *
 * Run alone: node test/bench/abuse.js [seconds]   (default 60; `npm run bench` runs it too)
 *            ABUSE_ONLY=loop,alloc,log,flood node test/bench/abuse.js 20   (a subset of the abusers)
 *            node test/bench/abuse.js 60 --runaways threads   (extra `wasm-fn run` flags)
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildFixture, FAULTS_SOURCE, FLOODER_SOURCE, HELLO_SOURCE, LOGGER_SOURCE } from "./fixtures.js";
import { runaways } from "./limits.js";
import { BIN, closedLoop, freePort, percentile, rssTreeOf as rssOf, sleep, startNode } from "./lib.js";

/**
 * @param {{ seconds?: number, quietSeconds?: number, connections?: number, only?: string[], args?: string[], log?: (s: string) => void }} [o]
 */
export async function runAbuse(o = {}) {
  const seconds = o.seconds ?? 60;
  const quietMs = (o.quietSeconds ?? 10) * 1000;
  const connections = o.connections ?? 4;
  const log = o.log ?? ((s) => process.stderr.write(s + "\n"));
  // The flood target: a loopback server that answers at once, in its own process so that the
  // flood does not share an event loop with the client that measures hello.
  const targetPort = await freePort();
  const target = await startNode(["-e", `require("node:http").createServer((q, s) => s.end("ok")).listen(${targetPort}, "127.0.0.1")`], { ready: `http://127.0.0.1:${targetPort}/` });
  const fixtures = await Promise.all([
    buildFixture("hello", HELLO_SOURCE),
    buildFixture("faults", FAULTS_SOURCE),
    buildFixture("alloc", FAULTS_SOURCE), // the same code, its own function: each abuser is moved (or not) on its own
    buildFixture("logger", LOGGER_SOURCE),
    buildFixture("flooder", FLOODER_SOURCE, `permissions:\n  hosts: ["127.0.0.1:*"]\n`),
  ]);
  const cwd = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-abuse-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // Defaults: no --no-access-log, no --offload, the functions' default limits (timeout 10 s, memory 64 Mi).
  const shim = await startNode([BIN, "run", ...fixtures.map((f) => f.dir), "--port", String(port), ...(o.args ?? [])], { ready: `${base}/default/hello`, cwd });
  const hello = `${base}/default/hello`;
  try {
    await closedLoop(hello, { connections, ms: 1000 }); // JIT warm-up
    const rss0 = rssOf(shim.pid);
    const quiet = await closedLoop(hello, { connections, ms: quietMs });
    log(`  abuse: quiet hello p50 ${fmt(percentile(quiet.lat, 50))} ms, p99 ${fmt(percentile(quiet.lat, 99))} ms, ${errors(quiet)} errors`);
    const stop = { now: false };
    const urls = {
      loop: `${base}/default/faults/loop`,
      alloc: `${base}/default/alloc/bomb`,
      log: `${base}/default/logger`,
      flood: `${base}/default/flooder?url=${encodeURIComponent(`http://127.0.0.1:${targetPort}/`)}`,
    };
    const kinds = o.only ?? ["loop", "alloc", "log", "flood"];
    const abusers = kinds.map((k) => runaways(urls[k], 2, stop));
    let rssMax = 0;
    const sampler = setInterval(() => { rssMax = Math.max(rssMax, rssOf(shim.pid)); }, 250);
    await sleep(200);
    const during = await closedLoop(hello, { connections, ms: seconds * 1000 });
    stop.now = true;
    const abuse = await Promise.all(abusers);
    clearInterval(sampler);
    await sleep(1000);
    const rss1 = rssOf(shim.pid);
    // How often a moved function's starved child was raised to the normal class (docs/runtime.md).
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const raises = Object.fromEntries([...metrics.matchAll(/^wfn_worker_process_raises_total\{[^}]*function="([^"]+)"[^}]*\} (\d+)/gm)].map((m) => [m[1], Number(m[2])]).filter(([, n]) => n > 0));
    const result = {
      seconds, connections, args: o.args ?? [],
      quiet: { p50: percentile(quiet.lat, 50), p99: percentile(quiet.lat, 99), n: quiet.lat.length, errors: errors(quiet) },
      during: { p50: percentile(during.lat, 50), p99: percentile(during.lat, 99), n: during.lat.length, errors: errors(during) },
      abusers: Object.fromEntries(kinds.map((k, i) => [k, summarize(abuse[i])])),
      rss: { before: rss0, max: rssMax, after: rss1 },
      raises,
    };
    log(`  abuse: during ${seconds} s hello p50 ${fmt(result.during.p50)} ms, p99 ${fmt(result.during.p99)} ms, ${result.during.errors} errors of ${result.during.n}; abusers ${JSON.stringify(result.abusers)}; RSS ${mib(rss0)} -> max ${mib(rssMax)} -> ${mib(rss1)} MiB; raises ${JSON.stringify(raises)}`);
    return result;
  } finally {
    await shim.stop();
    await target.stop();
  }
}

/** @param {{ lat: number[], statuses: Map<number, number> }} r */
function errors(r) {
  return r.lat.length - (r.statuses.get(200) ?? 0);
}

/** @param {number[]} statuses */
function summarize(statuses) {
  const m = {};
  for (const s of statuses) m[s] = (m[s] ?? 0) + 1;
  return m;
}

const fmt = (x) => x.toFixed(2);
const mib = (b) => (b / 1048576).toFixed(0);

if (import.meta.url === `file://${process.argv[1]}`) {
  // ABUSE_ONLY=loop,log runs only those abusers (to see which one costs hello what).
  const only = process.env.ABUSE_ONLY ? process.env.ABUSE_ONLY.split(",") : undefined;
  // Extra `wasm-fn run` flags after the seconds: node test/bench/abuse.js 20 --runaways processes
  const r = await runAbuse({ seconds: Number(process.argv[2] ?? 60), only, args: process.argv.slice(3) });
  process.stdout.write(JSON.stringify(r, null, 2) + "\n");
}
