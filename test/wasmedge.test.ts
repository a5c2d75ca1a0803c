// The WasmEdge form of every example, run by the real `wasmedge` (the image's entrypoint): it serves
// HTTP itself on $PORT, and the ABI conformance suite holds against it as against the shim.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abiConformance } from "./conformance/abi-v1.case.js";
import { ensureBuilt } from "./harness/services.js";
import { startWasmEdge, type WasmEdgeProc } from "./harness/wasmedge.js";

const started: WasmEdgeProc[] = [];
async function serve(dir: string, name: string, env: Record<string, string> = {}): Promise<WasmEdgeProc> {
  await ensureBuilt(dir);
  const p = await startWasmEdge(`${dir}/dist/${name}.wasmedge.wasm`, { env });
  started.push(p);
  return p;
}
afterAll(async () => { await Promise.all(started.map((p) => p.stop())); });

describe("examples under wasmedge", () => {
  it("hello answers GET /default/hello?name=x with the request id and a JSON access log", async () => {
    const fn = await serve("examples/hello", "hello");
    const r = await fetch(`${fn.url}/default/hello?name=x`, { headers: { "x-request-id": "we-1" } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("hello, x\n");
    expect(r.headers.get("x-request-id")).toBe("we-1");
    // the configured route and the bare root reach the same function
    expect(await (await fetch(`${fn.url}/hello?name=y`)).text()).toBe("hello, y\n");
    expect(await (await fetch(`${fn.url}/`)).text()).toBe("hello, world\n");
    const h = await fetch(`${fn.url}/healthz`);
    expect(await h.json()).toEqual({ status: "ok" });
    const line = fn.logs().split("\n").find((l) => l.includes('"requestId":"we-1"') && l.includes('"msg":"request"'));
    expect(line, fn.logs()).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: "info", method: "GET", path: "/default/hello", status: 200, fn: "default/hello" });
  });

  it("echo-json parses and answers JSON", async () => {
    const fn = await serve("examples/echo-json", "echo-json");
    const r = await fetch(`${fn.url}/default/echo-json`, { method: "POST", body: JSON.stringify({ name: "wasm", n: 21 }) });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ name: "WASM", n: 42, fields: 2 });
  });

  it("hello-c (clang + wasi-libc) serves the same way", async () => {
    const fn = await serve("examples/hello-c", "hello-c");
    const r = await fetch(`${fn.url}/default/hello-c`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/hello/i);
  });

  it("serves /metrics in Prometheus text format", async () => {
    const fn = await serve("examples/hello", "hello");
    await fetch(`${fn.url}/default/hello`);
    await fetch(`${fn.url}/default/hello`);
    const m = await (await fetch(`${fn.url}/metrics`)).text();
    expect(m).toMatch(/^wfn_invocations_total\{namespace="default",function="hello"\} 2$/m);
    expect(m).toMatch(/^wfn_invocation_duration_seconds_count\{namespace="default",function="hello"\} 2$/m);
  });
});

let probe: WasmEdgeProc, probeC: WasmEdgeProc;
beforeAll(async () => {
  // No sidecar on this port: capability calls must fail UNAVAILABLE, quickly.
  probe = await serve("test/fixtures/abi-probe", "abi-probe", { DAPR_HTTP_PORT: "1" });
  probeC = await serve("test/fixtures/abi-probe-c", "abi-probe-c", { DAPR_HTTP_PORT: "1" });
});
const unreachable = /^UNAVAILABLE: state\.get .*daprd at 127\.0\.0\.1:1 is unreachable/;
abiConformance("WasmEdge adapter (no Dapr sidecar)", () => ({ url: `${probe.url}/default/abi-probe`, stateBackend: false, stateError: unreachable }));
// The same probe written with the C SDK: one ABI, the same answers in the adapter as in the shim.
abiConformance("WasmEdge adapter (no Dapr sidecar), C guest", () => ({ url: `${probeC.url}/default/abi-probe-c`, stateBackend: false, stateError: unreachable, fn: "abi-probe-c" }));
