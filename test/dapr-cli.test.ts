// `wasm-fn run` as a user runs it: --dapr starting (and stopping) its own daprd, --dapr with a
// running sidecar (DAPR_GRPC_PORT), and the embedded backend keeping state across restarts.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, serve } from "./harness/cli.js";
import { daprdBinary, startDaprd, writeResiliency, writeResources, writeTestConfig } from "./harness/dapr.js";
import { startRedis, type Redis } from "./harness/redis.js";
import { ensureBuilt, eventually, startRecorder } from "./harness/services.js";
import { freePort } from "./harness/proc.js";

const PIPELINE = ["examples/order-pipeline/producer", "examples/order-pipeline/consumer"];
let redis: Redis, dir: string, resources: string, env: NodeJS.ProcessEnv;

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function placeOrder(url: string, id: string): Promise<Record<string, unknown>> {
  const posted = await fetch(`${url}/default/order-producer`, { method: "POST", body: JSON.stringify({ id, item: "lamp", qty: 1 }) });
  expect(posted.status).toBe(202);
  return eventually(async () => {
    const r = await fetch(`${url}/default/order-producer?id=${id}`);
    return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : undefined;
  }, 20_000, `order ${id} processed`);
}

beforeAll(async () => {
  await Promise.all([...PIPELINE, "examples/counter", "test/fixtures/dapr-probe"].map((f) => ensureBuilt(f)));
  redis = await startRedis();
  dir = mkdtempSync(path.join(os.tmpdir(), "wfn-cli-dapr-"));
  resources = writeResources([
    { name: "statestore", type: "state.redis", metadata: { redisHost: redis.address } },
    { name: "pubsub", type: "pubsub.redis", metadata: { redisHost: redis.address, processingTimeout: "2s", redeliverInterval: "1s" } },
  ], path.join(dir, "resources"));
  env = { WASM_FN_DAPRD: await daprdBinary(), DAPR_GRPC_PORT: "", DAPR_HTTP_PORT: "" };
});

afterAll(async () => { await redis?.stop(); });

describe("wasm-fn run --dapr", () => {
  it("starts daprd with --app-port = the shim's port, runs order-pipeline through it, and stops it on SIGTERM", async () => {
    const s = await serve(PIPELINE, ["--dapr", "--resources-path", resources, "--dapr-config", writeTestConfig(dir)], { env });
    const started = /"msg":"daprd started"[^\n]*"pid":(\d+)/.exec(s.output());
    expect(started, s.output()).not.toBeNull();
    const pid = Number(started![1]);
    expect(alive(pid)).toBe(true);
    const order = await placeOrder(s.url, `cli-${Date.now()}`);
    expect(order).toMatchObject({ item: "lamp", status: "processed", topic: "orders" });
    expect(await s.stop("SIGTERM")).toBe(0);
    await eventually(() => (alive(pid) ? undefined : true), 10_000, "daprd stopped");
  });

  it("a shim killed with SIGKILL does not leave its daprd behind", async () => {
    const s = await serve(["examples/counter"], ["--dapr", "--resources-path", resources, "--dapr-config", writeTestConfig(dir)], { env });
    const watchdog = Number(/"msg":"daprd started"[^\n]*"pid":(\d+)/.exec(s.output())![1]);
    const { readFileSync } = await import("node:fs");
    const children = readFileSync(`/proc/${watchdog}/task/${watchdog}/children`, "utf8").trim().split(/\s+/).map(Number);
    const daprdPid = children.find((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]!.includes("daprd"))!;
    expect(alive(daprdPid)).toBe(true);
    await s.stop("SIGKILL");
    await eventually(() => (alive(daprdPid) || alive(watchdog) ? undefined : true), 15_000, "daprd stopped after its shim died");
  });

  it("uses a running sidecar named by DAPR_GRPC_PORT instead of starting one", async () => {
    const sidecar = await startDaprd({ appId: "counter", resourcesPath: resources });
    try {
      const s = await serve(["examples/counter"], ["--dapr"], { env: { ...env, DAPR_GRPC_PORT: String(sidecar.grpcPort), DAPR_HTTP_PORT: String(sidecar.httpPort) } });
      try {
        expect(s.output()).not.toContain("daprd started");
        for (let i = 0; i < 3; i++) expect((await fetch(`${s.url}/default/counter?key=cli-sidecar`, { method: "POST" })).status).toBe(200);
        expect(await (await fetch(`${sidecar.api}/state/statestore/cli-sidecar`)).text()).toBe("3");
      } finally {
        await s.stop();
      }
    } finally {
      await sidecar.stop();
    }
  });

  it("at-least-once: a shim killed (SIGKILL) while events flow gets the unacknowledged ones again after a restart", async () => {
    const sink = await startRecorder();
    const res = writeResources([
      { name: "statestore", type: "state.redis", metadata: { redisHost: redis.address } },
      { name: "pubsub", type: "pubsub.redis", metadata: { redisHost: redis.address, processingTimeout: "2s", redeliverInterval: "1s" } },
      { name: "sink", type: "bindings.http", metadata: { url: sink.url } },
    ], path.join(dir, "r4"));
    writeResiliency(res, ["pubsub"]);
    const [appPort, httpPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
    const shimEnv = { ...env, DAPR_HTTP_PORT: String(httpPort), DAPR_GRPC_PORT: String(grpcPort) };
    const start = () => serve(["test/fixtures/dapr-probe"], ["--dapr", "--port", String(appPort), "--no-access-log"], { env: shimEnv });
    let shim = await start();
    const sidecar = await startDaprd({ appId: "r4", appPort, resourcesPath: res, httpPort, grpcPort });
    try {
      const t = Date.now();
      const ids = Array.from({ length: 150 }, (_, i) => `r4-${t}-${i}`);
      const done = async () => (await Promise.all(ids.map((id) => fetch(`${sidecar.api}/state/statestore/done-${id}`).then((r) => r.status === 200)))).filter(Boolean).length;
      await Promise.all(ids.map((id) => fetch(`${sidecar.api}/publish/pubsub/probe`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id, mode: "ok" }) })));
      await eventually(async () => ((await done()) >= 5 ? true : undefined), 20_000, "the first events processed");
      await shim.stop("SIGKILL");
      const before = await done();
      shim = await start();
      await eventually(async () => ((await done()) === ids.length ? true : undefined), 60_000, `all ${ids.length} events processed after the restart (had ${before})`);
    } finally {
      await shim.stop();
      await sidecar.stop();
      await sink.close();
    }
    // Its own waits add up to 80 s (20 s for the first events, 60 s after the restart): the test's bound is above them.
  }, 150_000);

  it("without daprd anywhere, fails with the way to get one", async () => {
    const r = await cli(["run", "examples/counter", "--dapr", "--port", "0"], { env: { WASM_FN_DAPRD: "", PATH: "/usr/bin:/bin", WASM_FN_CACHE: dir, DAPR_GRPC_PORT: "", DAPR_HTTP_PORT: "" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/daprd was not found: .*scripts\/build-daprd\.sh.*DAPR_GRPC_PORT/);
  });

  it("DAPR_HTTP_PORT alone is a usage error that names DAPR_GRPC_PORT", async () => {
    const r = await cli(["run", "examples/counter", "--dapr", "--port", "0"], { env: { DAPR_HTTP_PORT: "3500", DAPR_GRPC_PORT: "" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("DAPR_GRPC_PORT");
  });
});

describe("wasm-fn run (embedded backend, no Dapr)", () => {
  it("order-pipeline works in-process with the example's own component files", async () => {
    const s = await serve(PIPELINE, ["--state-file", path.join(dir, "pipeline.json"), "--resources-path", "examples/order-pipeline/components"], { env });
    try {
      expect(await placeOrder(s.url, `emb-${Date.now()}`)).toMatchObject({ status: "processed", topic: "orders" });
    } finally {
      expect(await s.stop()).toBe(0);
    }
  });

  it("keeps state across restarts in --state-file", async () => {
    const stateFile = path.join(dir, "counter.json");
    for (let run = 1; run <= 2; run++) {
      const s = await serve(["examples/counter"], ["--state-file", stateFile], { env });
      try {
        for (let i = 0; i < 2; i++) expect((await fetch(`${s.url}/default/counter`, { method: "POST" })).status).toBe(200);
        expect(await (await fetch(`${s.url}/default/counter`)).text()).toBe(String(2 * run));
      } finally {
        expect(await s.stop()).toBe(0);
      }
    }
  });
});
