/**
 * The limits experiment (docs/runtime.md): how a healthy function answers while runaway requests
 * (infinite loops, stopped at a 1 s timeout) keep arriving at another function in the same shim,
 * under each offload policy:
 *   never    - fuel checks on the main thread only: a runaway blocks the event loop until its deadline;
 *   adaptive - main thread; the first runaway is cut at the slice and the function moves to worker threads;
 *   always   - every function on worker threads.
 * Also hello's throughput under each policy (the price of the thread hop), measured with wrk.
 *
 * Run alone: node test/bench/limits.js [rounds]
 */
import http from "node:http";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildFixture, FAULTS_SOURCE, HELLO_SOURCE } from "./fixtures.js";
import { BIN, closedLoop, freePort, get, hasWrk, median, percentile, sleep, startNode, wrk } from "./lib.js";

export const POLICIES = ["never", "adaptive", "always"];

/**
 * @param {{ rounds?: number, phaseMs?: number, log?: (s: string) => void }} [o]
 */
export async function runLimits(o = {}) {
  const rounds = o.rounds ?? 3;
  const phaseMs = o.phaseMs ?? 4000;
  const log = o.log ?? ((s) => process.stderr.write(s + "\n"));
  const faults = await buildFixture("faults", FAULTS_SOURCE, "limits:\n  timeout: 1s\n");
  const hello = await buildFixture("hello", HELLO_SOURCE);
  const cwd = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-bench-"));
  /** @type {Record<string, { base50: number[], base99: number[], storm50: number[], storm99: number[], stormAnswers: number[], helloErrors: number[], rps: number[] }>} */
  const acc = Object.fromEntries(POLICIES.map((p) => [p, { base50: [], base99: [], storm50: [], storm99: [], stormAnswers: [], helloErrors: [], rps: [] }]));
  for (let r = 0; r < rounds; r++) {
    for (const policy of POLICIES) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const shim = await startNode([BIN, "run", faults.dir, hello.dir, "--port", String(port), "--no-access-log", "--offload", policy], { ready: `${base}/default/hello`, cwd });
      try {
        const helloUrl = `${base}/default/hello`;
        await closedLoop(helloUrl, { connections: 4, ms: 500 }); // warm up (JIT tier-up)
        const baseline = await closedLoop(helloUrl, { connections: 4, ms: phaseMs });
        const stop = { now: false };
        const storm = runaways(`${base}/default/faults/loop`, 4, stop);
        await sleep(100);
        const during = await closedLoop(helloUrl, { connections: 4, ms: phaseMs });
        stop.now = true;
        const stormStatuses = await storm;
        const a = acc[policy];
        a.base50.push(percentile(baseline.lat, 50));
        a.base99.push(percentile(baseline.lat, 99));
        a.storm50.push(percentile(during.lat, 50));
        a.storm99.push(percentile(during.lat, 99));
        a.stormAnswers.push(stormStatuses.length);
        a.helloErrors.push(during.lat.length - (during.statuses.get(200) ?? 0));
        if (hasWrk()) a.rps.push((await wrk(helloUrl, { connections: 50, seconds: 3 })).rps);
        log(`  limits round ${r + 1} ${policy}: hello p50/p99 ${fmt(percentile(baseline.lat, 50))}/${fmt(percentile(baseline.lat, 99))} ms alone, ${fmt(percentile(during.lat, 50))}/${fmt(percentile(during.lat, 99))} ms during the storm; runaway answers ${summarize(stormStatuses)}`);
      } finally {
        await shim.stop();
      }
    }
  }
  return Object.fromEntries(POLICIES.map((p) => {
    const a = acc[p];
    return [p, {
      base50: median(a.base50), base99: median(a.base99), storm50: median(a.storm50), storm99: median(a.storm99),
      stormAnswers: median(a.stormAnswers), helloErrors: a.helloErrors.reduce((x, y) => x + y, 0), rps: median(a.rps),
    }];
  }));
}

/** `n` clients sending runaway requests back to back until `stop.now`; resolves with every status. */
export async function runaways(url, n, stop) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  const statuses = [];
  await Promise.all(Array.from({ length: n }, async () => {
    while (!stop.now) statuses.push((await get(url, agent))[0]);
  }));
  agent.destroy();
  return statuses;
}

function summarize(statuses) {
  const m = new Map();
  for (const s of statuses) m.set(s, (m.get(s) ?? 0) + 1);
  return [...m].map(([s, n]) => `${n}x${s}`).join(", ");
}

const fmt = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(0));

if (import.meta.url === `file://${process.argv[1]}`) {
  const res = await runLimits({ rounds: Number(process.argv[2] ?? 2) });
  console.log(JSON.stringify(res, null, 2));
}
