// Issue 13, point 6: an async function's retries are capped, back off, and end in the input's
// dead-letter topic, on the embedded backend and on real daprd + Redis (the same cases for both);
// the embedded backend keeps accepted events across a SIGKILL. Real `wasm-fn run` processes.
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "./harness/cli.js";
import { daprdBinary, startDaprd, writeResiliency, writeResources, writeTestConfig, type Daprd } from "./harness/dapr.js";
import { freePort } from "./harness/proc.js";
import { startRedis, type Redis } from "./harness/redis.js";
import { ensureBuilt, eventually } from "./harness/services.js";

const FNS = ["test/fixtures/delivery/worker", "test/fixtures/delivery/morgue"];
/** delivery-worker's retry: exponential from 200 ms, up to 1 s, 3 retries. */
const GAPS = [200, 400, 800];

interface Hit { at: number; query: URLSearchParams }

/**
 * The functions' sink: records /try, /done and /dead per event id. The first /try of a "hold"
 * event is left unanswered, so its delivery is under way (accepted, not handled) as long as the test likes.
 */
async function startSink() {
  const hits = new Map<string, Hit[]>();
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const key = `${u.pathname} ${u.searchParams.get("id")}`;
    const list = hits.get(key) ?? [];
    hits.set(key, [...list, { at: performance.now(), query: u.searchParams }]);
    if (u.pathname === "/try" && u.searchParams.get("mode") === "hold" && list.length === 0) { held.push(res); return; }
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    of: (what: "/try" | "/done" | "/dead", id: string) => hits.get(`${what} ${id}`) ?? [],
    close: async () => { for (const r of held) r.destroy(); server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}

let sink: Awaited<ReturnType<typeof startSink>>;
let redis: Redis | undefined;
const running: Served[] = [];

beforeAll(async () => {
  await Promise.all(FNS.map((f) => ensureBuilt(f)));
  sink = await startSink();
}, 600_000);

afterAll(async () => {
  for (const s of running) await s.stop("SIGKILL");
  await sink?.close();
  await redis?.stop();
});

async function start(extra: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const s = await serve(FNS, extra, { env, timeoutMs: 90_000 });
  running.push(s);
  return s;
}

async function publish(s: Served, id: string, mode: string): Promise<void> {
  const worker = s.functions.find((f) => f.name === "delivery-worker")!;
  const r = await fetch(worker.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ id, mode, sink: sink.url }) });
  expect(r.status, await r.text()).toBe(202);
}

/** The cases both backends must pass; `shim()` is a running `wasm-fn run` of both fixtures. */
function deliveryCases(shim: () => Served, idPrefix: string): void {
  it("retries a RETRY 3 times (retry.maxRetries) with growing gaps, then the event lands in the dead-letter topic once", async () => {
    const id = `${idPrefix}-retry-${Date.now()}`;
    await publish(shim(), id, "retry");
    const dead = await eventually(() => sink.of("/dead", id)[0], 30_000, "dead letter");
    const tries = sink.of("/try", id);
    expect(tries).toHaveLength(4);
    const gaps = tries.slice(1).map((t, i) => t.at - tries[i]!.at);
    // Each wait at least the policy's (a loaded machine adds to it, never takes away), and each longer than the last.
    gaps.forEach((g, i) => expect(g, `gaps ${gaps.map(Math.round).join(", ")} ms`).toBeGreaterThanOrEqual(GAPS[i]! - 15));
    expect(gaps[1]!).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]!).toBeGreaterThan(gaps[1]!);
    // The dead letter is the event itself (same CloudEvent id), and it comes once; no more tries after it.
    expect(dead.query.get("eventId")).toBe(tries[0]!.query.get("eventId"));
    // daprd republishes the message as it was, so its CloudEvent still names the topic it failed on; the bus does the same.
    expect(dead.query.get("topic")).toBe("jobs");
    await new Promise((r) => setTimeout(r, 1500));
    expect(sink.of("/dead", id)).toHaveLength(1);
    expect(sink.of("/try", id)).toHaveLength(4);
  });

  it("does not retry a DROP; the dropped event goes to the dead-letter topic (as daprd does)", async () => {
    const id = `${idPrefix}-drop-${Date.now()}`;
    await publish(shim(), id, "drop");
    await eventually(() => sink.of("/dead", id)[0], 30_000, "dead letter of a drop");
    await new Promise((r) => setTimeout(r, 1000));
    expect(sink.of("/try", id)).toHaveLength(1);
    expect(sink.of("/dead", id)).toHaveLength(1);
  });

  it("handles a SUCCESS once, with no dead letter", async () => {
    const id = `${idPrefix}-ok-${Date.now()}`;
    await publish(shim(), id, "ok");
    await eventually(() => sink.of("/done", id)[0], 30_000, "handled");
    await new Promise((r) => setTimeout(r, 1000));
    expect([sink.of("/try", id).length, sink.of("/done", id).length, sink.of("/dead", id).length]).toEqual([1, 1, 0]);
  });
}

describe("delivery, embedded backend (wasm-fn run)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-delivery-"));
  const stateFile = path.join(dir, "state.json");
  let s: Served;
  beforeAll(async () => { s = await start(["--state-file", stateFile]); }, 120_000);

  deliveryCases(() => s, "emb");

  it("an event accepted but not handled when the shim is killed (SIGKILL) is handled once it restarts with the same state dir", async () => {
    const id = `emb-kill-${Date.now()}`;
    await publish(s, id, "hold");
    // Accepted (publish answered 202 after the journal's fdatasync) and under way: the first try waits on the sink.
    await eventually(() => sink.of("/try", id)[0], 20_000, "first try");
    expect(sink.of("/done", id)).toHaveLength(0);
    await s.stop("SIGKILL");
    expect(readFileSync(path.join(dir, "state.events.jsonl"), "utf8")).toContain(`"s":"/_wfn/dapr/topics/pubsub/jobs"`);
    s = await start(["--state-file", stateFile]);
    await eventually(() => sink.of("/done", id)[0], 20_000, "handled after the restart");
    expect(sink.of("/try", id)).toHaveLength(2);
    expect(sink.of("/done", id)).toHaveLength(1);
  });

  it("an event handled (SUCCESS) is not delivered again after a SIGKILL and restart", async () => {
    const id = `emb-settled-${Date.now()}`;
    await publish(s, id, "ok");
    await eventually(() => sink.of("/done", id)[0], 20_000, "handled");
    await new Promise((r) => setTimeout(r, 300)); // the journal's "done" line is written right after the answer
    await s.stop("SIGKILL");
    s = await start(["--state-file", stateFile]);
    await new Promise((r) => setTimeout(r, 2000));
    expect([sink.of("/try", id).length, sink.of("/done", id).length]).toEqual([1, 1]);
  });
});

describe("delivery, real daprd + Redis (wasm-fn run --dapr)", () => {
  let s: Served;
  beforeAll(async () => {
    redis ??= await startRedis();
    const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-delivery-dapr-"));
    // processingTimeout above the function's whole retry schedule (1.4 s): Redis must not hand the
    // event out again while the shim is still retrying it (docs/dapr.md, "Retries and dead letters").
    const resources = writeResources([{ name: "pubsub", type: "pubsub.redis", metadata: { redisHost: redis.address, processingTimeout: "10s", redeliverInterval: "2s" } }], path.join(dir, "resources"));
    s = await start(["--dapr", "--resources-path", resources, "--dapr-config", writeTestConfig(dir)], { WASM_FN_DAPRD: await daprdBinary(), DAPR_GRPC_PORT: "", DAPR_HTTP_PORT: "" });
  }, 180_000);

  it("lists the dead-letter topic in the subscription daprd reads", async () => {
    // daprd only moves an event it was told about; the shim's /dapr/subscribe answers loopback clients.
    const r = await fetch(`${s.url}/dapr/subscribe`);
    expect(await r.json()).toContainEqual({ pubsubname: "pubsub", topic: "jobs", route: "/_wfn/dapr/topics/pubsub/jobs", deadLetterTopic: "jobs-dead" });
  });

  deliveryCases(() => s, "dapr");
});

describe("delivery, a shim killed mid-event beside a daprd that keeps running (dapr run, Kubernetes)", () => {
  let daprd: Daprd | undefined;
  afterAll(async () => { await daprd?.stop(); });

  it("with a Resiliency retry policy on the pubsub, daprd delivers the event again once the shim is back: handled after the restart, no dead letter", async () => {
    redis ??= await startRedis();
    const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-delivery-kill-"));
    const resources = writeResources([{ name: "pubsub", type: "pubsub.redis", metadata: { redisHost: redis.address, processingTimeout: "20s", redeliverInterval: "2s" } }], path.join(dir, "resources"));
    // daprd retries failed deliveries (a connection the killed shim dropped, or refused while it is
    // down) every 200 ms, 50 times; without it, a delivery that fails goes to the dead-letter topic at once.
    writeResiliency(resources, ["pubsub"]);
    const appPort = await freePort();
    daprd = await startDaprd({ appId: "delivery", appPort, resourcesPath: resources, waitForApp: false });
    const args = ["--dapr", "--port", String(appPort)];
    const env = { DAPR_HTTP_PORT: String(daprd.httpPort), DAPR_GRPC_PORT: String(daprd.grpcPort) };
    let shim = await serve(FNS, args, { env, timeoutMs: 90_000 });
    running.push(shim);
    await eventually(async () => ((await fetch(`http://127.0.0.1:${daprd!.httpPort}/v1.0/healthz`)).status === 204 ? true : undefined), 30_000, "daprd sees the app");
    const id = `kill-dapr-${Date.now()}`;
    const worker = shim.functions.find((f) => f.name === "delivery-worker")!;
    const r = await fetch(worker.url.replace(/:\d+/, `:${appPort}`), { method: "POST", body: JSON.stringify({ id, mode: "hold", sink: sink.url }) });
    expect(r.status).toBe(202);
    await eventually(() => sink.of("/try", id)[0], 20_000, "first try");
    await shim.stop("SIGKILL");
    shim = await serve(FNS, args, { env, timeoutMs: 90_000 });
    running.push(shim);
    await eventually(() => sink.of("/done", id)[0], 20_000, "handled after the restart");
    await new Promise((r) => setTimeout(r, 1500));
    // Dapr delivers at least once: a CI run once saw this event handled twice after the restart (3.5 s
    // in all, so not Redis's processingTimeout redelivery; cause not found). What this case shows is
    // that the event is handled after the restart and does not go to the dead-letter topic; exactly
    // once after a crash is what the embedded backend's journal gives (the cases above).
    expect([sink.of("/try", id).length >= 2, sink.of("/done", id).length >= 1, sink.of("/dead", id).length]).toEqual([true, true, 0]);
  });
});
