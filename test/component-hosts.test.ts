/**
 * Proof against hosts and toolchains nobody here wrote: the same components answer the same
 * under `wasmtime serve` and under the shim (the conformance cases that apply to components), a
 * Rust wasi:http component built with cargo is served by the shim, and WasmEdge 0.17's answer to a
 * component is recorded (docs/wasmedge.md quotes it).
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFunction, normalizeConfig } from "@wasm-fn/build";
import { silentLogger, startServing, type Serving } from "@wasm-fn/runtime-shim";
import { CACHE, rustComponent, serveWasmtime, type Served } from "./harness/components.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const TESTBED = path.join(ROOT, "test/fixtures/ts-testbed");
const HELLO_TS = path.join(ROOT, "examples/hello-ts");

type Answer = { status: number; headers: Headers; body: string };
async function get(url: string, init: RequestInit = {}): Promise<Answer> {
  const r = await fetch(url, init);
  return { status: r.status, headers: r.headers, body: await r.text() };
}

/** The conformance cases that apply to a wasi:http component: what a client sees, host-independent. */
const CASES: { name: string; path: string; init?: RequestInit; check(a: Answer): unknown }[] = [
  { name: "GET with repeated query keys and a header", path: "/echo?q=1&q=2", init: { headers: { "x-a": "b" } }, check: (a) => { const e = JSON.parse(a.body); return [a.status, e.method, e.query, e.headers["x-a"], e.body]; } },
  { name: "POST body", path: "/echo", init: { method: "POST", body: "hello body", headers: { "content-type": "text/plain" } }, check: (a) => { const e = JSON.parse(a.body); return [a.status, e.method, e.body, e.headers["content-type"]]; } },
  { name: "status and headers", path: "/status?s=201", check: (a) => [a.status, a.body, a.headers.get("x-custom"), a.headers.get("set-cookie")] },
  // The error body carries the request id: the client's, which both hosts pass to the component.
  { name: "a handler that throws", path: "/throw", init: { headers: { "x-request-id": "conf-throw-1" } }, check: (a) => [a.status, JSON.parse(a.body)] },
  { name: "Web Crypto", path: "/random", check: (a) => [a.status, /^[0-9a-f-]{36}$/.test(JSON.parse(a.body).uuid), JSON.parse(a.body).bytes.length] },
  { name: "timers", path: "/sleep?ms=30", check: (a) => [a.status, Number(a.body) >= 25] },
  { name: "an unknown route", path: "/nope", check: (a) => [a.status, a.body] },
];

let serving: Serving;
let testbedWasm: string;
let rustWasm: string;
beforeAll(async () => {
  testbedWasm = (await buildFunction(TESTBED)).wasmPath;
  await buildFunction(HELLO_TS);
  rustWasm = await rustComponent();
  serving = await startServing({
    functions: [
      { kind: "file", file: testbedWasm },
      { kind: "dir", dir: HELLO_TS },
      { kind: "bytes", wasm: await readFile(rustWasm), config: normalizeConfig({ name: "rust-http" }), origin: rustWasm },
    ],
    port: 0, log: silentLogger, backend: { kind: "embedded", stateFile: null },
  });
}, 20 * 60_000);
afterAll(async () => { await serving?.close(); });

describe("wasmtime serve and the shim answer the same", () => {
  let wtTestbed: Served;
  let wtHello: Served;
  beforeAll(async () => {
    wtTestbed = await serveWasmtime(testbedWasm);
    wtHello = await serveWasmtime(path.join(HELLO_TS, "dist/hello-ts.wasm"));
  }, 30 * 60_000);
  afterAll(async () => { await wtTestbed?.stop(); await wtHello?.stop(); });

  it("examples/hello-ts: same status, body and content type", async () => {
    for (const q of ["?name=ts", ""]) {
      const shim = await get(`${serving.shim.url}/default/hello-ts${q}`);
      const wt = await get(`${wtHello.url}/${q}`);
      expect([wt.status, wt.body, wt.headers.get("content-type")]).toEqual([shim.status, shim.body, shim.headers.get("content-type")]);
    }
    expect((await get(`${wtHello.url}/?name=ts`)).body).toBe("hello, ts\n");
  });

  for (const c of CASES) {
    it(`conformance: ${c.name}`, async () => {
      const shim = c.check(await get(`${serving.shim.url}/default/ts-testbed${c.path}`, c.init));
      const wt = c.check(await get(`${wtTestbed.url}${c.path}`, c.init));
      expect(wt).toEqual(shim);
    });
  }

  it("differs where documented: the shim reuses an instance, wasmtime serve makes one per request", async () => {
    const shim = [await get(`${serving.shim.url}/default/ts-testbed/count`), await get(`${serving.shim.url}/default/ts-testbed/count`)].map((a) => Number(a.body));
    expect(shim[1]).toBe(shim[0]! + 1);
    const wt = [await get(`${wtTestbed.url}/count`), await get(`${wtTestbed.url}/count`)].map((a) => Number(a.body));
    expect(wt).toEqual([1, 1]);
  });
});

describe("a Rust wasi:http component (cargo, wasm32-wasip2, the wasi crate) in the shim", () => {
  const base = () => `${serving.shim.url}/default/rust-http`;

  it("answers, keeps its instance across requests, and its path is the one within the function", async () => {
    const a = await get(`${base()}/a?b=1`);
    expect(a.status).toBe(200);
    expect(a.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const n = Number(/request (\d+) of this instance/.exec(a.body)?.[1]);
    expect(a.body).toBe(`hello from rust: GET /a?b=1 (request ${n} of this instance)\n`);
    expect((await get(`${base()}/a?b=1`)).body).toContain(`(request ${n + 1} of this instance)`);
  });

  it("streams a request body in and a response body out, and sets any status", async () => {
    const big = "x".repeat(300_000);
    const e = await get(`${base()}/echo`, { method: "POST", body: big });
    expect(e.status).toBe(200);
    expect(e.headers.get("x-echo-length")).toBe("300000");
    expect(e.body).toBe(big);
    expect((await get(`${base()}/status/418`)).status).toBe(418);
  });

  it("sees no file and none of the shim's environment: only what the shim chose to give it", async () => {
    expect((await get(`${base()}/env`)).body.split("\n").sort()).toEqual(["DAPR_HTTP_PORT=3500", "WASM_FN_FUNCTION=rust-http", "WASM_FN_NAMESPACE=default"]);
    for (const f of ["/etc/passwd", "/proc/self/environ", "../../../../etc/hostname", "."]) {
      expect((await get(`${base()}/file?${f}`)).body).toMatch(/^error: /);
    }
    // Refused reads do not break the instance.
    expect((await get(`${base()}/x`)).status).toBe(200);
  });

  it("answers under wasmtime serve as in the shim (but for the instance count)", async () => {
    const wt = await serveWasmtime(rustWasm);
    try {
      const shim = await get(`${base()}/status/201`);
      const other = await get(`${wt.url}/status/201`);
      expect([other.status, other.body]).toEqual([shim.status, shim.body]);
      expect((await get(`${wt.url}/x`)).body).toBe("hello from rust: GET /x (request 1 of this instance)\n");
    } finally {
      await wt.stop();
    }
  }, 10 * 60_000);
});

describe("WasmEdge 0.17.1 and a component (what docs/wasmedge.md says)", () => {
  const wasmedge = path.join(CACHE, "wasmedge-kit/bin/wasmedge");
  const runWe = async (args: string[]) => {
    try {
      const r = await promisify(execFile)(wasmedge, args, { timeout: 60_000 });
      return { code: 0, out: r.stdout + r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      if (x.code === undefined || typeof x.code === "string") throw new Error(`could not run ${wasmedge}: run \`bash scripts/install-wasmedge.sh\` (npm test provisions it)`);
      return { code: x.code, out: (x.stdout ?? "") + (x.stderr ?? "") };
    }
  };

  it("refuses it without --enable-component, and fails validation with it", async () => {
    const hello = path.join(HELLO_TS, "dist/hello-ts.wasm");
    const plain = await runWe([hello]);
    expect(plain.out).toContain("loading failed: unknown binary version");
    expect(plain.out).toContain("This instruction or syntax requires enabling Component Model proposal");
    const enabled = await runWe(["--enable-component", hello]);
    expect(enabled.code).not.toBe(0);
    expect(enabled.out).toContain("validation failed: not a defined type");
    expect(enabled.out).toContain("own type index 3 does not refer to a resource type");
  });
});
