/**
 * The TypeScript examples end to end, with the embedded backend and with real daprd + Redis (the
 * same cases on both): todo-ts (Hono, zod, state through the SDK), webhook-ts (Web Crypto HMAC, a
 * secret, publish) feeding the AssemblyScript order consumer (one pipeline, two languages), and a
 * TypeScript async function's SUCCESS / RETRY / DROP.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFunction, normalizeConfig } from "@wasm-fn/build";
import { silentLogger, startServing, type Serving } from "@wasm-fn/runtime-shim";
import { daprdBinary, writeResiliency, writeResources, writeTestConfig } from "./harness/dapr.js";
import { startRedis, type Redis } from "./harness/redis.js";
import { ensureBuilt, eventually } from "./harness/services.js";

const TS = ["examples/todo-ts", "examples/webhook-ts", "test/fixtures/ts-events", "test/fixtures/ts-testbed"];
const AS = ["examples/order-pipeline/consumer", "examples/order-pipeline/producer"];

beforeAll(async () => {
  for (const d of TS) await buildFunction(d);
  await Promise.all(AS.map((d) => ensureBuilt(d)));
}, 10 * 60_000);

/** The testbed with grants to read the events' records and publish to their topic. */
function testbedSource() {
  const wasm = readFileSync("test/fixtures/ts-testbed/dist/ts-testbed.wasm");
  const config = normalizeConfig({ name: "ts-testbed", lang: "ts", states: ["statestore"], permissions: { publish: ["pubsub/ts-events"] } });
  return { kind: "bytes" as const, wasm, config, origin: "ts-testbed" };
}

function functions() {
  return [...["examples/todo-ts", "examples/webhook-ts", "test/fixtures/ts-events", ...AS].map((dir) => ({ kind: "dir" as const, dir })), testbedSource()];
}

function cases(get: () => Serving) {
  const url = (fn: string, rest = "") => `${get().shim.url}/default/${fn}${rest}`;
  const post = (u: string, body: unknown, headers: Record<string, string> = {}) => fetch(u, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });

  it("todo-ts: create (validated by zod), list, get, patch, delete", async () => {
    const bad = await post(url("todo-ts", "/todos"), { title: "" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/^title: /);
    const made = await post(url("todo-ts", "/todos"), { title: "write docs" });
    expect(made.status).toBe(201);
    const todo = (await made.json()) as { id: string; title: string; done: boolean };
    expect(todo).toMatchObject({ title: "write docs", done: false });
    const list = (await (await fetch(url("todo-ts", "/todos"))).json()) as { id: string }[];
    expect(list.map((t) => t.id)).toContain(todo.id);
    const patched = await fetch(url("todo-ts", `/todos/${todo.id}`), { method: "PATCH", body: JSON.stringify({ done: true }) });
    expect(((await patched.json()) as { done: boolean }).done).toBe(true);
    expect(((await (await fetch(url("todo-ts", `/todos/${todo.id}`))).json()) as { done: boolean }).done).toBe(true);
    expect((await fetch(url("todo-ts", `/todos/${todo.id}`), { method: "DELETE" })).status).toBe(204);
    expect((await fetch(url("todo-ts", `/todos/${todo.id}`))).status).toBe(404);
    expect(((await (await fetch(url("todo-ts", "/todos"))).json()) as { id: string }[]).map((t) => t.id)).not.toContain(todo.id);
  });

  it("todo-ts: 20 concurrent creates all land in the index (ETag retries)", async () => {
    const made = await Promise.all(Array.from({ length: 20 }, (_, i) => post(url("todo-ts", "/todos"), { title: `t${i}` }).then(async (r) => ((await r.json()) as { id: string }).id)));
    const ids = ((await (await fetch(url("todo-ts", "/todos"))).json()) as { id: string }[]).map((t) => t.id);
    for (const id of made) expect(ids).toContain(id);
  });

  it("webhook-ts -> pubsub/orders -> the AssemblyScript consumer: a signed order is stored; a bad signature is 401", async () => {
    const id = `o-${Math.random().toString(36).slice(2)}`;
    const body = JSON.stringify({ id, item: "book", qty: 2 });
    const sig = createHmac("sha256", "change-me").update(body).digest("hex");
    const bad = await post(url("webhook-ts"), body, { "x-hub-signature-256": `sha256=${"0".repeat(64)}` });
    expect(bad.status).toBe(401);
    const ok = await post(url("webhook-ts"), body, { "x-hub-signature-256": `sha256=${sig}` });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toEqual({ id, event: "published" });
    const stored = await eventually(async () => {
      const r = await fetch(url("order-producer", `?id=${id}`));
      return r.status === 200 ? ((await r.json()) as { status: string; item: string }) : undefined;
    }, 20_000, `order ${id} stored by the consumer`);
    expect(stored).toMatchObject({ id, item: "book", status: "processed" });
  });

  it("a TypeScript async function: SUCCESS once, RETRY then SUCCESS, DROP once, a 500 retried", async () => {
    const run = Math.random().toString(36).slice(2);
    const record = async (id: string) => {
      const r = (await (await fetch(url("ts-testbed", `/state-get?store=statestore&key=ev-${run}-${id}`))).json()) as { ok: { value: { attempts: number; outcome: string; topic: string } } | null };
      return r.ok?.value;
    };
    for (const [id, mode] of [["a", "ok"], ["b", "retry-once"], ["c", "drop"], ["d", "status-500"]]) {
      const p = (await (await post(url("ts-testbed", "/publish?pubsub=pubsub&topic=ts-events"), { id: `${run}-${id}`, mode })).json()) as unknown;
      expect(p).toEqual({ ok: null });
    }
    expect(await eventually(async () => (await record("a"))?.outcome === "success" ? record("a") : undefined, 20_000, "event a")).toMatchObject({ attempts: 1, topic: "ts-events" });
    expect(await eventually(async () => (await record("b"))?.outcome === "success" ? record("b") : undefined, 20_000, "event b retried")).toMatchObject({ attempts: 2 });
    expect(await eventually(async () => (await record("d"))?.attempts === 2 ? record("d") : undefined, 20_000, "event d retried after a 500")).toMatchObject({ attempts: 2 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await record("c")).toMatchObject({ attempts: 1, outcome: "drop" });
    expect((await record("a"))?.attempts).toBe(1);
  });
}

describe("with the embedded backend", () => {
  let serving: Serving;
  beforeAll(async () => {
    serving = await startServing({ functions: functions(), port: 0, log: silentLogger, backend: { kind: "embedded", stateFile: null, resourcesPath: "examples/webhook-ts/components" } });
  }, 120_000);
  afterAll(async () => { await serving?.close(); });
  cases(() => serving);
});

describe("with daprd and Redis", () => {
  let serving: Serving;
  let redis: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-ts-examples-"));
    const secrets = path.join(dir, "secrets.json");
    writeFileSync(secrets, JSON.stringify({ webhook: "change-me" }));
    const resources = writeResources([
      { name: "statestore", type: "state.redis", metadata: { redisHost: redis.address } },
      { name: "pubsub", type: "pubsub.redis", metadata: { redisHost: redis.address, processingTimeout: "2s", redeliverInterval: "1s" } },
      { name: "secretstore", type: "secretstores.local.file", metadata: { secretsFile: secrets } },
    ], path.join(dir, "resources"));
    writeResiliency(resources, ["pubsub"]);
    serving = await startServing({
      functions: functions(), port: 0, log: silentLogger,
      backend: { kind: "dapr", resourcesPath: resources, config: writeTestConfig(dir), daprd: await daprdBinary(), timeoutMs: 5000 },
    });
  }, 180_000);
  afterAll(async () => { await serving?.close(); await redis?.stop(); });
  cases(() => serving);
});
