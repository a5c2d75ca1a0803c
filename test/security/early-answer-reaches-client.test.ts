// Attack / robustness: a client streams a body far over limits.requestBody. The shim answers 413
// early; closing at once made the kernel reset the connection while the client was still sending,
// so curl, urllib or a raw socket saw ECONNRESET/EPIPE instead of the answer. The shim now closes
// like nginx (lingering close): it stops reading the body only after a bound, so the 413 arrives.
// The same holds for the function's WasmEdge form (its adapter serves HTTP itself).
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";
import { startWasmEdge, type WasmEdgeProc } from "../harness/wasmedge.js";

let shim: Served;
let edge: WasmEdgeProc;
beforeAll(async () => {
  await ensureBuilt("test/fixtures/trap"); // limits.requestBody: 1Ki
  shim = await serve(["test/fixtures/trap"], ["--no-access-log"]);
  edge = await startWasmEdge("test/fixtures/trap/dist/trap.wasmedge.wasm");
});
afterAll(async () => { await Promise.all([shim?.stop(), edge?.stop()]); });

/** Streams `total` bytes of body after a head that declares `declared`; resolves with what came back. */
function stream(port: number, declared: number, total: number): Promise<{ got: string; error?: string }> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    let error: string | undefined;
    let sent = 0;
    const chunk = Buffer.alloc(256 * 1024, 120);
    s.on("data", (d) => { got += d.toString("latin1"); });
    s.on("error", (e) => { error = (e as NodeJS.ErrnoException).code ?? e.message; });
    s.on("close", () => resolve({ got, ...(error ? { error } : {}) }));
    const pump = () => {
      while (sent < total && !s.destroyed) {
        sent += chunk.length;
        if (!s.write(chunk)) { s.once("drain", pump); return; }
      }
      if (!s.destroyed) s.end();
    };
    s.on("connect", () => { s.write(`POST /default/trap/count HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\n\r\n`); pump(); });
    setTimeout(() => s.destroy(), 20_000);
  });
}

describe("an early 413 reaches a client that is still sending", () => {
  it("64 MiB streamed against a 1 KiB limit: the client reads the 413, every time", async () => {
    const port = Number(new URL(shim.url).port);
    for (let i = 0; i < 5; i++) {
      const r = await stream(port, 512 * 1024 * 1024, 64 * 1024 * 1024);
      expect(r.got, `round ${i}: ${r.error ?? "no error"}`).toMatch(/^HTTP\/1\.1 413 /);
      expect(r.got).toContain("WFN_BODY_TOO_LARGE");
    }
    expect((await fetch(`${shim.url}/default/trap/count`)).status).toBe(200);
  }, 120_000);

  it("the same against the WasmEdge form", async () => {
    for (let i = 0; i < 5; i++) {
      const r = await stream(edge.port, 512 * 1024 * 1024, 64 * 1024 * 1024);
      expect(r.got, `round ${i}: ${r.error ?? "no error"}`).toMatch(/^HTTP\/1\.1 413 /);
      expect(r.got).toContain("WFN_BODY_TOO_LARGE");
    }
    expect((await fetch(`${edge.url}/default/trap/count`)).status).toBe(200);
  }, 120_000);
});
