// The Dapr examples with every function in WasmEdge: the image's entrypoint run by the real
// `wasmedge`, each process beside its own real daprd (as a pod with a sidecar), real Redis,
// Mosquitto and Prometheus Pushgateway. Capability calls go from inside the Wasm sandbox to daprd's
// HTTP API; async functions are Dapr apps (GET /dapr/subscribe, topic routes).
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaprd, writeResiliency, writeResources, type Daprd } from "./harness/dapr.js";
import { startMosquitto, type Mosquitto } from "./harness/mosquitto.js";
import { startPushgateway, type Pushgateway } from "./harness/pushgateway.js";
import { startRedis, type Redis } from "./harness/redis.js";
import { abiConformance } from "./conformance/abi-v1.case.js";
import { ensureBuilt, eventually } from "./harness/services.js";
import { startWasmEdge, type WasmEdgeProc } from "./harness/wasmedge.js";

const FUNCTIONS = ["examples/counter", "examples/order-pipeline/producer", "examples/order-pipeline/consumer", "examples/mqtt-metrics", "test/fixtures/abi-probe"];

let redis: Redis, mqtt: Mosquitto, pgw: Pushgateway, resources: string;
const running: { stop(): Promise<void> }[] = [];

/** A function in WasmEdge with its own daprd: WasmEdge first (daprd reads /dapr/subscribe once at start). */
async function pod(dir: string, name: string, appId: string): Promise<{ fn: WasmEdgeProc; dapr: Daprd; url: string }> {
  const { freePort } = await import("./harness/proc.js");
  const [daprHttp, daprGrpc] = [await freePort(), await freePort()];
  const fn = await startWasmEdge(`${dir}/dist/${name}.wasmedge.wasm`, { env: { DAPR_HTTP_PORT: String(daprHttp), DAPR_GRPC_PORT: String(daprGrpc) } });
  running.push(fn);
  const dapr = await startDaprd({ appId, appPort: fn.port, resourcesPath: resources, httpPort: daprHttp, grpcPort: daprGrpc });
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

describe("examples/counter in WasmEdge + daprd + Redis", () => {
  it("200 concurrent increments leave exactly 200", async () => {
    const { url, dapr } = await pod("examples/counter", "counter", "counter");
    const answers = await Promise.all(Array.from({ length: 200 }, () => fetch(url, { method: "POST" }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body)).size).toBe(200);
    expect(await (await fetch(url)).text()).toBe("200");
    const viaDapr = await fetch(`${dapr.api}/state/statestore/counter`);
    expect(await viaDapr.text()).toBe("200");
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
    // the consumer's log names the delivery as an event invocation
    await eventually(() => (/"msg":"request","method":"POST","path":"\/_wfn\/dapr\/topics\/pubsub\/orders","status":200/.test(consumer.fn.logs()) ? true : undefined), 5000, "the consumer's access log line");
  }, 120_000);
});

describe("examples/mqtt-metrics in WasmEdge: MQTT -> daprd -> function -> bindings.http -> Pushgateway", () => {
  it("telemetry published with a real MQTT client ends up as metrics in the Pushgateway", async () => {
    const m = await pod("examples/mqtt-metrics", "mqtt-metrics", "mqtt-metrics");
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

// The ABI conformance suite, the same cases as against the shim with its embedded backend: here the
// state store is Redis behind the function's own daprd.
let probe: { url: string } | undefined;
describe("ABI v1 conformance in WasmEdge with a sidecar", () => {
  beforeAll(async () => { probe = await pod("test/fixtures/abi-probe", "abi-probe", "abi-probe"); }, 60_000);
  abiConformance("WasmEdge adapter + daprd + Redis", () => ({ url: probe!.url, stateBackend: true }));
});
