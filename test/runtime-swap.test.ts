/**
 * Hot code swap under load: new requests go to the new build, requests in flight on the old one
 * finish there, and no request fails. Through the loopback admin endpoint and `wasm-fn run --watch`.
 */
import { mkdtemp, rename, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "./harness/cli.js";
import { buildFixture, copyFixture, moduleBytes, versionSource, type Fixture } from "./runtime-fixtures.js";

let v1: Fixture;
let v2: Fixture;
let tmp: string;
beforeAll(async () => {
  // Two builds of one function (name "swap"): each answers its version.
  v1 = await buildFixture("swap", versionSource("v1"));
  v2 = await buildFixture("swap", versionSource("v2"));
  tmp = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-swap-"));
});

type Answer = { status: number; body: string; started: number; ended: number };
function request(url: string, opts: { method?: string; body?: Buffer; agent?: http.Agent } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(url, { method: opts.method ?? "GET", agent: opts.agent }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, started, ended: performance.now() }));
    });
    req.on("error", (e) => resolve({ status: 0, body: e.message, started, ended: performance.now() }));
    req.end(opts.body);
  });
}

/** `clients` keep-alive clients requesting `url` back to back until stop() resolves with every answer. */
function load(url: string, clients = 8): { stop(): Promise<Answer[]> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const answers: Answer[] = [];
  let running = true;
  const loops = Promise.all(Array.from({ length: clients }, async () => {
    while (running) answers.push(await request(url, { agent }));
  }));
  return { async stop() { running = false; await loops; agent.destroy(); return answers; } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectCleanSwap(answers: Answer[], swappedAt: number, min = 100): void {
  const failed = answers.filter((a) => a.status !== 200);
  expect(failed, `failed during the swap: ${JSON.stringify(failed.slice(0, 3))}`).toHaveLength(0);
  expect(answers.length).toBeGreaterThan(min);
  expect(answers.some((a) => a.body === "v1")).toBe(true);
  expect(answers.some((a) => a.body === "v2")).toBe(true);
  // Once the swap was acknowledged, every new request was served by the new build.
  const after = answers.filter((a) => a.started > swappedAt);
  expect(after.length).toBeGreaterThan(20);
  expect(after.filter((a) => a.body !== "v2")).toHaveLength(0);
}

describe("hot swap through the admin endpoint", () => {
  let shim: Served;
  beforeAll(async () => { shim = await serve([(await copyFixture(v1, path.join(tmp, "admin"))).dir], ["--no-access-log"]); });
  afterAll(async () => { await shim?.stop(); });

  it("PUT a new module under load: no request fails, new requests get the new build", async () => {
    const url = `${shim.url}/default/swap`;
    const l = load(url);
    await sleep(700);
    const put = await request(`${shim.url}/admin/functions/default/swap`, { method: "PUT", body: await moduleBytes(v2) });
    expect(put.status, put.body).toBe(200);
    expect(JSON.parse(put.body)).toMatchObject({ swapped: true, name: "swap" });
    const swappedAt = put.ended;
    await sleep(700);
    expectCleanSwap(await l.stop(), swappedAt);
    const info = JSON.parse((await request(`${shim.url}/admin/functions`)).body) as { functions: { name: string; origin: string; pool: { drainingVersions: number } }[] };
    expect(info.functions[0]).toMatchObject({ name: "swap", pool: { drainingVersions: 0 } });
    expect(info.functions[0]!.origin).toMatch(/uploaded/);
  });

  it("refuses a broken build with a clear error and keeps serving the current one", async () => {
    const put = await request(`${shim.url}/admin/functions/default/swap`, { method: "PUT", body: Buffer.from("not wasm at all") });
    expect(put.status).toBe(400);
    expect(JSON.parse(put.body).error.reason).toBe("WFN_NOT_WASM");
    expect((await request(`${shim.url}/default/swap`)).body).toBe("v2");
  });

  it("POST .../reload re-reads the function from its directory", async () => {
    const dir = path.join(tmp, "admin", path.basename(v1.dir));
    await writeAtomic(path.join(dir, "dist", "swap.wasm"), await moduleBytes(v1));
    const r = await request(`${shim.url}/admin/functions/default/swap/reload`, { method: "POST" });
    expect(r.status, r.body).toBe(200);
    expect((await request(`${shim.url}/default/swap`)).body).toBe("v1");
  });

  it("answers only loopback callers with a loopback Host and no Origin", async () => {
    const evil = await new Promise<number>((resolve) => {
      http.get(`${shim.url}/admin/functions`, { headers: { host: "attacker.example" } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    });
    expect(evil).toBe(403);
    const cors = await new Promise<number>((resolve) => {
      http.get(`${shim.url}/admin/functions`, { headers: { origin: "http://attacker.example" } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    });
    expect(cors).toBe(403);
  });
});

describe("hot swap with requests in flight on worker threads", () => {
  it("in-flight requests finish on the old build while new ones get the new build", async () => {
    const shim = await serve([(await copyFixture(v1, path.join(tmp, "workers"))).dir], ["--no-access-log", "--offload", "always"]);
    try {
      // One worker thread per function here: the slow request holds it, fast ones queue behind it until the swap.
      const slow = request(`${shim.url}/default/swap/spin?ms=800`);
      const l = load(`${shim.url}/default/swap`, 4);
      await sleep(200);
      const put = await request(`${shim.url}/admin/functions/default/swap`, { method: "PUT", body: await moduleBytes(v2) });
      expect(put.status, put.body).toBe(200);
      // Long enough for more than 20 requests after the swap on one worker even on a loaded 2-core box.
      await sleep(1500);
      const answers = await l.stop();
      const inflight = await slow;
      expect([inflight.status, inflight.body]).toEqual([200, "v1"]);
      expect(inflight.ended).toBeGreaterThan(put.ended); // it really was in flight across the swap
      expectCleanSwap(answers, put.ended, 20);
    } finally {
      await shim.stop();
    }
  });
});

describe("wasm-fn run --watch", () => {
  it("picks up a new build of dist/<name>.wasm under load", async () => {
    const fx = await copyFixture(v1, path.join(tmp, "watch"));
    const shim = await serve([fx.dir], ["--no-access-log", "--watch"]);
    try {
      const l = load(`${shim.url}/default/swap`, 4);
      await sleep(500);
      await writeAtomic(fx.wasmPath, await moduleBytes(v2)); // what `wasm-fn build` does: write a temp file, rename
      const deadline = Date.now() + 15_000;
      let seenAt = 0;
      while (!seenAt && Date.now() < deadline) {
        const a = await request(`${shim.url}/default/swap`);
        if (a.body === "v2") seenAt = a.ended;
        else await sleep(50);
      }
      expect(seenAt, "the new build was not picked up").toBeGreaterThan(0);
      await sleep(300);
      const answers = await l.stop();
      expect(answers.filter((a) => a.status !== 200)).toHaveLength(0);
      expect(answers.filter((a) => a.started > seenAt && a.body !== "v2")).toHaveLength(0);
      await shim.logged(/swapped default\/swap/);
    } finally {
      await shim.stop();
    }
  });
});

async function writeAtomic(file: string, bytes: Buffer): Promise<void> {
  const t = `${file}.${process.pid}.tmp`;
  await writeFile(t, bytes);
  await rename(t, file);
}
