// Faults on the real parts: daprd gone, daprd hung, Redis stopped and started again. Capability
// calls must fail within the configured timeout with a clear error, then recover by themselves.
// "Hung" is a gate (test/harness/tcp-gate.ts) in front of the real daprd that holds every byte
// until the test releases it: no SIGSTOP race with the connection pool or the scheduler. Time
// bounds are the deadline plus a margin a loaded 2-core CI machine keeps (the failure they catch
// is the SDK's ~30 s, not 100 ms).
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServing, silentLogger, type Serving } from "../runtime-shim/dist/index.js";
import { startDaprd, writeResources, type Daprd } from "./harness/dapr.js";
import { startRedis, type Redis } from "./harness/redis.js";
import { ensureBuilt, eventually } from "./harness/services.js";
import { startGate, type Gate } from "./harness/tcp-gate.js";

const DAPR_TIMEOUT_MS = 800;
const MARGIN_MS = 4000;
let redis: Redis, daprd: Daprd, serving: Serving, gated: Serving | undefined, resources: string;
const gates: Gate[] = [];
const probeOn = async (s: Serving, p: string, init?: RequestInit) => {
  const t0 = performance.now();
  const body = (await (await fetch(`${s.shim.url}/default/dapr-probe${p}`, init)).json()) as { code: number; message: string; value?: string };
  return { ...body, ms: performance.now() - t0 };
};
const probe = (p: string, init?: RequestInit) => probeOn(serving, p, init);

beforeAll(async () => {
  await ensureBuilt("test/fixtures/dapr-probe");
  redis = await startRedis();
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-faults-"));
  resources = writeResources([{ name: "statestore", type: "state.redis", metadata: { redisHost: redis.address } }], path.join(dir, "resources"));
  daprd = await startDaprd({ appId: "faults", resourcesPath: resources });
  serving = await startServing({
    functions: [{ kind: "dir", dir: "test/fixtures/dapr-probe" }], port: 0, log: silentLogger,
    backend: { kind: "dapr", sidecar: { httpPort: daprd.httpPort, grpcPort: daprd.grpcPort }, timeoutMs: DAPR_TIMEOUT_MS },
  });
});

afterAll(async () => {
  await serving?.close();
  await gated?.close();
  for (const g of gates) await g.close();
  await daprd?.stop();
  await redis?.stop();
});

describe("faults", () => {
  it("daprd unreachable: calls fail fast with UNAVAILABLE naming the sidecar, and recover when it is back", async () => {
    expect(await probe("/state/set?key=f1", { method: "POST", body: "before" })).toMatchObject({ code: 0 });
    await daprd.stop();
    const down = await probe("/state/get?key=f1");
    expect(down.code).toBe(7 /* UNAVAILABLE */);
    expect(down.message).toMatch(/daprd at 127\.0\.0\.1:\d+ is unreachable/);
    expect(down.ms).toBeLessThan(DAPR_TIMEOUT_MS + MARGIN_MS);
    daprd = await startDaprd({ appId: "faults", resourcesPath: resources, grpcPort: daprd.grpcPort, httpPort: daprd.httpPort });
    const back = await eventually(async () => { const r = await probe("/state/get?key=f1"); return r.code === 0 ? r : undefined; }, 20_000, "recovery after daprd restart");
    expect(back.value).toBe("before");
  });

  it("daprd hung: calls fail with TIMEOUT after the configured timeout, not the SDK's ~30 s", async () => {
    const [httpGate, grpcGate] = [await startGate(daprd.httpPort), await startGate(daprd.grpcPort)];
    gates.push(httpGate, grpcGate);
    gated = await startServing({
      functions: [{ kind: "dir", dir: "test/fixtures/dapr-probe" }], port: 0, log: silentLogger,
      backend: { kind: "dapr", sidecar: { httpPort: httpGate.port, grpcPort: grpcGate.port }, timeoutMs: DAPR_TIMEOUT_MS },
    });
    // Through the open gate the call works (a keep-alive connection is now in the pool)...
    expect(await probeOn(gated, "/state/get?key=f1")).toMatchObject({ code: 0, value: "before" });
    httpGate.hold();
    grpcGate.hold();
    try {
      // ...then daprd stops answering on the open connections and on new ones alike.
      for (const key of ["f1", "f1", "absent"]) {
        const hung = await probeOn(gated, `/state/get?key=${key}`);
        expect(hung.code, hung.message).toBe(8 /* TIMEOUT */);
        expect(hung.message).toContain(`within ${DAPR_TIMEOUT_MS} ms`);
        expect(hung.ms).toBeGreaterThanOrEqual(DAPR_TIMEOUT_MS - 50);
        expect(hung.ms).toBeLessThan(DAPR_TIMEOUT_MS + MARGIN_MS);
      }
    } finally {
      httpGate.release();
      grpcGate.release();
    }
    expect(await eventually(async () => { const r = await probeOn(gated!, "/state/get?key=f1"); return r.code === 0 ? r : undefined; }, 10_000, "recovery after release")).toMatchObject({ value: "before" });
  });

  it("Redis stopped, then started: calls fail within the timeout, then recover with no restart of anything", async () => {
    expect(await probe("/state/set?key=f2", { method: "POST", body: "x" })).toMatchObject({ code: 0 });
    const daprdPid = daprd.proc.pid;
    await redis.stop();
    const failing = await probe("/state/get?key=f2");
    expect([7, 8]).toContain(failing.code); // UNAVAILABLE or TIMEOUT, depending on where daprd notices
    expect(failing.message.length).toBeGreaterThan(20);
    expect(failing.ms).toBeLessThan(DAPR_TIMEOUT_MS + MARGIN_MS);
    await redis.restart();
    const ok = await eventually(async () => { const r = await probe("/state/set?key=f2", { method: "POST", body: "after" }); return r.code === 0 ? r : undefined; }, 30_000, "recovery after Redis restart");
    expect(ok.code).toBe(0);
    expect(await probe("/state/get?key=f2")).toMatchObject({ code: 0, value: "after" });
    expect(daprd.proc.pid).toBe(daprdPid);
  });
});
