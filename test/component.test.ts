/**
 * TypeScript functions as wasi:http/proxy components: `wasm-fn build` (tsc, esbuild,
 * componentize-js) and the shim serving them (jco transpile, a worker thread per instance, the
 * shim's own WASI host), with the limits every function has.
 */
import http from "node:http";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFunction, normalizeConfig } from "@wasm-fn/build";
import { silentLogger, startServing, type Serving } from "@wasm-fn/runtime-shim";
import { serve, type Served } from "./harness/cli.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const TESTBED = path.join(ROOT, "test/fixtures/ts-testbed");
const HELLO_TS = path.join(ROOT, "examples/hello-ts");

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string };
function request(url: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

let testbed: Uint8Array;
beforeAll(async () => {
  // componentize-js takes ~10-20 s per new bundle; the cache (by bundle hash) makes reruns fast.
  testbed = (await buildFunction(TESTBED)).wasm;
  await buildFunction(HELLO_TS);
}, 240_000);

describe("wasm-fn build: lang ts", () => {
  it("writes a wasi:http/proxy component, its bundle and metadata that says so", async () => {
    const meta = JSON.parse(await readFile(path.join(HELLO_TS, "dist/hello-ts.json"), "utf8")) as { abi: string; component: { world: string; componentizeJs: string } };
    expect(meta.abi).toBe("wasi:http/proxy@0.2.10");
    expect(meta.component.world).toBe("wasi:http/proxy@0.2.10");
    expect(meta.component.componentizeJs).toBe("0.23.0");
    const wasm = await readFile(path.join(HELLO_TS, "dist/hello-ts.wasm"));
    expect([...wasm.subarray(0, 8)]).toEqual([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]); // a component, not a core module
    expect(await readFile(path.join(HELLO_TS, "dist/hello-ts.bundle.js"), "utf8")).toContain("incomingHandler");
  });

  it("a type error fails the build with the user's file, line and column, and writes nothing", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "wfn-ts-"));
    try {
      await cp(HELLO_TS, dir, { recursive: true, filter: (s) => !s.includes("dist") });
      await writeFile(path.join(dir, "src/index.ts"), `export default {\n  async fetch(request: Request): Promise<Response> {\n    const n: number = "one";\n    return new Response(String(n));\n  },\n};\n`);
      const e = await buildFunction(dir).then(() => null, (x: unknown) => x as { code: string; message: string });
      expect(e?.code).toBe("WFN_COMPILE");
      expect(e?.message).toMatch(/^TypeScript found 1 error in src\/index\.ts:\nsrc\/index\.ts:3:11 - error TS2322: Type 'string' is not assignable to type 'number'/);
      await expect(readFile(path.join(dir, "dist/hello-ts.wasm"))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a Node.js built-in is refused at bundling with where it was imported and what to use instead", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "wfn-ts-"));
    try {
      await cp(HELLO_TS, dir, { recursive: true, filter: (s) => !s.includes("dist") });
      await writeFile(path.join(dir, "src/index.js"), `import { readFileSync } from "node:fs";\nexport default { fetch: () => new Response(readFileSync("/etc/passwd")) };\n`);
      await writeFile(path.join(dir, "wasm-fn.yaml"), "name: nodefs\nlang: js\n");
      const e = await buildFunction(dir).then(() => null, (x: unknown) => x as { code: string; message: string });
      expect(e?.code).toBe("WFN_COMPILE");
      expect(e?.message).toContain("src/index.js:1:30 - error: node:fs is a Node.js built-in module, and a component has no Node.js APIs");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the shim serves a component", () => {
  let serving: Serving;
  let base: string;
  let upstream: http.Server;
  let upstreamUrl: string;
  beforeAll(async () => {
    upstream = http.createServer((req, res) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => res.end(`upstream saw ${req.method} ${req.url} ${b}`)); });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const config = normalizeConfig({
      name: "ts-testbed", lang: "ts",
      limits: { timeout: "2s", memory: "64Mi", responseBody: "1Mi" },
      permissions: { hosts: [`127.0.0.1:${(upstream.address() as { port: number }).port}`] },
    });
    serving = await startServing({ functions: [{ kind: "bytes", wasm: testbed, config, origin: "ts-testbed" }], port: 0, log: silentLogger, backend: { kind: "embedded", stateFile: null } });
    base = `${serving.shim.url}/default/ts-testbed`;
  }, 60_000);
  afterAll(async () => { await serving?.close(); upstream?.close(); });

  it("passes the request through as a Web Request: method, URL with repeated query keys, headers, body", async () => {
    const r = await request(`${base}/echo?q=1&q=2`, { method: "POST", body: "hello body", headers: { "x-a": "b", "content-type": "text/plain" } });
    expect(r.status).toBe(200);
    const e = JSON.parse(r.body) as { method: string; url: string; query: string[]; headers: Record<string, string>; body: string };
    expect(e.method).toBe("POST");
    // The path within the function (its route prefix taken off), as core functions see it.
    expect(new URL(e.url).pathname).toBe("/echo");
    expect(e.query).toEqual(["1", "2"]);
    expect(e.headers["x-a"]).toBe("b");
    expect(e.body).toBe("hello body");
  });

  it("passes the component's status and headers back, repeated ones too", async () => {
    const r = await request(`${base}/status?s=201`);
    expect(r.status).toBe(201);
    expect(r.body).toBe("teapot");
    expect(r.headers["x-custom"]).toBe("yes");
    expect(r.headers["set-cookie"]).toEqual(["a=1"]);
    expect(r.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reuses an instance across requests (module state survives), one request at a time each", async () => {
    const a = Number((await request(`${base}/count`)).body);
    const b = Number((await request(`${base}/count`)).body);
    expect(b).toBe(a + 1);
  });

  it("a handler that throws answers 500 in the one error shape, logs the stack, and the instance serves on", async () => {
    const before = Number((await request(`${base}/count`)).body);
    const r = await request(`${base}/throw`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toEqual({ error: { code: "WFN_HANDLER", message: "boom" } });
    expect(Number((await request(`${base}/count`)).body)).toBe(before + 1);
  });

  it("timers and Web Crypto work (wasi:clocks pollables, wasi:random)", async () => {
    const slept = Number((await request(`${base}/sleep?ms=60`)).body);
    expect(slept).toBeGreaterThanOrEqual(55);
    const a = JSON.parse((await request(`${base}/random`)).body) as { uuid: string; bytes: number[] };
    const b = JSON.parse((await request(`${base}/random`)).body) as { uuid: string; bytes: number[] };
    expect(a.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.uuid).not.toBe(b.uuid);
    expect(a.bytes).not.toEqual(b.bytes);
  });

  it("outgoing fetch reaches a granted host through the shim's HTTP capability", async () => {
    const r = await request(`${base}/fetch?url=${encodeURIComponent(`${upstreamUrl}/x?y=1`)}`, { method: "POST", body: "ping" });
    expect(r.status).toBe(200);
    expect(r.body).toBe("200 upstream saw POST /x?y=1 ping");
  });

  it("outgoing fetch to a host not granted fails in the component (the shim logs why); other ports of the same address too", async () => {
    const r = await request(`${base}/fetch?url=${encodeURIComponent(`${serving.shim.url}/metrics`)}`);
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/^fetch failed: /);
  });

  it("a loop past the deadline is stopped (504) and a new instance serves the next request", async () => {
    await request(`${base}/count`);
    const r = await request(`${base}/loop`);
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body).error.code).toBe("WFN_TIMEOUT");
    expect((await request(`${base}/count`)).status).toBe(200);
  });

  it("allocating past limits.memory fails inside the component and its instance is replaced", async () => {
    const r = await request(`${base}/alloc`);
    expect(r.status).toBe(500);
    expect(r.body).toMatch(/out of memory/);
    // The full instance was retired: a fresh one counts from 1.
    expect((await request(`${base}/count`)).body).toBe("1");
    expect((await request(`${base}/big?n=1000`)).body).toHaveLength(1000);
  });

  it("a response body over limits.responseBody is WFN_RESPONSE_TOO_LARGE", async () => {
    const r = await request(`${base}/big?n=${2 * 1024 * 1024}`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body).error.code).toBe("WFN_RESPONSE_TOO_LARGE");
    expect((await request(`${base}/big?n=10`)).body).toBe("xxxxxxxxxx");
  });
});

describe("wasm-fn run examples/hello-ts", () => {
  let served: Served;
  beforeAll(async () => { served = await serve([HELLO_TS], ["--no-access-log"]); }, 60_000);
  afterAll(async () => { await served?.stop(); });

  it("answers as examples/hello does", async () => {
    expect((await request(`${served.url}/default/hello-ts?name=ts`)).body).toBe("hello, ts\n");
    expect((await request(`${served.url}/hello-ts`)).body).toBe("hello, world\n");
  });
});
