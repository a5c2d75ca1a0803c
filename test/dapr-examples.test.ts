// The examples and the async contract end to end on the real parts: one shim serving every example
// (and the probe fixtures, AssemblyScript and C) as one Dapr app, one daprd it starts itself (as
// `wasm-fn run --dapr` does), real Redis, Mosquitto and Prometheus Pushgateway. One sidecar for
// the whole file.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServing, silentLogger, type Serving } from "../runtime-shim/dist/index.js";
import { cSdkCapabilities } from "./conformance/c-sdk.case.js";
import { daprdBinary, writeResiliency, writeResources, writeTestConfig } from "./harness/dapr.js";
import { startMosquitto, type Mosquitto } from "./harness/mosquitto.js";
import { startPushgateway, type Pushgateway } from "./harness/pushgateway.js";
import { startRedis, type Redis } from "./harness/redis.js";
import { ensureBuilt, eventually, startRecorder, type Recorder } from "./harness/services.js";

const FUNCTIONS = ["examples/counter", "examples/counter-c", "examples/order-pipeline/producer", "examples/order-pipeline/consumer", "examples/mqtt-metrics", "test/fixtures/dapr-probe", "test/fixtures/c-sdk"];

let redis: Redis, mqtt: Mosquitto, pgw: Pushgateway, sink: Recorder, serving: Serving;
let base: string;
const fn = (name: string, rest = "") => `${base}/default/${name}${rest}`;
const json = async (r: Response) => (await r.json()) as Record<string, unknown>;
/** Reads a key the way any other Dapr app would: daprd's HTTP state API. */
const daprState = async (key: string) => {
  const r = await fetch(`http://127.0.0.1:${serving.sidecar!.httpPort}/v1.0/state/statestore/${encodeURIComponent(key)}`);
  return r.status === 200 ? await r.text() : undefined;
};

beforeAll(async () => {
  await Promise.all(FUNCTIONS.map((f) => ensureBuilt(f)));
  [redis, mqtt, pgw, sink] = await Promise.all([startRedis(), startMosquitto(), startPushgateway(), startRecorder()]);
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-examples-"));
  const secrets = path.join(dir, "secrets.json");
  writeFileSync(secrets, JSON.stringify({ "api-key": "k-123" }));
  const resources = writeResources([
    { name: "statestore", type: "state.redis", metadata: { redisHost: redis.address } },
    { name: "pubsub", type: "pubsub.redis", metadata: { redisHost: redis.address, processingTimeout: "2s", redeliverInterval: "1s" } },
    { name: "mqtt", type: "pubsub.mqtt3", metadata: { url: mqtt.url, qos: "1", cleanSession: "false", consumerID: "wfn-examples" } },
    { name: "pushgateway", type: "bindings.http", metadata: { url: pgw.url } },
    { name: "sink", type: "bindings.http", metadata: { url: sink.url } },
    { name: "secretstore", type: "secretstores.local.file", metadata: { secretsFile: secrets } },
    { name: "configstore", type: "configuration.redis", metadata: { redisHost: redis.address } },
    { name: "tick", type: "bindings.cron", metadata: { schedule: "@every 1s" } },
  ], path.join(dir, "resources"));
  writeResiliency(resources, ["pubsub", "mqtt"]);
  serving = await startServing({
    functions: FUNCTIONS.map((f) => ({ kind: "dir" as const, dir: f })), port: 0, log: silentLogger,
    backend: { kind: "dapr", resourcesPath: resources, config: writeTestConfig(dir), daprd: await daprdBinary(), timeoutMs: 5000 },
  });
  base = serving.shim.url;
});

afterAll(async () => {
  await serving?.close();
  await Promise.all([redis?.stop(), mqtt?.stop(), pgw?.stop(), sink?.close()]);
});

describe("examples/counter", () => {
  it("200 concurrent increments leave exactly 200 (ETag conflicts are retried)", async () => {
    const answers = await Promise.all(Array.from({ length: 200 }, () => fetch(fn("counter"), { method: "POST" }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    // Every increment saw a different value: no two writers both won with the same ETag.
    expect(new Set(answers.map((a) => a.body)).size).toBe(200);
    expect(await (await fetch(fn("counter"))).text()).toBe("200");
    expect(await daprState("counter")).toBe("200");
  });
});

describe("examples/counter-c (the C SDK's state calls through daprd)", () => {
  it("200 concurrent increments leave exactly 200, in Redis as any Dapr app reads it", async () => {
    const key = `counter-c-${Date.now()}`;
    const answers = await Promise.all(Array.from({ length: 200 }, () => fetch(fn("counter-c", `?key=${key}`), { method: "POST" }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body)).size).toBe(200);
    expect(await (await fetch(fn("counter-c", `?key=${key}`))).text()).toBe("200");
    expect(await daprState(key)).toBe("200");
  });
});

describe("examples/order-pipeline (a sync function triggers an async one)", () => {
  it("an order posted to the HTTP function is processed by the async function and its state reads back", async () => {
    const id = `o-${Date.now()}`;
    const posted = await fetch(fn("order-producer"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id, item: "book", qty: 2 }) });
    expect(posted.status).toBe(202);
    expect(await json(posted)).toEqual({ id, event: "published" });
    const order = await eventually(async () => {
      const r = await fetch(fn("order-producer", `?id=${id}`));
      return r.status === 200 ? json(r) : undefined;
    }, 20_000, "the processed order");
    expect(order).toMatchObject({ id, item: "book", qty: 2, status: "processed", topic: "orders" });
    expect(String(order.event)).not.toBe("");
    expect(JSON.parse((await daprState(`order-${id}`))!)).toMatchObject({ id, status: "processed" });
  });
});

describe("examples/mqtt-metrics (vehicle telemetry -> MQTT -> function -> Pushgateway)", () => {
  it("telemetry published with a real MQTT client ends up as metrics in the Pushgateway", async () => {
    await mqtt.publish("vehicles/car-1/telemetry", JSON.stringify({ vehicle: "car-1", speed_kmh: 88.5, battery_pct: 71, engine_temp_c: 92.1, odometer_km: 12345 }));
    await mqtt.publish("vehicles/car-2/telemetry", "this is not json");
    await mqtt.publish("vehicles/car-2/telemetry", JSON.stringify({ vehicle: "car-2", speed_kmh: 131, battery_pct: 40 }));
    await eventually(async () => ((await pgw.sample("vehicle_speed_kmh", { vehicle: "car-2" })) === 131 ? true : undefined), 30_000, "car-2's speed in the pushgateway");
    await eventually(async () => ((await pgw.sample("vehicle_speed_kmh", { vehicle: "car-1" })) === 88.5 ? true : undefined), 10_000, "car-1's speed in the pushgateway");
    expect(await pgw.sample("vehicle_battery_percent", { vehicle: "car-1", job: "vehicles" })).toBe(71);
    expect(await pgw.sample("vehicle_engine_temperature_celsius", { vehicle: "car-1" })).toBe(92.1);
    expect(await pgw.sample("vehicle_overspeed", { vehicle: "car-2" })).toBe(1);
    expect(await pgw.sample("vehicle_overspeed", { vehicle: "car-1" })).toBe(0);
  });
});

describe("capabilities from a guest through the SDK (test/fixtures/dapr-probe)", () => {
  const probe = (p: string, init?: RequestInit) => fetch(fn("dapr-probe", p), init).then(json);

  it("state: set, get with etag, stale etag is CONFLICT, create-if-absent", async () => {
    const key = `tour-${Date.now()}`;
    expect(await probe(`/state/set?key=${key}`, { method: "POST", body: "v1" })).toMatchObject({ code: 0 });
    const got = await probe(`/state/get?key=${key}`);
    expect(got).toMatchObject({ code: 0, value: "v1" });
    expect(await probe(`/state/set?key=${key}&etag=${got.etag}`, { method: "POST", body: "v2" })).toMatchObject({ code: 0 });
    expect(await probe(`/state/set?key=${key}&etag=${got.etag}`, { method: "POST", body: "v3" })).toMatchObject({ code: 6 /* CONFLICT */ });
    expect(await probe(`/state/create?key=${key}-new`, { method: "POST", body: "a" })).toMatchObject({ code: 0 });
    expect(await probe(`/state/create?key=${key}-new`, { method: "POST", body: "b" })).toMatchObject({ code: 6 });
    expect(await probe(`/state/get?store=nope&key=x`)).toMatchObject({ code: 3 /* NOT_CONFIGURED */, message: expect.stringContaining("nope") });
  });

  it("bindings, secrets and configuration", async () => {
    const before = sink.requests.length;
    const bound = await probe(`/binding?name=sink&op=post&path=/sink/from-guest`, { method: "POST", body: "bound" });
    expect(bound, JSON.stringify(bound)).toMatchObject({ code: 0, data: "sink ok" });
    expect(sink.requests.slice(before).some((r) => r.url === "/sink/from-guest" && r.body === "bound")).toBe(true);
    expect(await probe(`/secret?store=secretstore&key=api-key`)).toMatchObject({ code: 0, values: { "api-key": "k-123" } });
    await redis.cli("SET", "flag-color", "blue||3");
    expect(await probe(`/config?store=configstore&keys=flag-color,flag-missing`)).toMatchObject({ code: 0, values: { "flag-color": "blue" } });
  });

  it("invoke: another function of this shim by app id, without the sidecar", async () => {
    // The sidecar's app id is "wasm-fn" and its name resolution answers nothing, so this can only
    // succeed in-process.
    const r = await probe(`/invoke?app=probe&method=hello&verb=PUT`, { method: "POST", body: "hi" });
    expect(r).toMatchObject({ code: 0, status: 200, body: "echo PUT /hello hi" });
    // (An unknown app id goes to daprd, which retries for ~3 s; the conformance suite checks that error.)
  });

  it("outbound HTTP: a granted host is reached; any other is DENIED with the config key to add", async () => {
    const ok = await probe(`/fetch?url=${encodeURIComponent(`${sink.url}/sink/fetch`)}`);
    expect(ok).toMatchObject({ code: 0, status: 200, body: "sink ok" });
    const denied = await probe(`/fetch?url=${encodeURIComponent(`http://localhost:${sink.port}/sink`)}`);
    expect(denied.code).toBe(4 /* DENIED */);
    expect(denied.message).toContain(`localhost:${sink.port}`);
    expect(denied.message).toContain("permissions.hosts");
  });
});

// The C SDK's capability calls (test/fixtures/c-sdk), the cases test/c-sdk.test.ts runs on the embedded backend.
cSdkCapabilities("daprd + Redis", () => ({
  url: fn("c-sdk"), sink, secret: { key: "api-key", value: "k-123" },
  seedConfig: async (key, value, version) => { await redis.cli("SET", key, `${value}||${version}`); },
}));

describe("async functions: deliveries, outcomes and outputs", () => {
  const publish = (data: unknown) => fetch(fn("dapr-probe", "/publish?pubsub=pubsub&topic=probe"), { method: "POST", body: JSON.stringify(data) }).then(json);
  const attempts = async (id: string) => Number(await daprState(`done-${id}`) ?? NaN);

  it("the shim tells daprd its subscriptions (GET /dapr/subscribe), with input metadata", async () => {
    const subs = (await (await fetch(`${base}/dapr/subscribe`)).json()) as { pubsubname: string; topic: string; route: string; metadata?: Record<string, string> }[];
    expect(subs.map((x) => `${x.pubsubname}/${x.topic}`).sort()).toEqual(["mqtt/vehicles/+/telemetry", "pubsub/c-events", "pubsub/orders", "pubsub/probe"]);
    expect(subs.find((x) => x.pubsubname === "mqtt")!.metadata).toEqual({ rawPayload: "true" });
    expect(new Set(subs.map((x) => x.route)).size).toBe(4);
  });

  it("an input binding (cron) delivers to its function on /<binding>", async () => {
    expect((await fetch(`${base}/tick`, { method: "OPTIONS" })).status).toBe(200);
    const ticks = await eventually(async () => { const n = Number(await daprState("ticks")); return n >= 2 ? n : undefined; }, 15_000, "two cron ticks");
    expect(ticks).toBeGreaterThanOrEqual(2);
  });

  it("each delivery is one invocation that sees the CloudEvent attributes; its return value goes to the outputs", async () => {
    const id = `attr-${Date.now()}`;
    expect(await publish({ id, mode: "ok" })).toMatchObject({ code: 0 });
    await sink.waitFor((rs) => rs.some((r) => r.url === "/sink" && r.body.includes(id)));
    const out = JSON.parse(sink.requests.find((r) => r.url === "/sink" && r.body.includes(id))!.body) as Record<string, unknown>;
    expect(out).toMatchObject({ id, attempts: 1, topic: "probe", pubsubname: "pubsub", input: "pubsub", specversion: "1.0", type: "com.dapr.event.sent", datacontenttype: "application/json" });
    expect(String(out.eventId).length).toBeGreaterThan(0);
  });

  it("a trap or a timeout is RETRY (redelivered), a function's retry is honoured, DROP is not redelivered", async () => {
    const t = Date.now();
    // Published through daprd directly: a spinning guest holds the shim's thread until its timeout,
    // which would also hold a publish made through the probe function.
    for (const mode of ["trapOnce", "retryOnce", "drop", "spinOnce"]) {
      const r = await fetch(`http://127.0.0.1:${serving.sidecar!.httpPort}/v1.0/publish/pubsub/probe`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id: `${mode}-${t}`, mode }) });
      expect(r.status).toBe(204);
    }
    for (const mode of ["trapOnce", "spinOnce", "retryOnce"]) {
      expect(await eventually(async () => { const n = await attempts(`${mode}-${t}`); return Number.isNaN(n) ? undefined : n; }, 30_000, `${mode} processed`)).toBe(2);
    }
    await new Promise((r) => setTimeout(r, 3000)); // longer than the redelivery interval
    expect(await daprState(`attempts-drop-${t}`)).toBeUndefined();
    expect(await daprState(`done-drop-${t}`)).toBeUndefined();
  });

  it("nothing is lost: of 40 events, every fourth traps on its first delivery, and all 40 are processed", async () => {
    const t = Date.now();
    const ids = Array.from({ length: 40 }, (_, i) => `batch-${t}-${i}`);
    await Promise.all(ids.map((id, i) => publish({ id, mode: i % 4 === 0 ? "trapOnce" : "ok" })));
    const done = await eventually(async () => {
      const counts = await Promise.all(ids.map(attempts));
      return counts.every((n) => !Number.isNaN(n)) ? counts : undefined;
    }, 45_000, "all 40 events processed");
    expect(done.filter((n) => n === 2).length).toBeGreaterThanOrEqual(10);
    expect(done.every((n, i) => (i % 4 === 0 ? n >= 2 : n >= 1))).toBe(true);
  });
});
