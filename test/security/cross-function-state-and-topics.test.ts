// Issue 10 point 14 (and point 3's service invocation): two functions share one host. tenant-b (the
// attacker, test/fixtures/tenant-b) tries to read and write tenant-a's state store, publish to
// tenant-a's topic, call tenant-a's output binding, read its secrets and configuration, and invoke
// tenant-a (beyond the one method prefix it was granted) and itself. Each is DENIED, with a message
// that says what to add to wasm-fn.yaml, before the backend is asked: in the shim with the embedded
// backend, in the shim with daprd (one sidecar serves both functions, so the shim's check is what
// holds), and in the WasmEdge form (the adapter's check, beside its own daprd).
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "@wasm-fn/abi";
import { startServing, silentLogger, type Serving } from "../../runtime-shim/dist/index.js";
import { serve, type Served } from "../harness/cli.js";
import { startDaprd, writeResources, type Daprd } from "../harness/dapr.js";
import { startRedis, type Redis } from "../harness/redis.js";
import { freePort } from "../harness/proc.js";
import { ensureBuilt } from "../harness/services.js";
import { startWasmEdge, type WasmEdgeProc } from "../harness/wasmedge.js";

type Answer = { code: number; message: string; value?: string; values?: Record<string, string>; status?: number; body?: string };
const call = async (base: string, fn: string, p: string, body?: string): Promise<Answer> => {
  const r = await fetch(`${base}/default/${fn}${p}`, body === undefined ? {} : { method: "POST", body });
  expect(r.status, `${fn}${p}`).toBe(200);
  return (await r.json()) as Answer;
};
const denied = (a: Answer, hint: string) => {
  expect(a.code, a.message).toBe(ErrorCode.DENIED);
  expect(a.message).toContain("tenant-b");
  expect(a.message).toContain(hint);
};

let redis: Redis, resources: string;
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await Promise.all(["test/fixtures/tenant-a", "test/fixtures/tenant-b"].map((f) => ensureBuilt(f)));
  redis = await startRedis();
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-scoping-"));
  const secrets = path.join(dir, "secrets.json");
  writeFileSync(secrets, JSON.stringify({ "db-password": "a-only" }));
  resources = writeResources([
    { name: "a-store", type: "state.redis", metadata: { redisHost: redis.address, keyPrefix: "none" } },
    { name: "b-store", type: "state.redis", metadata: { redisHost: redis.address, keyPrefix: "none" } },
    { name: "pubsub", type: "pubsub.redis", metadata: { redisHost: redis.address } },
    { name: "a-secrets", type: "secretstores.local.file", metadata: { secretsFile: secrets } },
    { name: "a-config", type: "configuration.redis", metadata: { redisHost: redis.address } },
    { name: "a-sink", type: "bindings.http", metadata: { url: "http://127.0.0.1:9/" } },
  ], path.join(dir, "resources"));
}, 180_000);

afterAll(async () => {
  for (const s of stops.reverse()) await s();
  await redis?.stop();
});

/** The attacks, against a host that serves tenant-b at `base()` (and tenant-a beside it when `both`). */
function attacks(base: () => string, both: boolean): void {
  it("tenant-b can neither read nor write tenant-a's state store; its own store works", async () => {
    if (both) expect(await call(base(), "tenant-a", "/state/set?store=a-store&key=owned", "a's value")).toMatchObject({ code: 0 });
    denied(await call(base(), "tenant-b", "/state/get?store=a-store&key=owned"), "states:");
    denied(await call(base(), "tenant-b", "/state/set?store=a-store&key=owned", "b was here"), "states: [a-store]");
    denied(await call(base(), "tenant-b", "/state/del?store=a-store&key=owned"), "states:");
    denied(await call(base(), "tenant-b", "/state/set?store=no-such-store&key=k", "x"), "states: [no-such-store]");
    if (both) expect(await call(base(), "tenant-a", "/state/get?store=a-store&key=owned")).toMatchObject({ code: 0, value: "a's value" });
    expect(await call(base(), "tenant-b", "/state/set?store=b-store&key=mine", "b's"), "its own store").toMatchObject({ code: 0 });
  });

  it("tenant-b cannot publish to a topic it was not given (tenant-a's, or an unknown pubsub)", async () => {
    denied(await call(base(), "tenant-b", "/publish?pubsub=pubsub&topic=a-topic", "{}"), "permissions.publish");
    denied(await call(base(), "tenant-b", "/publish?pubsub=no-such-pubsub&topic=b-topic", "{}"), "no-such-pubsub/b-topic");
  });

  it("tenant-b cannot call tenant-a's output binding", async () => {
    denied(await call(base(), "tenant-b", "/binding?name=a-sink&op=post", "x"), "permissions.bindings");
  });

  it("tenant-b cannot read tenant-a's secrets or configuration", async () => {
    if (both) expect(await call(base(), "tenant-a", "/secret?store=a-secrets&key=db-password")).toMatchObject({ code: 0, values: { "db-password": "a-only" } });
    const s = await call(base(), "tenant-b", "/secret?store=a-secrets&key=db-password");
    denied(s, "permissions.secrets");
    expect(JSON.stringify(s)).not.toContain("a-only");
    denied(await call(base(), "tenant-b", "/config?store=a-config&keys=flag"), "permissions.configuration");
  });

  it("tenant-b invokes only what permissions.invoke names: not another method of tenant-a, not itself", async () => {
    denied(await call(base(), "tenant-b", "/invoke?app=tenant-a&method=admin", "x"), "permissions.invoke");
    denied(await call(base(), "tenant-b", "/invoke?app=tenant-a&method=ping/../admin", "x"), "permissions.invoke");
    denied(await call(base(), "tenant-b", "/invoke?app=tenant-a&method=pingpong", "x"), "permissions.invoke");
    denied(await call(base(), "tenant-b", "/invoke?app=tenant-b&method=x", "x"), "permissions.invoke");
    if (both) {
      expect(await call(base(), "tenant-b", "/invoke?app=tenant-a&method=ping/1", "hi")).toMatchObject({ code: 0, status: 200, body: "echo POST /ping/1 hi" });
      const back = await call(base(), "tenant-a", "/invoke?app=tenant-b&method=x", "x");
      expect(back.code, back.message).toBe(ErrorCode.DENIED);
    }
  });
}

describe("one shim, embedded backend", () => {
  let shim: Served;
  beforeAll(async () => {
    shim = await serve(["test/fixtures/tenant-a", "test/fixtures/tenant-b"], ["--resources-path", resources, "--state-file", path.join(mkdtempSync(path.join(os.tmpdir(), "wfn-scoping-state-")), "state.json"), "--no-access-log"]);
    stops.push(() => shim.stop());
  }, 120_000);
  attacks(() => shim.url, true);
});

describe("one shim, one daprd for both functions", () => {
  let serving: Serving, daprd: Daprd;
  beforeAll(async () => {
    daprd = await startDaprd({ appId: "scoping", resourcesPath: resources });
    stops.push(() => daprd.stop());
    serving = await startServing({
      functions: [{ kind: "dir", dir: "test/fixtures/tenant-a" }, { kind: "dir", dir: "test/fixtures/tenant-b" }], port: 0, log: silentLogger,
      backend: { kind: "dapr", sidecar: { httpPort: daprd.httpPort, grpcPort: daprd.grpcPort } },
    });
    stops.push(() => serving.close());
  }, 120_000);
  attacks(() => serving.shim.url, true);
});

describe("WasmEdge form beside its own daprd", () => {
  let fn: WasmEdgeProc, daprd: Daprd;
  beforeAll(async () => {
    const [http, grpc] = [await freePort(), await freePort()];
    fn = await startWasmEdge("test/fixtures/tenant-b/dist/tenant-b.wasmedge.wasm", { env: { DAPR_HTTP_PORT: String(http), DAPR_GRPC_PORT: String(grpc) } });
    stops.push(() => fn.stop());
    daprd = await startDaprd({ appId: "tenant-b", appPort: fn.port, resourcesPath: resources, httpPort: http, grpcPort: grpc });
    stops.push(() => daprd.stop());
  }, 120_000);
  attacks(() => fn.url, false);
});
