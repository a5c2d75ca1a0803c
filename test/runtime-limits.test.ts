/**
 * R1 (a trap), R2 (an infinite loop, and a storm of them), R3 (a memory bomb) from TARGETS.md, and
 * the request/response size limits, against the real `wasm-fn run` on loopback.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closedLoop, get } from "./bench/lib.js";
import { serve, type Served } from "./harness/cli.js";
import { buildFixture, FAULTS_SOURCE, HELLO_SOURCE, percentile, rssOf, type Fixture } from "./runtime-fixtures.js";

const LIMITS = "limits:\n  timeout: 1s\n  memory: 8Mi\n  requestBody: 1Ki\n  responseBody: 32Ki\n";

let faults: Fixture;
let hello: Fixture;
beforeAll(async () => {
  faults = await buildFixture("faults", FAULTS_SOURCE, LIMITS);
  hello = await buildFixture("hello", HELLO_SOURCE);
});

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string; ms: number };
function request(url: string, opts: { method?: string; body?: Buffer; agent?: http.Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = http.request(url, { method: opts.method ?? "GET", agent: opts.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - t }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

async function metric(base: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await request(`${base}/metrics`)).body;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(" ").pop());
  }
  return 0;
}

describe("R1: a function traps", () => {
  let shim: Served;
  beforeAll(async () => { shim = await serve([faults.dir, hello.dir], ["--no-access-log"]); });
  afterAll(async () => { await shim?.stop(); });

  it("answers 500 with the request id, discards the instance, counts it, and other requests are unaffected", async () => {
    const base = shim.url;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await request(`${base}/default/faults/count`, { agent })).body).toBe("1");
    expect((await request(`${base}/default/faults/count`, { agent })).body).toBe("2");
    const r = await request(`${base}/default/faults/trap`, { agent });
    expect(r.status).toBe(500);
    const body = JSON.parse(r.body) as { error: { code: string; reason: string; message: string; requestId: string } };
    expect(body.error.reason).toBe("WFN_TRAP");
    expect(body.error.message).toMatch(/faults trapped: unreachable/);
    expect(body.error.code).toBe("INTERNAL");
    expect(body.error.requestId).toBe(r.headers["x-request-id"]);
    expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    // The trapped instance is gone: a new one starts counting from 1 again.
    expect((await request(`${base}/default/faults/count`, { agent })).body).toBe("1");
    agent.destroy();
    expect(await metric(base, "wfn_traps_total", { function: "faults", kind: "trap" })).toBe(1);
    await shim.logged(body.error.requestId);

    // Traps interleaved with healthy requests: only the trapping ones fail.
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => request(`${base}/default/${i % 3 === 0 ? "faults/trap" : "hello"}`)));
    results.forEach((x, i) => expect(x.status).toBe(i % 3 === 0 ? 500 : 200));
    expect(await metric(base, "wfn_traps_total", { function: "faults", kind: "trap" })).toBe(21);
  });
});

describe("R3: a memory bomb and the size limits", () => {
  let shim: Served;
  beforeAll(async () => { shim = await serve([faults.dir, hello.dir], ["--no-access-log"]); });
  afterAll(async () => { await shim?.stop(); });

  it("caps memory at limits.memory with a clear error; the host survives", async () => {
    const base = shim.url;
    const before = await rssOf(shim.proc.pid!);
    for (let i = 0; i < 5; i++) {
      const r = await request(`${base}/default/faults/bomb`);
      expect(r.status).toBe(500);
      const err = JSON.parse(r.body) as { error: { code: string; reason: string; message: string } };
      expect(err.error.reason).toBe("WFN_MEMORY_LIMIT");
      expect(err.error.message).toMatch(/8 MiB, limits\.memory/);
    }
    // Five bombs, each stopped at 8 MiB: the process grew by far less than an unbounded guest would take.
    expect((await rssOf(shim.proc.pid!)) - before).toBeLessThan(200 * 2 ** 20);
    expect((await request(`${base}/default/faults/ok`)).status).toBe(200);
    expect((await request(`${base}/default/hello`)).body).toBe("hello, world\n");
    expect(await metric(base, "wfn_traps_total", { function: "faults", kind: "memory" })).toBe(5);
  });

  it("refuses a request body over limits.requestBody with 413 and a response body over limits.responseBody with 500", async () => {
    const base = shim.url;
    const big = await request(`${base}/default/faults/ok`, { method: "POST", body: Buffer.alloc(2048, 97) });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error.reason).toBe("WFN_BODY_TOO_LARGE");
    expect((await request(`${base}/default/faults/ok`, { method: "POST", body: Buffer.alloc(512, 97) })).status).toBe(200);
    const ok = await request(`${base}/default/faults/big?kib=16`);
    expect(ok.status).toBe(200);
    expect(ok.body.length).toBe(16 * 1024);
    const tooBig = await request(`${base}/default/faults/big?kib=64`);
    expect(tooBig.status).toBe(500);
    expect(JSON.parse(tooBig.body).error.reason).toBe("WFN_RESPONSE_TOO_LARGE");
  });
});

/** Healthy requests to hello while `storm` clients send /loop back to back; latencies in ms. */
async function storm(base: string, ms: number): Promise<{ alone: number[]; during: number[]; helloErrors: number; runaway: Answer[] }> {
  const helloUrl = `${base}/default/hello`;
  await closedLoop(helloUrl, { connections: 4, ms: 300 });
  const alone = (await closedLoop(helloUrl, { connections: 4, ms })).lat;
  let stop = false;
  const runaway: Answer[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const spammers = Promise.all(Array.from({ length: 4 }, async () => {
    while (!stop) runaway.push(await request(`${base}/default/faults/loop`, { agent }));
  }));
  await new Promise((r) => setTimeout(r, 100));
  const during = await closedLoop(helloUrl, { connections: 4, ms });
  stop = true;
  await spammers;
  agent.destroy();
  return { alone, during: during.lat, helloErrors: during.lat.length - (during.statuses.get(200) ?? 0), runaway };
}

describe("R2: an infinite loop", () => {
  let shim: Served;
  beforeAll(async () => { shim = await serve([faults.dir, hello.dir], ["--no-access-log"]); });
  afterAll(async () => { await shim?.stop(); });

  it("is stopped at the function's timeout with 504", async () => {
    const r = await request(`${shim.url}/default/faults/loop`);
    expect(r.status).toBe(504);
    const err = JSON.parse(r.body) as { error: { code: string; reason: string; message: string; requestId: string } };
    expect(err.error.reason).toBe("WFN_TIMEOUT");
    expect(err.error.message).toMatch(/timeout of 1000 ms/);
    expect(r.ms).toBeGreaterThan(900);
    expect(r.ms).toBeLessThan(5000);
  });

  it("while runaway requests keep arriving, another function keeps answering near its normal latency", async () => {
    const s = await storm(shim.url, 2500);
    const [p50a, p99a, p50s, p99s] = [percentile(s.alone, 50), percentile(s.alone, 99), percentile(s.during, 50), percentile(s.during, 99)];
    console.log(`R2 adaptive: hello p50/p99 alone ${p50a.toFixed(2)}/${p99a.toFixed(2)} ms, during the storm ${p50s.toFixed(2)}/${p99s.toFixed(2)} ms; ${s.runaway.length} runaway answers`);
    expect(s.helloErrors).toBe(0);
    expect(s.during.length).toBeGreaterThan(200);
    // Every runaway is stopped (504) or told to retry while its worker is busy with the others (503).
    expect(s.runaway.length).toBeGreaterThanOrEqual(4);
    for (const r of s.runaway) expect([503, 504]).toContain(r.status);
    expect(s.runaway.some((r) => r.status === 504)).toBe(true);
    // A blocked event loop would put hello's p99 at the 1 s timeout; bounds are generous for a loaded 2-core box.
    expect(p99s).toBeLessThan(Math.max(10 * p99a, p99a + 250));
    expect(p50s).toBeLessThan(Math.max(5 * p50a, p50a + 50));
    expect(await metric(shim.url, "wfn_on_worker_threads", { function: "faults" })).toBe(1);
    expect(await metric(shim.url, "wfn_on_worker_threads", { function: "hello" })).toBe(0);
    expect(await metric(shim.url, "wfn_traps_total", { function: "faults", kind: "timeout" })).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("control: with --offload never (fuel on the main thread only) a runaway blocks every function until its timeout", async () => {
    const never = await serve([faults.dir, hello.dir], ["--no-access-log", "--offload", "never"]);
    try {
      const loops = [1, 2].map(() => request(`${never.url}/default/faults/loop`));
      await new Promise((r) => setTimeout(r, 100));
      const h = await request(`${never.url}/default/hello`);
      console.log(`R2 never: hello took ${h.ms.toFixed(0)} ms behind 2 runaways`);
      expect(h.status).toBe(200);
      expect(h.ms).toBeGreaterThan(800);
      expect((await Promise.all(loops)).map((r) => r.status)).toEqual([504, 504]);
    } finally {
      await never.stop();
    }
  }, 60_000);
});
