// Benchmarks P8 and P9 (TARGETS.md) on the real parts: redis-server, daprd, `wasm-fn run --dapr`.
//
//   P8  state get+set round trip through the shim (examples/counter: get, then save with the ETag)
//       vs a bare node:http server making the same two calls with @dapr/dapr (HTTP and gRPC
//       clients; the faster is the reference). Same daprd, same Redis, same load generator,
//       interleaved rounds; median of the rounds' median latencies.
//   P9  events/s, Redis pub/sub -> daprd -> shim -> function (test/fixtures/dapr-sink), vs the
//       same pipeline ending in a bare node:http Dapr app that acknowledges each event (the
//       fastest peer we can run: no function at all). Events are written to the Redis stream
//       directly, so the publisher is not what is measured; done = every event acknowledged.
//
// Run alone: `npx tsc -b && node test/bench/dapr.js` (prints the rows as JSON).
// The bench runner imports it and calls run().
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const CLI = path.join(ROOT, "packages", "cli", "dist", "bin.js");
const sh = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 3000);

/** Rows for docs/benchmarks.md: {id, figure, value, reference, ratio, target}. */
export async function run() {
  const { freePort, startSidecar, findDaprd } = await import(path.join(ROOT, "runtime-shim/dist/backends/dapr/sidecar.js"));
  const daprd = findDaprd();
  if (!daprd) throw new Error("daprd not found: run `bash scripts/provision.sh` (builds it with scripts/build-daprd.sh)");
  const stops = [];
  try {
    for (const f of ["examples/counter", "test/fixtures/dapr-sink"]) await sh(process.execPath, [CLI, "build", f, "--no-image"], { cwd: ROOT });
    const redisPort = await freePort();
    const redis = spawnUntil("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], /Ready to accept/);
    stops.push(() => stop(redis.child));
    await redis.ready;
    const cliRedis = (...args) => sh("redis-cli", ["-p", String(redisPort), ...args]).then((r) => r.stdout);
    cliRedis.port = redisPort;

    const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-bench-dapr-"));
    const resources = path.join(dir, "resources");
    writeComponents(resources, `127.0.0.1:${redisPort}`);
    const config = path.join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ apiVersion: "dapr.io/v1alpha1", kind: "Configuration", metadata: { name: "bench" }, spec: { nameResolution: { component: "kubernetes", configuration: { template: "127.0.0.1:1" } } } }));

    // The shim, as a user runs it; it starts its own daprd (app-port = its port).
    const shim = spawnUntil(process.execPath, [CLI, "--json", "run", "examples/counter", "test/fixtures/dapr-sink", "--port", "0", "--no-access-log", "--dapr", "--resources-path", resources, "--dapr-config", config], /"url":"[^"]+"/, { cwd: ROOT, env: { ...process.env, WASM_FN_DAPRD: daprd, DAPR_GRPC_PORT: "", DAPR_HTTP_PORT: "" } });
    stops.push(() => stop(shim.child));
    const out = await shim.ready;
    const shimUrl = /"url":"([^"]+)"/.exec(out)[1];
    const sidecar = JSON.parse(out.split("\n").find((l) => l.includes('"daprd started"')));

    // The reference: a bare node:http server making the same calls with @dapr/dapr against the same daprd;
    // it is also the peer Dapr app for P9, behind its own daprd.
    const ref = spawnUntil(process.execPath, [fileURLToPath(import.meta.url), "ref-server", String(sidecar.grpcPort), String(sidecar.httpPort)], /"port":\d+/);
    stops.push(() => stop(ref.child));
    const refPort = Number(/"port":(\d+)/.exec(await ref.ready)[1]);
    const peer = await startSidecar({ appId: "bench-peer", appPort: refPort, resourcesPath: resources, config, daprd });
    stops.push(() => peer.stop());

    const p8 = await benchState(shimUrl, `http://127.0.0.1:${refPort}`);
    const p9 = await benchEvents(cliRedis, [
      { name: "shim", stream: "bench-events", group: "wasm-fn" },
      { name: "peer", stream: "bench-peer", group: "bench-peer" },
    ]);
    return [
      {
        id: "P8", figure: "state get+set round trip through the shim (median latency, ms)",
        value: round(p8.shim), reference: round(p8.ref), ratio: round(p8.shim / p8.ref), target: "<= 1.2x",
        note: `reference: node:http + @dapr/dapr ${p8.refProtocol} client (HTTP ${round(p8.http)} ms, gRPC ${round(p8.grpc)} ms); ${ROUNDS} rounds x ${REQUESTS} sequential requests`,
      },
      {
        id: "P9", figure: "async events/s, Redis pubsub -> daprd -> shim -> function",
        value: Math.round(p9.shim), reference: Math.round(p9.peer), ratio: round(p9.shim / p9.peer), target: "report (peer: bare node:http Dapr app)",
        note: `${EVENTS} events per round, ${Math.max(3, Math.ceil(ROUNDS / 2))} rounds, medians; pubsub.redis concurrency 32`,
      },
    ];
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  }
}

function writeComponents(dir, redisHost) {
  const comp = (name, type, metadata) => JSON.stringify({ apiVersion: "dapr.io/v1alpha1", kind: "Component", metadata: { name }, spec: { type, version: "v1", metadata: Object.entries(metadata).map(([n, value]) => ({ name: n, value })) } });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "statestore.yaml"), comp("statestore", "state.redis", { redisHost }));
  writeFileSync(path.join(dir, "pubsub.yaml"), comp("pubsub", "pubsub.redis", { redisHost, concurrency: "32", processingTimeout: "10s", redeliverInterval: "2s" }));
}

async function benchState(shimUrl, refUrl) {
  const { Agent, request } = await import(path.join(ROOT, "node_modules/undici/index.js"));
  const agent = new Agent({ connections: 1 });
  const targets = {
    shim: { url: `${shimUrl}/default/counter?key=bench-shim`, method: "POST" },
    http: { url: `${refUrl}/state?proto=http&key=bench-ref-http`, method: "POST" },
    grpc: { url: `${refUrl}/state?proto=grpc&key=bench-ref-grpc`, method: "POST" },
  };
  const once = async (t) => {
    const t0 = performance.now();
    const res = await request(t.url, { method: t.method, dispatcher: agent });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${t.url} answered ${res.statusCode}: ${body}`);
    return performance.now() - t0;
  };
  for (const t of Object.values(targets)) for (let i = 0; i < 200; i++) await once(t); // warm-up: JIT, pools, connections
  const rounds = { shim: [], http: [], grpc: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, t] of Object.entries(targets)) {
      const lat = [];
      for (let i = 0; i < REQUESTS; i++) lat.push(await once(t));
      rounds[name].push(median(lat));
    }
  }
  await agent.close();
  const http = median(rounds.http), grpc = median(rounds.grpc);
  return { shim: median(rounds.shim), http, grpc, ref: Math.min(http, grpc), refProtocol: http <= grpc ? "HTTP" : "gRPC" };
}

async function benchEvents(cliRedis, pipelines) {
  const rounds = Object.fromEntries(pipelines.map((p) => [p.name, []]));
  const n = Math.max(3, Math.ceil(ROUNDS / 2));
  for (const p of pipelines) await measureStream(cliRedis, p, 300); // warm-up
  for (let r = 0; r < n; r++) for (const p of pipelines) rounds[p.name].push(await measureStream(cliRedis, p, EVENTS));
  return Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, median(v)]));
}

/** Appends `count` CloudEvents to the topic's stream with one redis-cli --pipe, then waits until the app's group acknowledged all of them. */
async function measureStream(cliRedis, p, count) {
  const before = await groupInfo(cliRedis, p);
  const lines = [];
  for (let i = 0; i < count; i++) {
    const ce = JSON.stringify({ specversion: "1.0", id: `${p.name}-${Date.now()}-${i}`, source: "bench", type: "com.dapr.event.sent", datacontenttype: "application/json", topic: p.stream, pubsubname: "pubsub", data: { i, payload: "x".repeat(64) } });
    lines.push(resp(["XADD", p.stream, "*", "data", ce]));
  }
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const c = spawn("redis-cli", ["-p", String(cliRedis.port), "--pipe"], { stdio: ["pipe", "ignore", "inherit"] });
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --pipe exited ${code}`))));
    c.stdin.end(lines.join(""));
  });
  const target = before.read + count;
  for (;;) {
    const g = await groupInfo(cliRedis, p);
    if (g.read >= target && g.pending === 0) break;
    if (performance.now() - t0 > 120_000) throw new Error(`${p.name}: ${g.read - before.read}/${count} events after 120 s (pending ${g.pending})`);
    await sleep(10);
  }
  return count / ((performance.now() - t0) / 1000);
}

async function groupInfo(cliRedis, p) {
  const out = await cliRedis("XINFO", "GROUPS", p.stream).catch(() => "");
  const lines = out.split("\n").map((l) => l.trim());
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === "name" && lines[i + 1] === p.group) {
      const field = (k) => { for (let j = i; j < Math.min(lines.length, i + 14); j++) if (lines[j] === k) return Number(lines[j + 1]); return 0; };
      return { read: field("entries-read"), pending: field("pending") };
    }
  }
  return { read: 0, pending: 0 };
}

function resp(args) { return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""); }
function round(x) { return Math.round(x * 1000) / 1000; }

function spawnUntil(cmd, args, ready, opts = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
  let out = "";
  const readyP = new Promise((resolve, reject) => {
    const onData = (b) => { out += b; if (ready.test(out)) resolve(out); };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`${cmd} exited ${code} before it was ready:\n${out.slice(-3000)}`)));
    setTimeout(() => reject(new Error(`${cmd} not ready in 60 s:\n${out.slice(-3000)}`)), 60_000).unref();
  });
  return { child, ready: readyP, output: () => out };
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5000);
  await new Promise((r) => child.once("exit", r));
  clearTimeout(t);
}

/** The reference process: node:http + @dapr/dapr doing what examples/counter does, and a bare Dapr app for P9. */
async function refServer(grpcPort, httpPort) {
  const { DaprClient, CommunicationProtocolEnum } = await import(path.join(ROOT, "node_modules/@dapr/dapr/index.js")).then((m) => m.default ?? m);
  const clients = {
    http: new DaprClient({ daprHost: "127.0.0.1", daprPort: httpPort, communicationProtocol: CommunicationProtocolEnum.HTTP, logger: { level: 1 } }),
    grpc: new DaprClient({ daprHost: "127.0.0.1", daprPort: grpcPort, communicationProtocol: CommunicationProtocolEnum.GRPC, logger: { level: 1 } }),
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    req.resume();
    await new Promise((r) => req.on("end", r));
    if (url.pathname === "/dapr/subscribe") { res.setHeader("content-type", "application/json"); res.end(JSON.stringify([{ pubsubname: "pubsub", topic: "bench-peer", route: "/peer" }])); return; }
    if (url.pathname === "/peer") { res.setHeader("content-type", "application/json"); res.end('{"status":"SUCCESS"}'); return; }
    if (url.pathname === "/state") {
      const c = clients[url.searchParams.get("proto")];
      const key = url.searchParams.get("key");
      const cur = await c.state.get("statestore", key);
      const next = (Number(cur) || 0) + 1;
      await c.state.save("statestore", [{ key, value: String(next) }]);
      res.end(String(next));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n"));
}

if (process.argv[2] === "ref-server") {
  await refServer(process.argv[3], process.argv[4]);
} else if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify(await run(), null, 2));
}
