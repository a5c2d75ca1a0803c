/**
 * The instance pool end to end through `wasm-fn run`: scale from zero and back (minReplicas 0 and
 * the idle timeout, watched on /metrics as a new user would), pre-warm, the bounded queue (503 +
 * Retry-After), and both isolation modes.
 */
import { copyFile, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "./harness/cli.js";
import { buildFixture, FAULTS_SOURCE, type Fixture } from "./runtime-fixtures.js";

let faults: Fixture;
let tmp: string;
beforeAll(async () => {
  faults = await buildFixture("faults", FAULTS_SOURCE);
  tmp = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-pool-"));
});

/** The built faults module under another name and config (a .wasm with its metadata JSON beside it). */
async function variant(name: string, config: Record<string, unknown>): Promise<string> {
  const dir = path.join(tmp, name);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.wasm`);
  await copyFile(faults.wasmPath, file);
  await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ config: { name, ...config } }));
  return file;
}

function get(url: string, agent?: http.Agent): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on("error", reject);
  });
}

async function gauge(base: string, name: string, fn: string): Promise<number> {
  const text = (await get(`${base}/metrics`)).body;
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(`function="${fn}"`));
  return line ? Number(line.split(" ").pop()) : NaN;
}

async function until(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("scale 0..N", () => {
  let shim: Served;
  afterAll(async () => { await shim?.stop(); });

  it("minReplicas 0: the first request scales the function up, the idle timeout scales it back to zero", async () => {
    const file = await variant("zero", { scaleOptions: { minReplicas: 0, idleTimeout: "300ms" } });
    shim = await serve([file], ["--no-access-log"]);
    const base = shim.url;
    expect(await gauge(base, "wfn_instances_live", "zero")).toBe(0);
    expect(await gauge(base, "wfn_cold_starts_total", "zero")).toBe(0);
    expect((await get(`${base}/default/zero/ok`)).status).toBe(200);
    expect(await gauge(base, "wfn_cold_starts_total", "zero")).toBe(1);
    expect(await gauge(base, "wfn_instances_live", "zero")).toBe(1);
    expect(await gauge(base, "wfn_instances_idle", "zero")).toBe(1);
    await until("scale to zero", async () => (await gauge(base, "wfn_instances_live", "zero")) === 0);
    expect((await get(`${base}/default/zero/ok`)).status).toBe(200);
    expect(await gauge(base, "wfn_cold_starts_total", "zero")).toBe(2);
    expect(await gauge(base, "wfn_invocations_total", "zero")).toBe(2);
    // ...and the log says so, once per transition.
    await shim.logged(/zero scaled up from zero/);
    await shim.logged(/zero scaled to zero after 300 ms idle/);
  });

  it("minReplicas 2: two instances are warm before the first request, so it is no cold start", async () => {
    const file = await variant("warm", { scaleOptions: { minReplicas: 2, idleTimeout: "100ms" } });
    const s = await serve([file], ["--no-access-log"]);
    try {
      expect(await gauge(s.url, "wfn_instances_live", "warm")).toBe(2);
      expect((await get(`${s.url}/default/warm/ok`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
      expect(await gauge(s.url, "wfn_cold_starts_total", "warm")).toBe(0);
      expect(await gauge(s.url, "wfn_instances_live", "warm")).toBe(2);
    } finally {
      await s.stop();
    }
  });

  it("beyond maxReplicas requests queue up to maxQueue, then get 503 with Retry-After", async () => {
    // On worker threads (--offload always) a 400 ms handler does not block the shim, so requests overlap.
    const file = await variant("narrow", { scaleOptions: { maxReplicas: 1, maxQueue: 1 } });
    const s = await serve([file], ["--no-access-log", "--offload", "always"]);
    try {
      const answers = await Promise.all([0, 1, 2].map(async (i) => {
        await new Promise((r) => setTimeout(r, i * 30));
        return get(`${s.url}/default/narrow/spin?ms=400`, new http.Agent());
      }));
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([200, 200, 503]);
      const busy = answers.find((a) => a.status === 503)!;
      expect(busy.headers["retry-after"]).toBe("1");
      expect(JSON.parse(busy.body).error.reason).toBe("WFN_POOL_EXHAUSTED");
    } finally {
      await s.stop();
    }
  });
});

describe("isolation", () => {
  it("reuse (the default): an instance keeps its memory between requests", async () => {
    const file = await variant("reuse", {});
    const s = await serve([file], ["--no-access-log"]);
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const counts = [];
      for (let i = 0; i < 5; i++) counts.push((await get(`${s.url}/default/reuse/count`, agent)).body);
      agent.destroy();
      expect(counts).toEqual(["1", "2", "3", "4", "5"]);
    } finally {
      await s.stop();
    }
  });

  for (const offload of ["adaptive", "always"]) {
    it(`fresh: every request sees pristine memory (${offload === "always" ? "worker threads" : "main thread"})`, async () => {
      const file = await variant(`fresh-${offload}`, { isolation: "fresh" });
      const s = await serve([file], ["--no-access-log", "--offload", offload]);
      try {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
        const counts = await Promise.all(Array.from({ length: 40 }, () => get(`${s.url}/default/fresh-${offload}/count`, agent)));
        agent.destroy();
        expect(counts.map((c) => c.body)).toEqual(Array(40).fill("1"));
        const info = JSON.parse((await get(`${s.url}/admin/functions/default/fresh-${offload}`)).body) as { isolation: string; fresh: { kind: string; newUs: number } };
        expect(info.isolation).toBe("fresh");
        expect(["reset", "new"]).toContain(info.fresh.kind);
        expect(info.fresh.newUs).toBeGreaterThan(0);
      } finally {
        await s.stop();
      }
    });
  }

  it("fresh: a request that grew memory gets its instance replaced, and the next one is pristine", async () => {
    const file = await variant("fresh-grow", { isolation: "fresh" });
    const s = await serve([file], ["--no-access-log"]);
    try {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      expect((await get(`${s.url}/default/fresh-grow/count`, agent)).body).toBe("1");
      // 2 MiB grows linear memory past its initial size: a reset cannot shrink it, so the instance is replaced.
      expect((await get(`${s.url}/default/fresh-grow/big?kib=2048`, agent)).status).toBe(200);
      expect((await get(`${s.url}/default/fresh-grow/count`, agent)).body).toBe("1");
      agent.destroy();
    } finally {
      await s.stop();
    }
  });
});
