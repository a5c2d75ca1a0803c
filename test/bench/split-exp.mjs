// Experiment (not committed): the abusers that get moved off the main thread in a second shim process.
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildFixture, FAULTS_SOURCE, FLOODER_SOURCE, HELLO_SOURCE, LOGGER_SOURCE } from "./fixtures.js";
import { runaways } from "./limits.js";
import { BIN, closedLoop, freePort, percentile, sleep, startNode } from "./lib.js";
const split = process.argv[2] === "split";
const secs = Number(process.argv[3] ?? 20);
const targetPort = await freePort();
const target = await startNode(["-e", `require("node:http").createServer((q, s) => s.end("ok")).listen(${targetPort}, "127.0.0.1")`], { ready: `http://127.0.0.1:${targetPort}/` });
const [hello, faults, alloc, logger, flooder] = await Promise.all([
  buildFixture("hello", HELLO_SOURCE), buildFixture("faults", FAULTS_SOURCE), buildFixture("alloc", FAULTS_SOURCE),
  buildFixture("logger", LOGGER_SOURCE), buildFixture("flooder", FLOODER_SOURCE, `permissions:\n  hosts: ["127.0.0.1:*"]\n`),
]);
const cwd = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-split-"));
const pa = await freePort(), pb = await freePort();
const A = split ? [hello, flooder] : [hello, flooder, faults, alloc, logger];
const a = await startNode([BIN, "run", ...A.map((f) => f.dir), "--port", String(pa)], { ready: `http://127.0.0.1:${pa}/default/hello`, cwd });
const b = split ? await startNode([BIN, "run", faults.dir, alloc.dir, logger.dir, "--port", String(pb)], { ready: `http://127.0.0.1:${pb}/default/faults`, cwd }) : null;
const bb = split ? `http://127.0.0.1:${pb}` : `http://127.0.0.1:${pa}`;
const h = `http://127.0.0.1:${pa}/default/hello`;
await closedLoop(h, { connections: 4, ms: 1000 });
const quiet = await closedLoop(h, { connections: 4, ms: 10000 });
const stop = { now: false };
const ab = [runaways(`${bb}/default/faults/loop`, 2, stop), runaways(`${bb}/default/alloc/bomb`, 2, stop), runaways(`${bb}/default/logger`, 2, stop),
  runaways(`http://127.0.0.1:${pa}/default/flooder?url=${encodeURIComponent(`http://127.0.0.1:${targetPort}/`)}`, 2, stop)];
await sleep(200);
const during = await closedLoop(h, { connections: 4, ms: secs * 1000 });
stop.now = true; await Promise.all(ab);
console.log(split ? "split" : "one", "quiet p99", percentile(quiet.lat, 99).toFixed(2), "during p50", percentile(during.lat, 50).toFixed(2), "p99", percentile(during.lat, 99).toFixed(2), "n", during.lat.length);
await a.stop(); await b?.stop(); await target.stop();
