// The Dapr examples with every function in WasmEdge: the image's entrypoint run by the real
// `wasmedge`, each process beside its own real daprd (as a pod with a sidecar), real Redis,
// Mosquitto and Prometheus Pushgateway. Capability calls go from inside the Wasm sandbox to daprd's
// HTTP API (its gRPC API for bindings and for state bytes the HTTP API would re-encode); async
// functions are Dapr apps (GET /dapr/subscribe, topic routes).
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaprd, writeResiliency, writeResources, type Daprd } from "./harness/dapr.js";
import { startMosquitto, type Mosquitto } from "./harness/mosquitto.js";
import { startPushgateway, type Pushgateway } from "./harness/pushgateway.js";
import { startRedis, type Redis } from "./harness/redis.js";
import { abiConformance } from "./conformance/abi-v1.case.js";
import { freePort } from "./harness/proc.js";
import { ensureBuilt, eventually } from "./harness/services.js";
import { startWasmEdge, type WasmEdgeProc } from "./harness/wasmedge.js";

const FUNCTIONS = ["test/fixtures/delivery/worker", "examples/counter", "examples/counter-c", "examples/order-pipeline/producer", "examples/order-pipeline/consumer", "examples/mqtt-metrics", "test/fixtures/abi-probe", "test/fixtures/dapr-probe"];

const run = promisify(execFile);
let redis: Redis, mqtt: Mosquitto, pgw: Pushgateway, resources: string;
const running: { stop(): Promise<void> }[] = [];

/**
 * A function in WasmEdge with its own daprd: WasmEdge first (it answers /readyz without a sidecar),
 * then daprd with --app-port at it, so daprd reads GET /dapr/subscribe once at start. `token` is
 * DAPR_API_TOKEN for both (daprd then refuses API calls without the dapr-api-token header);
 * `fnToken` overrides what the function is given.
 */
async function pod(dir: string, name: string, appId: string, opts: { token?: string; fnToken?: string; resourcesPath?: string } = {}): Promise<{ fn: WasmEdgeProc; dapr: Daprd; url: string }> {
  const [daprHttp, daprGrpc] = [await freePort(), await freePort()];
  const fnToken = opts.fnToken ?? opts.token;
  const fn = await startWasmEdge(`${dir}/dist/${name}.wasmedge.wasm`, { env: { DAPR_HTTP_PORT: String(daprHttp), DAPR_GRPC_PORT: String(daprGrpc), ...(fnToken ? { DAPR_API_TOKEN: fnToken } : {}) } });
  running.push(fn);
  // startDaprd has no env option and daprd inherits this process's environment, so the token is set
  // for the duration of the call (the cases in this file run one at a time).
  const saved = process.env.DAPR_API_TOKEN;
  if (opts.token) process.env.DAPR_API_TOKEN = opts.token; else delete process.env.DAPR_API_TOKEN;
  let dapr: Daprd;
  try {
    dapr = await startDaprd({ appId, appPort: fn.port, resourcesPath: opts.resourcesPath ?? resources, httpPort: daprHttp, grpcPort: daprGrpc });
  } finally {
    if (saved === undefined) delete process.env.DAPR_API_TOKEN; else process.env.DAPR_API_TOKEN = saved;
  }
  running.push(dapr);
  return { fn, dapr, url: `${fn.url}/default/${name}` };
}

beforeAll(async () => {
  await Promise.all(FUNCTIONS.map((f) => ensureBuilt(f)));
  [redis, mqtt, pgw] = await Promise.all([startRedis(), startMosquitto(), startPushgateway()]);
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-wasmedge-dapr-"));
  resources = writeResources([
    // keyPrefix none: the producer and the consumer are two apps reading one order.
    { name: "statestore", type: "state.redis", metadata: { redisHost: redis.address, keyPrefix: "none" } },
    { name: "pubsub", type: "pubsub.redis", metadata: { redisHost: redis.address, processingTimeout: "2s", redeliverInterval: "1s" } },
    { name: "mqtt", type: "pubsub.mqtt3", metadata: { url: mqtt.url, qos: "1", cleanSession: "false", consumerID: "wfn-wasmedge" } },
    { name: "pushgateway", type: "bindings.http", metadata: { url: pgw.url } },
  ], path.join(dir, "resources"));
  writeResiliency(resources, ["pubsub", "mqtt"]);
}, 180_000);

afterAll(async () => {
  for (const r of running.reverse()) await r.stop();
  await Promise.all([redis?.stop(), mqtt?.stop(), pgw?.stop()]);
});

describe("deadLetterTopic in WasmEdge: the adapter's subscription names it, daprd moves a failed event there", () => {
  it("GET /dapr/subscribe carries it; an event the function answers DROP lands once in the dead-letter stream, with its data", async () => {
    const p = await pod("test/fixtures/delivery/worker", "delivery-worker", "wasmedge-dlq");
    const subs = (await (await fetch(`${p.fn.url}/dapr/subscribe`)).json()) as { topic: string; deadLetterTopic?: string }[];
    expect(subs).toEqual([expect.objectContaining({ pubsubname: "pubsub", topic: "jobs", deadLetterTopic: "jobs-dead" })]);
    const id = `wasmedge-dlq-${Date.now()}`;
    // The function reports its try to this sink, then answers DROP; daprd 1.16 publishes a dropped
    // event to the subscription's dead-letter topic (a Redis stream of that name).
    const tries: string[] = [];
    const sink = createServer((req, res) => { tries.push(req.url ?? ""); res.end("ok"); });
    await new Promise<void>((res) => sink.listen(0, "127.0.0.1", res));
    running.push({ stop: () => new Promise<void>((res) => { sink.closeAllConnections(); sink.close(() => res()); }) });
    const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;
    const r = await fetch(p.url, { method: "POST", body: JSON.stringify({ id, mode: "drop", sink: sinkUrl }) });
    expect(r.status).toBe(202);
    await eventually(() => (tries.some((t) => t.includes(id)) ? true : undefined), 30_000, "the function's try");
    await eventually(async () => (Number(await redis.cli("XLEN", "jobs-dead")) >= 1 ? true : undefined), 30_000, "the event in jobs-dead");
    await new Promise((res) => setTimeout(res, 1000));
    expect(await redis.cli("XLEN", "jobs-dead")).toBe("1");
    expect(await redis.cli("XRANGE", "jobs-dead", "-", "+")).toContain(id);
  }, 120_000);
});

describe("examples/counter in WasmEdge + daprd + Redis", () => {
  it("200 concurrent increments leave exactly 200", async () => {
    const { url, dapr } = await pod("examples/counter", "counter", "counter");
    const answers = await Promise.all(Array.from({ length: 200 }, () => fetch(url, { method: "POST" }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body)).size).toBe(200);
    expect(await (await fetch(url)).text()).toBe("200");
    // what any other Dapr app reads (daprd's HTTP state API) and the bytes in Redis
    const viaDapr = await fetch(`${dapr.api}/state/statestore/counter`);
    expect(await viaDapr.text()).toBe("200");
    expect(await redis.cli("HGET", "counter", "data")).toBe("200");
  }, 120_000);
});

describe("examples/counter-c (the C SDK) in WasmEdge + daprd + Redis", () => {
  it("200 concurrent increments leave exactly 200: the adapter serves the C guest's state calls as the AS one's", async () => {
    const { url, dapr } = await pod("examples/counter-c", "counter-c", "counter-c");
    const c = `${url}?key=counter-c`;
    const answers = await Promise.all(Array.from({ length: 200 }, () => fetch(c, { method: "POST" }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body)).size).toBe(200);
    expect(await (await fetch(c)).text()).toBe("200");
    expect(await (await fetch(`${dapr.api}/state/statestore/counter-c`)).text()).toBe("200");
  }, 120_000);
});

describe("examples/order-pipeline: two WasmEdge processes, each with its own daprd, over Redis pub/sub", () => {
  it("an order posted to the producer is processed by the consumer and reads back", async () => {
    const consumer = await pod("examples/order-pipeline/consumer", "order-consumer", "order-consumer");
    const subs = await (await fetch(`${consumer.fn.url}/dapr/subscribe`)).json();
    expect(subs).toEqual([{ pubsubname: "pubsub", topic: "orders", route: "/_wfn/dapr/topics/pubsub/orders" }]);
    const producer = await pod("examples/order-pipeline/producer", "order-producer", "order-producer");
    const id = `o-${Date.now()}`;
    const posted = await fetch(producer.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id, item: "book", qty: 2 }) });
    expect(posted.status).toBe(202);
    expect(await posted.json()).toEqual({ id, event: "published" });
    const order = await eventually(async () => {
      const r = await fetch(`${producer.url}?id=${id}`);
      return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : undefined;
    }, 30_000, "the processed order");
    expect(order).toMatchObject({ id, item: "book", qty: 2, status: "processed", topic: "orders" });
    expect(String(order.event)).not.toBe("");
    // Another Dapr app reads the same order through its daprd's HTTP state API, and every reader sees
    // the bytes the consumer wrote (a JSON object is saved over gRPC: the HTTP API would re-encode it).
    const asRead = await (await fetch(`${producer.url}?id=${id}`)).text();
    const viaDapr = await fetch(`${consumer.dapr.api}/state/statestore/order-${id}`);
    expect(viaDapr.status).toBe(200);
    const daprText = await viaDapr.text();
    expect(JSON.parse(daprText)).toMatchObject({ id, status: "processed" });
    expect(daprText).toBe(asRead);
    expect(await redis.cli("HGET", `order-${id}`, "data")).toBe(asRead);
    // the consumer's log names the delivery as an event invocation
    await eventually(() => (/"msg":"request","method":"POST","path":"\/_wfn\/dapr\/topics\/pubsub\/orders","status":200/.test(consumer.fn.logs()) ? true : undefined), 5000, "the consumer's access log line");
  }, 120_000);
});

describe("examples/mqtt-metrics in WasmEdge: MQTT -> daprd -> function -> bindings.http -> Pushgateway", () => {
  it("telemetry published with a real MQTT client ends up as metrics in the Pushgateway", async () => {
    const m = await pod("examples/mqtt-metrics", "mqtt-metrics", "mqtt-metrics");
    const subs = await (await fetch(`${m.fn.url}/dapr/subscribe`)).json();
    expect(subs).toEqual([{ pubsubname: "mqtt", topic: "vehicles/+/telemetry", route: `/_wfn/dapr/topics/mqtt/${encodeURIComponent("vehicles/+/telemetry")}`, metadata: { rawPayload: "true" } }]);
    await mqtt.publish("vehicles/car-1/telemetry", JSON.stringify({ vehicle: "car-1", speed_kmh: 88.5, battery_pct: 71, engine_temp_c: 92.1, odometer_km: 12345 }));
    await mqtt.publish("vehicles/car-2/telemetry", "this is not json");
    await mqtt.publish("vehicles/car-2/telemetry", JSON.stringify({ vehicle: "car-2", speed_kmh: 131, battery_pct: 40 }));
    await eventually(async () => ((await pgw.sample("vehicle_speed_kmh", { vehicle: "car-2" })) === 131 ? true : undefined), 30_000, `car-2's speed in the pushgateway; function log:\n${m.fn.logs().slice(-1500)}`);
    await eventually(async () => ((await pgw.sample("vehicle_speed_kmh", { vehicle: "car-1" })) === 88.5 ? true : undefined), 10_000, "car-1's speed in the pushgateway");
    expect(await pgw.sample("vehicle_battery_percent", { vehicle: "car-1", job: "vehicles" })).toBe(71);
    expect(await pgw.sample("vehicle_engine_temperature_celsius", { vehicle: "car-1" })).toBe(92.1);
    expect(await pgw.sample("vehicle_overspeed", { vehicle: "car-2" })).toBe(1);
    expect(await pgw.sample("vehicle_overspeed", { vehicle: "car-1" })).toBe(0);
  }, 120_000);
});

describe("DAPR_API_TOKEN: the function authenticates to a daprd that requires a token", () => {
  it("with the token, HTTP (counter) and gRPC (order state) calls succeed; with a wrong one, DENIED", async () => {
    const token = `tok-${Date.now()}`;
    const { url, dapr } = await pod("examples/counter", "counter", "counter-token", { token });
    // daprd refuses a caller without the token
    expect((await fetch(`${dapr.api}/state/statestore/tok-counter`)).status).toBe(401);
    const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}?key=tok-counter`, { method: "POST" }).then((r) => r.status)));
    expect(answers.every((s) => s === 200)).toBe(true);
    expect(await (await fetch(`${dapr.api}/state/statestore/tok-counter`, { headers: { "dapr-api-token": token } })).text()).toBe("20");

    // the consumer saves a JSON object, which goes over daprd's gRPC API: the token goes there too
    const consumer = await pod("examples/order-pipeline/consumer", "order-consumer", "order-consumer-token", { token });
    const id = `tok-${Date.now()}`;
    const published = await fetch(`${consumer.dapr.api}/publish/pubsub/orders`, { method: "POST", headers: { "content-type": "application/json", "dapr-api-token": token }, body: JSON.stringify({ id, item: "pen", qty: 1 }) });
    expect(published.status).toBe(204);
    await eventually(() => (consumer.fn.logs().includes(`processed order ${id}`) ? true : undefined), 20_000, `the token consumer processing ${id}; its log:\n${consumer.fn.logs().slice(-1500)}`);

    // a function with the wrong token is told DENIED, with daprd's reason
    const wrong = await pod("examples/counter", "counter", "counter-wrong-token", { token, fnToken: "not-the-token" });
    const r = await fetch(`${wrong.url}?key=tok-counter`);
    expect(r.status).toBe(503);
    const wrongText = await r.text();
    expect(wrongText).toMatch(/DENIED/);
  }, 120_000);
});

describe("state bytes: what a function in WasmEdge saves is what every reader gets", () => {
  it("values daprd's HTTP API would re-encode keep their bytes (probe, daprd's HTTP API and Redis agree)", async () => {
    // Only the state store: with the pubsub component this daprd would subscribe the probe to topic
    // "probe", a Redis stream named "probe", which the ABI suite's state.get("probe") then hits.
    const stateOnly = writeResources([{ name: "statestore", type: "state.redis", metadata: { redisHost: redis.address, keyPrefix: "none" } }]);
    const p = await pod("test/fixtures/dapr-probe", "dapr-probe", "probe-bytes", { resourcesPath: stateOnly });
    const values = [
      "200", "-7", "true", "null", '"plain"', // one JSON value that reads back the same: HTTP API
      "007", "1.50", "1e3", " 42", '{ "b": 2, "a": 1 }', '["x",  1]', '"<tag> & \\u0041"', '"é"', // JSON, but not as Go prints it
      "not json", "{broken", "line1\nline2\ttab", "é ✓ 日本", "", // not JSON at all
    ];
    const mismatches: string[] = [];
    for (const [i, v] of values.entries()) {
      const key = `bytes-${Date.now()}-${i}`;
      const set = (await (await fetch(`${p.url}/state/set?key=${key}`, { method: "POST", body: v })).json()) as { code: number; message: string };
      expect(set, `saving ${JSON.stringify(v)}`).toMatchObject({ code: 0 });
      const got = (await (await fetch(`${p.url}/state/get?key=${key}`)).json()) as { code: number; value?: string };
      const viaDapr = await (await fetch(`${p.dapr.api}/state/statestore/${key}`)).text();
      const inRedis = (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(redis.port), "HGET", key, "data"], { encoding: "utf8" })).stdout.replace(/\n$/, "");
      if (got.value !== v || viaDapr !== v || inRedis !== v) mismatches.push(`${JSON.stringify(v)}: probe ${JSON.stringify(got.value)}, daprd HTTP ${JSON.stringify(viaDapr)}, redis ${JSON.stringify(inRedis)}`);
    }
    expect(mismatches).toEqual([]);
  }, 60_000);
});

// The ABI conformance suite, the same cases as against the shim with its embedded backend: here the
// state store is Redis behind the function's own daprd.
let probe: { url: string } | undefined;
describe("ABI v1 conformance in WasmEdge with a sidecar", () => {
  beforeAll(async () => {
    // Its own key prefix: the probe's state key "probe" must not meet the dapr-probe's Redis stream "probe".
    const own = writeResources([{ name: "statestore", type: "state.redis", metadata: { redisHost: redis.address, keyPrefix: "conformance" } }]);
    probe = await pod("test/fixtures/abi-probe", "abi-probe", "abi-probe", { resourcesPath: own });
  }, 60_000);
  abiConformance("WasmEdge adapter + daprd + Redis", () => ({ url: probe!.url, stateBackend: true }));
});
