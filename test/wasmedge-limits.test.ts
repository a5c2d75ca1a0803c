// The WasmEdge form against bad, slow and hostile clients, and functions that run away or break:
// the same cases the shim's suites use (test/bad-input.test.ts, test/runtime-limits.test.ts), with
// what differs inside WasmEdge: a timeout, a trap or an abort ends the process (the container
// restarts). Every case that is not about the process ending checks that examples/hello still
// answers 200 afterwards. Everything is on 127.0.0.1; every wait is bounded.
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "./harness/services.js";
import { startWasmEdge, type WasmEdgeProc } from "./harness/wasmedge.js";
import { buildFixture, type Fixture } from "./runtime-fixtures.js";

/** A function that misbehaves on request: /loop never ends, /abort indexes past an array's end (an AssemblyScript abort), /big?kib=N answers N KiB. */
const LIMITS_SOURCE = `import { Request, Response } from "@wasm-fn/sdk";
let sink: i64 = 0;
export function handle(req: Request): Response {
  const p = req.path;
  if (p == "/loop") {
    while (sink >= 0) sink++;
    return Response.text("unreachable");
  }
  if (p == "/abort") {
    const a = new Array<i32>(2);
    const i = req.param("i");
    return Response.text(a[i !== null ? I32.parseInt(i) : 5].toString());
  }
  if (p == "/big") {
    const kib = req.param("kib");
    return Response.bytes(new Uint8Array((kib !== null ? I32.parseInt(kib) : 64) * 1024));
  }
  return Response.text("ok");
}
`;

const started: WasmEdgeProc[] = [];
let hello: WasmEdgeProc;
let limits: Fixture;

async function start(dir: string, name: string): Promise<WasmEdgeProc> {
  const p = await startWasmEdge(path.join(dir, "dist", `${name}.wasmedge.wasm`));
  started.push(p);
  return p;
}

interface Raw { out: string; closed: boolean; ms: number }

/** Sends raw bytes on a new connection; resolves with what the server sent and whether it closed the connection within waitMs. */
function raw(port: number, bytes: string | Buffer, waitMs = 3000): Promise<Raw> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const s = connect(port, "127.0.0.1", () => s.write(bytes));
    let out = "";
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ out, closed, ms: Date.now() - t0 });
    };
    s.on("data", (d) => (out += d.toString("latin1")));
    s.on("end", () => finish(true));
    s.on("close", () => finish(true));
    s.on("error", () => undefined); // a reset after the answer still counts as closed
    const timer = setTimeout(() => finish(false), waitMs);
  });
}

interface Answer { status: number; headers: Record<string, string>; body: string }

/** Reads HTTP/1.1 responses (content-length framed) off one socket, in order. */
class Conn {
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  closed = false;
  private constructor(readonly s: Socket) {
    s.on("data", (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.waiting?.(); });
    s.on("close", () => { this.closed = true; this.waiting?.(); });
    s.on("error", () => undefined);
  }
  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(new Conn(s)));
      s.once("error", reject);
    });
  }
  write(b: string): void { this.s.write(b); }
  /** The next complete response; throws after timeoutMs or when the server closed first. */
  async next(timeoutMs = 3000): Promise<Answer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const he = this.buf.indexOf("\r\n\r\n");
      if (he >= 0) {
        const lines = this.buf.subarray(0, he).toString("latin1").split("\r\n");
        const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(lines[0]!)?.[1]);
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) { const i = l.indexOf(":"); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim(); }
        const n = Number(headers["content-length"] ?? 0);
        if (this.buf.length >= he + 4 + n) {
          const body = this.buf.subarray(he + 4, he + 4 + n).toString("utf8");
          this.buf = this.buf.subarray(he + 4 + n);
          return { status, headers, body };
        }
      }
      if (this.closed) throw new Error(`connection closed before a whole response; have ${JSON.stringify(this.buf.toString("latin1").slice(0, 200))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no whole response in ${timeoutMs} ms; have ${JSON.stringify(this.buf.toString("latin1").slice(0, 200))}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.waiting = () => { clearTimeout(t); r(); }; });
      this.waiting = null;
    }
  }
  close(): void { this.s.destroy(); }
}

/** A normal GET to examples/hello, on a new connection (fetch would reuse a pooled one), answers 200 within 2 s. */
async function stillServing(): Promise<void> {
  const c = await Conn.open(hello.port);
  try {
    c.write("GET /default/hello?name=ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(await c.next(2000)).toMatchObject({ status: 200, body: "hello, ok\n" });
  } finally { c.close(); }
}

/** The soft limit on open files of this process (wasmedge inherits it). */
function openFilesLimit(): number {
  try { return Number(/^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? 0); } catch { return 0; }
}

const errorOf = (body: string): { error: { code: string; reason: string; message: string; requestId: string } } => JSON.parse(body);

beforeAll(async () => {
  const yaml = `limits:\n  timeout: 500ms\n  requestBody: 1Ki\n  responseBody: 32Ki\n`;
  [limits] = await Promise.all([
    buildFixture("limits", LIMITS_SOURCE, yaml),
    ensureBuilt("examples/hello"), ensureBuilt("examples/echo-json"), ensureBuilt("test/fixtures/trap"),
  ]);
  hello = await start("examples/hello", "hello");
}, 180_000);
afterAll(async () => { await Promise.all(started.map((p) => p.stop())); });

describe("bad input on raw sockets gets a clear answer, the connection closed, and the server keeps serving", () => {
  it("garbage bytes get 400 WFN_BAD_REQUEST and the connection is closed", async () => {
    for (const garbage of ["THIS IS NOT HTTP\r\n\r\n", Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]), "GET / HTTP/1.1\r\nX: a\u0000b\r\n\r\n", "GET /default/hello HTTP/1.1\r\nBad Header\r\n\r\n"]) {
      const r = await raw(hello.port, garbage);
      expect(r.out).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(r.out).toMatch(/"reason":"WFN_BAD_REQUEST"/);
      expect(r.out).toMatch(/\r\nconnection: close\r\n/);
      expect(r.out).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/);
      expect(r.closed).toBe(true);
    }
    await stillServing();
  });

  it("a request head over 16 KiB gets 431, whole, sent in pieces, or never finished", async () => {
    const whole = await raw(hello.port, `GET /default/hello HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(whole.out).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(whole.out).toMatch(/"reason":"WFN_HEADERS_TOO_LARGE"/);
    expect(whole.closed).toBe(true);
    // Far over the limit in one write (more than the server reads at once).
    const huge = await raw(hello.port, `GET /default/hello HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(200_000)}\r\n\r\n`);
    expect(huge.out).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge.closed).toBe(true);
    // Many small headers adding up, and no blank line ever: answered at once, not at the 10 s read timeout.
    const headers = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${"v".repeat(40)}\r\n`).join("");
    const unfinished = await raw(hello.port, `GET /default/hello HTTP/1.1\r\nHost: x\r\n${headers}`);
    expect(unfinished.out).toMatch(/^HTTP\/1\.1 431 /);
    expect(unfinished.closed).toBe(true);
    expect(unfinished.ms).toBeLessThan(2000);
    await stillServing();
  });

  it("a body over limits.requestBody gets 413, with a content-length and chunked without one", async () => {
    const fx = await start(limits.dir, "limits"); // limits.requestBody: 1Ki
    const small = await raw(fx.port, "POST /default/limits HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nsmall");
    expect(small.out).toMatch(/^HTTP\/1\.1 200 /);
    // The head alone says too much: answered without reading the body.
    const withLength = await raw(fx.port, `POST /default/limits HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n${"x".repeat(4096)}`);
    expect(withLength.out).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    const err = errorOf(withLength.out.slice(withLength.out.indexOf("\r\n\r\n") + 4));
    expect(err.error).toMatchObject({ reason: "WFN_BODY_TOO_LARGE", message: expect.stringMatching(/over this function's limit of 1024 bytes.*limits\.requestBody/) });
    expect(withLength.closed).toBe(true);
    // A large body already on its way when the 413 is sent: the answer still arrives.
    const bigLength = await raw(fx.port, `POST /default/limits HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n${"x".repeat(1 << 20)}`);
    expect(bigLength.out).toMatch(/^HTTP\/1\.1 413 /);
    expect(bigLength.closed).toBe(true);
    // Chunked: no length up front, the limit holds while the chunks arrive.
    const chunked = await raw(fx.port, `POST /default/limits HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${"y".repeat(2048)}\r\n0\r\n\r\n`);
    expect(chunked.out).toMatch(/^HTTP\/1\.1 413 /);
    expect(chunked.out).toMatch(/"reason":"WFN_BODY_TOO_LARGE"/);
    expect(chunked.closed).toBe(true);
    const manyChunks = await raw(fx.port, `POST /default/limits HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${`100\r\n${"z".repeat(256)}\r\n`.repeat(8)}0\r\n\r\n`);
    expect(manyChunks.out).toMatch(/^HTTP\/1\.1 413 /);
    expect((await fetch(`${fx.url}/default/limits`, { method: "POST", body: "small" })).status).toBe(200);
    await stillServing();
  });

  it("malformed chunked framing gets 400", async () => {
    const malformed = [
      "zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcdef\r\n0\r\n\r\n", "\r\n0\r\n\r\n", "fffffffffffffff\r\nabc\r\n0\r\n\r\n",
      "3xyz\r\nabc\r\n0\r\n\r\n", // not an extension after the size
      "3\nabc\r\n0\r\n\r\n", // a bare LF ending the size line
      "3\r\nabc\r\n0\r\n\n", // a bare LF ending the body
      "3\r\nabc\r\n0\r\nX\n", // a trailer that is no field, ended by a bare LF
    ];
    for (const body of malformed) {
      const r = await raw(hello.port, `POST /default/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
      expect(r.out, JSON.stringify(body)).toMatch(/^HTTP\/1\.1 400 /);
      expect(r.out).toMatch(/malformed chunked body/);
      expect(r.closed).toBe(true);
    }
    // A bad trailer is not the end of the body: what follows it is never served as a request of its own (smuggling).
    const smuggle = await raw(hello.port, "POST /default/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX\nGET /default/hello?name=smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(smuggle.out).toMatch(/^HTTP\/1\.1 400 /);
    expect(smuggle.out.match(/HTTP\/1\.1 /g)?.length).toBe(1);
    expect(smuggle.out).not.toContain("smuggled");
    // Extensions and trailer fields are fine.
    const ok = await raw(hello.port, "POST /default/hello?name=chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;a=b\r\nabc\r\n0 ;last\r\nX-Trailer: t\r\n\r\n");
    expect(ok.out).toMatch(/^HTTP\/1\.1 200 [^]*hello, chunked/);
    await stillServing();
  });

  it("both content-length and transfer-encoding get 400 (request smuggling)", async () => {
    for (const head of ["Content-Length: 3\r\nTransfer-Encoding: chunked", "Transfer-Encoding: chunked\r\nContent-Length: 3"]) {
      const r = await raw(hello.port, `POST /default/hello HTTP/1.1\r\nHost: x\r\n${head}\r\n\r\n0\r\n\r\n`);
      expect(r.out).toMatch(/^HTTP\/1\.1 400 /);
      expect(r.out).toMatch(/both content-length and transfer-encoding/);
      expect(r.closed).toBe(true);
    }
    // Two different lengths are as ambiguous.
    expect((await raw(hello.port, "POST /default/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")).out).toMatch(/^HTTP\/1\.1 400 /);
    expect((await raw(hello.port, "POST /default/hello HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")).out).toMatch(/^HTTP\/1\.1 400 /);
    expect((await raw(hello.port, "POST /default/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")).out).toMatch(/^HTTP\/1\.1 501 /);
    await stillServing();
  });

  it("HTTP/2.0 (and other versions) get 505", async () => {
    for (const v of ["HTTP/2.0", "HTTP/1.2", "HTTP/3.0"]) {
      const r = await raw(hello.port, `GET /default/hello ${v}\r\nHost: x\r\n\r\n`);
      expect(r.out, v).toMatch(/^HTTP\/1\.1 505 HTTP Version Not Supported\r\n/);
      expect(r.closed).toBe(true);
    }
    // HTTP/1.0 is served.
    expect((await raw(hello.port, "GET /default/hello?name=ten HTTP/1.0\r\n\r\n")).out).toMatch(/^HTTP\/1\.1 200 [^]*hello, ten/);
    await stillServing();
  });

  it("a malformed percent-encoded path gets 400; the connection stays usable", async () => {
    for (const p of ["/default/hello/%E0%A4%A", "/default/hello/%zz", "/default/hello/%"]) {
      const r = await fetch(`${hello.url}${p}`);
      expect(r.status, p).toBe(400);
      const body = errorOf(await r.text());
      expect(body.error).toMatchObject({ reason: "WFN_BAD_REQUEST", message: expect.stringMatching(/malformed percent-encoding/) });
      expect(body.error.requestId).toBe(r.headers.get("x-request-id"));
    }
    // A well-formed head with a bad path is a request the server understood: keep-alive goes on.
    const c = await Conn.open(hello.port);
    try {
      c.write("GET /default/hello/%zz HTTP/1.1\r\nHost: x\r\n\r\n");
      expect((await c.next()).status).toBe(400);
      c.write("GET /default/hello?name=after HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(await c.next()).toMatchObject({ status: 200, body: "hello, after\n" });
    } finally { c.close(); }
    expect((await raw(hello.port, "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).out).toMatch(/^HTTP\/1\.1 400 /);
    await stillServing();
  });
});

describe("slow and idle clients hold up nobody", () => {
  it("50 stalled partial heads, 2 stalled bodies and idle connections: normal requests answer promptly, the stalled are closed after 10 s", async () => {
    const stalled: Socket[] = [];
    const idle: Conn[] = [];
    const closedAt: number[] = [];
    const t0 = Date.now();
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => new Promise<void>((resolve, reject) => {
        const s = connect(hello.port, "127.0.0.1", () => { s.write(`GET /default/hello HTTP/1.1\r\nHost: x\r\nX-Slow-${i}: `); resolve(); });
        s.once("error", reject);
        s.on("close", () => closedAt.push(Date.now() - t0));
        stalled.push(s);
      })));
      // A whole head and part of its body, then nothing (a content-length body and a chunked one).
      for (const partial of ["POST /default/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part", "POST /default/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"]) {
        await new Promise<void>((resolve, reject) => {
          const s = connect(hello.port, "127.0.0.1", () => { s.write(partial); resolve(); });
          s.once("error", reject);
          s.on("close", () => closedAt.push(Date.now() - t0));
          stalled.push(s);
        });
      }
      for (let i = 0; i < 10; i++) idle.push(await Conn.open(hello.port));
      // Meanwhile: fresh connections and one keep-alive connection, each answer bounded.
      const ka = await Conn.open(hello.port);
      idle.push(ka);
      for (let i = 0; i < 10; i++) {
        let t = Date.now();
        await stillServing();
        expect(Date.now() - t).toBeLessThan(5000);
        t = Date.now();
        ka.write(`GET /default/hello?name=ka${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
        expect(await ka.next(5000)).toMatchObject({ status: 200, body: `hello, ka${i}\n` });
        expect(Date.now() - t).toBeLessThan(5000);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(closedAt.length).toBe(0); // a stalled client is not dropped early
      const deadline = t0 + 15_000;
      while (closedAt.length < stalled.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(closedAt.length).toBeGreaterThanOrEqual(1);
      expect(closedAt.length).toBe(stalled.length);
      expect(Math.min(...closedAt)).toBeGreaterThanOrEqual(9_500);
      expect(Math.max(...closedAt)).toBeLessThan(15_000);
      // The idle connections (no byte of a request yet) are kept: the idle limit is 60 s.
      for (const [i, c] of idle.entries()) {
        expect(c.closed).toBe(false);
        c.write(`GET /default/hello?name=idle${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
        expect(await c.next(5000)).toMatchObject({ status: 200, body: `hello, idle${i}\n` });
      }
      await stillServing();
    } finally {
      for (const s of stalled) s.destroy();
      for (const c of idle) c.close();
    }
  }, 30_000);

  // 1000 is the server's connection limit: past it, the longest-idle keep-alive connection makes room.
  // (Bounds are 5 s: a lock-out is for ever, and WasmEdge's interpreter polling 1,100 sockets on a
  // loaded 2-core CI machine took over 2 s once.)
  it("more idle connections than the server's limit (1000) do not lock new clients out", async () => {
    expect(openFilesLimit(), "this case opens 1,100 connections: raise the open-files limit (ulimit -n 4096)").toBeGreaterThanOrEqual(2500);
    const idle: Conn[] = [];
    try {
      for (let i = 0; i < 1100; i++) idle.push(await Conn.open(hello.port));
      for (let i = 0; i < 5; i++) {
        const t = Date.now();
        await stillServing();
        expect(Date.now() - t).toBeLessThan(5000);
      }
      // The newest connections are served; some of the oldest were closed to make room.
      const last = idle[idle.length - 1]!;
      last.write("GET /default/hello?name=newest HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(await last.next(5000)).toMatchObject({ status: 200, body: "hello, newest\n" });
      expect(idle.filter((c) => c.closed).length).toBeGreaterThan(0);
      expect(idle[0]!.closed).toBe(true);
    } finally {
      for (const c of idle) c.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    await stillServing();
  }, 60_000);
});

describe("keep-alive and pipelining", () => {
  it("several requests on one connection, one at a time, are each answered on it", async () => {
    const c = await Conn.open(hello.port);
    try {
      for (let i = 0; i < 5; i++) {
        c.write(`GET /default/hello?name=seq${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
        const a = await c.next();
        expect(a).toMatchObject({ status: 200, body: `hello, seq${i}\n` });
        expect(a.headers.connection).toBeUndefined();
      }
      c.write("GET /default/hello?name=last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      const last = await c.next();
      expect(last).toMatchObject({ status: 200, body: "hello, last\n" });
      expect(last.headers.connection).toBe("close");
      const t = Date.now();
      while (!c.closed && Date.now() - t < 2000) await new Promise((r) => setTimeout(r, 20));
      expect(c.closed).toBe(true);
    } finally { c.close(); }
    await stillServing();
  });

  it("pipelined requests in one write are answered in order", async () => {
    const names = ["one", "two", "three", "four"];
    const c = await Conn.open(hello.port);
    try {
      c.write(names.map((n, i) => `GET /default/hello?name=${n} HTTP/1.1\r\nHost: x\r\n${i === names.length - 1 ? "Connection: close\r\n" : ""}\r\n`).join(""));
      for (const n of names) expect(await c.next()).toMatchObject({ status: 200, body: `hello, ${n}\n` });
    } finally { c.close(); }
    // A request split across writes, mid-header, with another behind it.
    const d = await Conn.open(hello.port);
    try {
      d.write("GET /default/hello?name=spl");
      await new Promise((r) => setTimeout(r, 100));
      d.write("it HTTP/1.1\r\nHo");
      await new Promise((r) => setTimeout(r, 100));
      d.write("st: x\r\n\r\nGET /default/hello?name=behind HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(await d.next()).toMatchObject({ status: 200, body: "hello, split\n" });
      expect(await d.next()).toMatchObject({ status: 200, body: "hello, behind\n" });
    } finally { d.close(); }
    await stillServing();
  });

  it("a content-length body and a chunked body both reach the function (echo-json), on one connection, pipelined too", async () => {
    const echo = await start("examples/echo-json", "echo-json");
    const c = await Conn.open(echo.port);
    try {
      const a = JSON.stringify({ name: "length", n: 21 });
      c.write(`POST /default/echo-json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(a)}\r\nX-Request-Id: cl-1\r\n\r\n${a}`);
      const ra = await c.next();
      expect(ra.status).toBe(200);
      expect(JSON.parse(ra.body)).toEqual({ name: "LENGTH", n: 42, fields: 2, requestId: "cl-1" });
      expect(ra.headers["x-request-id"]).toBe("cl-1");

      const b = JSON.stringify({ name: "chunks", n: 2 });
      c.write(`POST /default/echo-json HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nX-Request-Id: ch-1\r\n\r\n5\r\n${b.slice(0, 5)}\r\n`);
      await new Promise((r) => setTimeout(r, 100));
      c.write(`${(b.length - 5).toString(16)};ext=1\r\n${b.slice(5)}\r\n0\r\nX-Trailer: t\r\n\r\n`);
      const rb = await c.next();
      expect(rb.status).toBe(200);
      expect(JSON.parse(rb.body)).toEqual({ name: "CHUNKS", n: 4, fields: 2, requestId: "ch-1" });

      // Both kinds back to back in one write.
      const x = JSON.stringify({ k: "x" });
      const y = JSON.stringify({ k: "y" });
      c.write(`POST /default/echo-json HTTP/1.1\r\nHost: x\r\nContent-Length: ${x.length}\r\n\r\n${x}` +
        `POST /default/echo-json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${y.length.toString(16)}\r\n${y}\r\n0\r\n\r\n`);
      expect(JSON.parse((await c.next()).body)).toMatchObject({ k: "X" });
      expect(JSON.parse((await c.next()).body)).toMatchObject({ k: "Y" });
    } finally { c.close(); }
    await stillServing();
  });
});

describe("limits: the client gets its answer, then the process ends (the container restarts)", () => {
  it("a runaway loop gets 504 with its request id at limits.timeout (500 ms), then the process exits non-zero", async () => {
    const fx = await start(limits.dir, "limits"); // limits.timeout: 500ms
    const t = Date.now();
    const r = await fetch(`${fx.url}/default/limits/loop`, { headers: { "x-request-id": "loop-1" }, signal: AbortSignal.timeout(10_000) });
    const ms = Date.now() - t;
    expect(r.status).toBe(504);
    expect(ms).toBeGreaterThanOrEqual(450);
    expect(ms).toBeLessThan(5000);
    expect(r.headers.get("x-request-id")).toBe("loop-1");
    expect(r.headers.get("connection")).toBe("close");
    expect(await r.json()).toMatchObject({ error: { code: "TIMEOUT", reason: "WFN_TIMEOUT", message: expect.stringMatching(/limits ran past its timeout of 500 ms/), requestId: "loop-1" } });
    const st = await Promise.race([fx.exitStatus(), new Promise<null>((res) => setTimeout(() => res(null), 5000))]);
    expect(st).not.toBeNull();
    // The adapter ends the process with a trap after answering: a failure status under the
    // wasmedge CLI and under crun alike (crun reports 0 after proc_exit, whatever its code).
    expect(st!.code).not.toBe(0);
    expect(st!.code).not.toBeNull();
    expect(fx.logs()).toMatch(/"msg":"request started","method":"GET","path":"\/default\/limits\/loop".*"requestId":"loop-1"/);
    expect(fx.logs()).toMatch(/"level":"error".*WFN_TIMEOUT.*"requestId":"loop-1"/);
    await stillServing();
  }, 30_000);

  it("a generated request id is the same in the 504's header, body and log", async () => {
    const fx = await start(limits.dir, "limits");
    const r = await fetch(`${fx.url}/default/limits/loop`, { signal: AbortSignal.timeout(10_000) });
    expect(r.status).toBe(504);
    const id = r.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(((await r.json()) as { error: { requestId: string } }).error.requestId).toBe(id);
    expect((await fx.exitStatus()).code).not.toBe(0);
    expect(fx.logs()).toContain(`"requestId":"${id}"`);
  }, 30_000);

  it("a trap ends the process non-zero, and the log names the request that was running", async () => {
    const trap = await start("test/fixtures/trap", "trap");
    expect(await (await fetch(`${trap.url}/default/trap/count`)).text()).toBe("1");
    const r = await fetch(`${trap.url}/default/trap/boom`, { headers: { "x-request-id": "boom-1" }, signal: AbortSignal.timeout(10_000) }).catch(() => null);
    expect(r).toBeNull(); // a trap ends the process at once: no answer
    const st = await Promise.race([trap.exitStatus(), new Promise<null>((res) => setTimeout(() => res(null), 5000))]);
    expect(st).not.toBeNull();
    expect(st!.code).not.toBe(0);
    expect(trap.logs()).toMatch(/"msg":"request started","method":"GET","path":"\/default\/trap\/boom".*"requestId":"boom-1"/);
    await stillServing();
  }, 30_000);

  it("an AssemblyScript abort (index out of range) answers 500 WFN_GUEST_EXIT with the request id, then the process exits non-zero", async () => {
    const fx = await start(limits.dir, "limits");
    expect(await (await fetch(`${fx.url}/default/limits/abort?i=1`)).text()).toBe("0"); // in range
    const r = await fetch(`${fx.url}/default/limits/abort?i=7`, { headers: { "x-request-id": "abort-1" }, signal: AbortSignal.timeout(10_000) });
    expect(r.status).toBe(500);
    expect(r.headers.get("x-request-id")).toBe("abort-1");
    const body = errorOf(await r.text());
    expect(body).toMatchObject({ error: { code: "INTERNAL", reason: "WFN_GUEST_EXIT", requestId: "abort-1" } });
    expect(body.error.message).toMatch(/exited \(proc_exit\(255\)\).*abort: Index out of range/);
    const st = await Promise.race([fx.exitStatus(), new Promise<null>((res) => setTimeout(() => res(null), 5000))]);
    expect(st).not.toBeNull();
    expect(st!.code).not.toBe(0);
    expect(fx.logs()).toMatch(/"msg":"request started","method":"GET","path":"\/default\/limits\/abort".*"requestId":"abort-1"/);
    expect(fx.logs()).toMatch(/"level":"error".*WFN_GUEST_EXIT.*"requestId":"abort-1"/);
    await stillServing();
  }, 30_000);

  it("a memory bomb is capped at limits.memory: the guest traps before its timeout, the process exits non-zero", async () => {
    const trap = await start("test/fixtures/trap", "trap"); // limits.memory: 4Mi, limits.timeout: 2s
    const t = Date.now();
    const r = await fetch(`${trap.url}/default/trap/grow`, { headers: { "x-request-id": "grow-1" }, signal: AbortSignal.timeout(10_000) }).catch(() => null);
    // Uncapped, /grow would allocate until the 2 s timeout (504); capped, memory.grow fails at 4 MiB and the guest traps.
    expect(r).toBeNull();
    expect(Date.now() - t).toBeLessThan(1900);
    expect((await trap.exitStatus()).code).not.toBe(0);
    expect(trap.logs()).toMatch(/"msg":"request started","method":"GET","path":"\/default\/trap\/grow".*"requestId":"grow-1"/);
    await stillServing();
  }, 30_000);

  it("a response over limits.responseBody gets 500 WFN_RESPONSE_TOO_LARGE and the server keeps serving", async () => {
    const fx = await start(limits.dir, "limits"); // limits.responseBody: 32Ki
    const ok = await fetch(`${fx.url}/default/limits/big?kib=16`);
    expect(ok.status).toBe(200);
    expect((await ok.arrayBuffer()).byteLength).toBe(16 * 1024);
    const c = await Conn.open(fx.port);
    try {
      c.write("GET /default/limits/big?kib=64 HTTP/1.1\r\nHost: x\r\nX-Request-Id: big-1\r\n\r\n");
      const r = await c.next();
      expect(r.status).toBe(500);
      expect(r.headers["x-request-id"]).toBe("big-1");
      expect(errorOf(r.body)).toMatchObject({ error: { code: "INTERNAL", reason: "WFN_RESPONSE_TOO_LARGE", message: expect.stringMatching(/limits\.responseBody/), requestId: "big-1" } });
      // The same connection and the same process go on.
      c.write("GET /default/limits/ok HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(await c.next()).toMatchObject({ status: 200, body: "ok" });
    } finally { c.close(); }
    // headers count against the limit with the body (docs/security.md): 31 KiB of body fits in 32 KiB
    const again = await fetch(`${fx.url}/default/limits/big?kib=31`);
    expect(again.status).toBe(200);
    expect((await again.arrayBuffer()).byteLength).toBe(31 * 1024);
    expect((await fetch(`${fx.url}/default/limits/ok`)).status).toBe(200);
    await stillServing();
  });
});
