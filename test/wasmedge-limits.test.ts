// The WasmEdge form against bad, slow and hostile clients, and functions that run away or break:
// the same cases the shim's suites use (test/bad-input.test.ts, test/runtime-limits.test.ts), with
// what differs inside WasmEdge: a timeout or trap ends the process (the container restarts).
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "./harness/services.js";
import { startWasmEdge, type WasmEdgeProc } from "./harness/wasmedge.js";

const started: WasmEdgeProc[] = [];
let hello: WasmEdgeProc;

async function start(dir: string, name: string): Promise<WasmEdgeProc> {
  const p = await startWasmEdge(`${dir}/dist/${name}.wasmedge.wasm`);
  started.push(p);
  return p;
}

/** Sends raw bytes; resolves with everything the server sent until it closed (or 3 s passed). */
function raw(port: number, bytes: string | Buffer, waitMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(bytes));
    let out = "";
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    setTimeout(() => { s.destroy(); resolve(out); }, waitMs);
  });
}

async function stillServing(p: WasmEdgeProc = hello): Promise<void> {
  const r = await fetch(`${p.url}/default/${p === hello ? "hello" : "trap"}?name=ok`, { signal: AbortSignal.timeout(2000) });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  await Promise.all([ensureBuilt("examples/hello"), ensureBuilt("examples/echo-json"), ensureBuilt("test/fixtures/trap")]);
  hello = await start("examples/hello", "hello");
}, 120_000);
afterAll(async () => { await Promise.all(started.map((p) => p.stop())); });

describe("bad input gets a clear answer and the WasmEdge server keeps serving", () => {
  it("malformed requests get 400, 505, 501 or 431, each closing its connection", async () => {
    const garbage = await raw(hello.port, "THIS IS NOT HTTP\r\n\r\n");
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(garbage).toMatch(/"code":"WFN_BAD_REQUEST"/);
    expect(garbage).toMatch(/connection: close/);
    expect(await raw(hello.port, "POST /default/hello HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(hello.port, "GET /default/hello HTTP/2.0\r\nHost: x\r\n\r\n")).toMatch(/^HTTP\/1\.1 505 /);
    expect(await raw(hello.port, "POST /default/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")).toMatch(/^HTTP\/1\.1 501 /);
    expect(await raw(hello.port, "POST /default/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(hello.port, "POST /default/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(hello.port, "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(hello.port, `GET /default/hello HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    const badEscape = await fetch(`${hello.url}/default/hello/%E0%A4%A`);
    expect(badEscape.status).toBe(400);
    expect(((await badEscape.json()) as { error: { message: string } }).error.message).toMatch(/malformed percent-encoding/);
    // random bytes, a NUL in a header
    expect(await raw(hello.port, Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]))).toMatch(/^HTTP\/1\.1 400 /);
    expect(await raw(hello.port, "GET / HTTP/1.1\r\nX: a\u0000b\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    await stillServing();
  });

  it("a body over limits.requestBody gets 413, with a Content-Length and chunked", async () => {
    const trap = await start("test/fixtures/trap", "trap"); // limits.requestBody: 1Ki
    const r = await fetch(`${trap.url}/default/trap/count`, { method: "POST", body: "x".repeat(4096) });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "WFN_BODY_TOO_LARGE", message: expect.stringMatching(/over this function's limit of 1024 bytes.*limits.requestBody/) });
    const chunked = await raw(trap.port, `POST /default/trap/count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${"y".repeat(2048)}\r\n0\r\n\r\n`);
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    expect((await fetch(`${trap.url}/default/trap/count`, { method: "POST", body: "small" })).status).toBe(200);
  });

  it("keep-alive and pipelining: requests on one connection are answered in order", async () => {
    const two = "GET /default/hello?name=one HTTP/1.1\r\nHost: x\r\n\r\nGET /default/hello?name=two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const out = await raw(hello.port, two);
    expect(out.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(2);
    expect(out.indexOf("hello, one")).toBeGreaterThan(0);
    expect(out.indexOf("hello, two")).toBeGreaterThan(out.indexOf("hello, one"));
    const echo = await start("examples/echo-json", "echo-json");
    const body = JSON.stringify({ name: "chunks", n: 2 });
    const chunked = await raw(echo.port, `POST /default/echo-json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n${body.slice(0, 5)}\r\n${(body.length - 5).toString(16)}\r\n${body.slice(5)}\r\n0\r\n\r\n`);
    expect(chunked).toMatch(/^HTTP\/1\.1 200 /);
    expect(chunked).toContain('"name":"CHUNKS"');
  });

  it("slow clients (slowloris) hold up nobody and are dropped after 10 s", async () => {
    const stalled: Socket[] = [];
    const closedAt: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) {
      const s = connect(hello.port, "127.0.0.1", () => s.write("GET /default/hello HTTP/1.1\r\nHost: x\r\nX-Slow: "));
      s.on("error", () => undefined);
      s.on("close", () => closedAt.push(Date.now() - t0));
      stalled.push(s);
    }
    for (let i = 0; i < 10; i++) {
      const t = Date.now();
      await stillServing();
      expect(Date.now() - t).toBeLessThan(2000);
    }
    const deadline = Date.now() + 16_000;
    while (closedAt.length < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(closedAt.length).toBe(50);
    expect(Math.min(...closedAt)).toBeGreaterThanOrEqual(9_000);
    for (const s of stalled) s.destroy();
    await stillServing();
  }, 30_000);
});

describe("limits: the process ends, the client gets its answer first", () => {
  it("a runaway loop gets 504 with its request id at limits.timeout, then the process exits 1", async () => {
    const trap = await start("test/fixtures/trap", "trap"); // limits.timeout: 2s
    const t = Date.now();
    const r = await fetch(`${trap.url}/default/trap/spin`, { headers: { "x-request-id": "spin-1" } });
    expect(r.status).toBe(504);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1900);
    expect(r.headers.get("x-request-id")).toBe("spin-1");
    expect(await r.json()).toMatchObject({ error: { code: "WFN_TIMEOUT", message: expect.stringMatching(/timeout of 2000 ms/) }, requestId: "spin-1" });
    expect(await trap.exitStatus()).toMatchObject({ code: 1 });
    expect(trap.logs()).toMatch(/"level":"error".*WFN_TIMEOUT.*"requestId":"spin-1"/);
    await stillServing();
  }, 30_000);

  it("a trap ends the process non-zero, and the log names the request that was running", async () => {
    const trap = await start("test/fixtures/trap", "trap");
    expect(await (await fetch(`${trap.url}/default/trap/count`)).text()).toBe("1");
    await fetch(`${trap.url}/default/trap/boom`, { headers: { "x-request-id": "boom-1" } }).catch(() => undefined);
    const st = await trap.exitStatus();
    expect(st.code).not.toBe(0);
    expect(trap.logs()).toMatch(/"msg":"request started","method":"GET","path":"\/default\/trap\/boom".*"requestId":"boom-1"/);
  }, 30_000);

  it("a memory bomb is capped at limits.memory: the guest traps before its timeout, the process exits", async () => {
    const trap = await start("test/fixtures/trap", "trap"); // limits.memory: 4Mi, limits.timeout: 2s
    const t = Date.now();
    const r = await fetch(`${trap.url}/default/trap/grow`, { headers: { "x-request-id": "grow-1" } }).catch(() => null);
    // Uncapped, /grow would allocate until the 2 s timeout (504); capped, memory.grow fails at 4 MiB and the guest traps.
    expect(r).toBeNull();
    expect(Date.now() - t).toBeLessThan(1900);
    expect((await trap.exitStatus()).code).not.toBe(0);
    expect(trap.logs()).toMatch(/"msg":"request started","method":"GET","path":"\/default\/trap\/grow".*"requestId":"grow-1"/);
  }, 30_000);
});
