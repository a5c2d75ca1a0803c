// Attack: a function answers with a 1xx status (101 Switching Protocols) and hop-by-hop headers
// (Connection, Upgrade, Transfer-Encoding...) to turn the client's connection into a tunnel through
// the host, or sends an endless header block (865 MB passed once). Only 200-599 passes, hop-by-hop
// and framing headers are dropped, and headers count against limits.responseBody with a bounded
// number of them: in the shim and in the WasmEdge form alike.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { startWasmEdge, type WasmEdgeProc } from "../harness/wasmedge.js";
import { buildFixture, type Fixture } from "../runtime-fixtures.js";

const SOURCE = `import { Request, Response } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  if (req.path == "/switch") return new Response(101).header("upgrade", "websocket").header("connection", "Upgrade");
  if (req.path == "/early") return new Response(103).header("link", "</x>");
  if (req.path == "/hop") {
    return Response.text("body")
      .header("connection", "close").header("upgrade", "h2c").header("keep-alive", "timeout=999")
      .header("transfer-encoding", "chunked").header("content-length", "1").header("te", "trailers")
      .header("trailer", "x").header("proxy-authenticate", "Basic").header("x-request-id", "forged").header("x-kept", "yes");
  }
  if (req.path == "/many") { const r = Response.text("many"); for (let i = 0; i < 1000; i++) r.header("x-h" + i.toString(), "v"); return r; }
  if (req.path == "/huge") return Response.text("huge").header("x-huge", "a".repeat(64 * 1024));
  return Response.text("ok");
}
`;

/** Raw HTTP: what the client's socket actually receives. */
function raw(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(`GET /default/tunnel${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let out = "";
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    setTimeout(() => { s.destroy(); resolve(out); }, 5000);
  });
}

let fx: Fixture;
let shim: Served;
let edge: WasmEdgeProc;

beforeAll(async () => {
  fx = await buildFixture("tunnel", SOURCE, "limits:\n  responseBody: 16Ki\n");
  shim = await serve([fx.dir], ["--no-access-log"]);
  edge = await startWasmEdge(`${fx.dir}/dist/tunnel.wasmedge.wasm`);
});
afterAll(async () => { await Promise.all([shim?.stop(), edge?.stop()]); });

for (const host of ["shim", "wasmedge"] as const) {
  describe(`${host}: a guest cannot take over the client's connection`, () => {
    const port = () => (host === "shim" ? Number(new URL(shim.url).port) : edge.port);

    it("101 and 103 from a guest become 500 WFN_BAD_RESPONSE; nothing is switched", async () => {
      for (const p of ["/switch", "/early"]) {
        const out = await raw(port(), p);
        expect(out).toMatch(/^HTTP\/1\.1 500 /);
        expect(out).toContain("WFN_BAD_RESPONSE");
        expect(out.toLowerCase()).not.toContain("upgrade: websocket");
      }
    });

    it("hop-by-hop and framing headers are dropped; the gateway frames the body", async () => {
      const out = await raw(port(), "/hop");
      const [head, body] = out.split("\r\n\r\n");
      const lines = head!.toLowerCase().split("\r\n");
      expect(lines[0]).toMatch(/^http\/1\.1 200/);
      for (const h of ["upgrade:", "keep-alive:", "transfer-encoding:", "te:", "trailer:", "proxy-authenticate:"]) expect(lines.some((l) => l.startsWith(h)), h).toBe(false);
      expect(lines.filter((l) => l.startsWith("content-length:"))).toEqual(["content-length: 4"]);
      expect(lines.filter((l) => l.startsWith("x-request-id:")).length).toBe(1);
      expect(lines).not.toContain("x-request-id: forged");
      expect(lines).toContain("x-kept: yes");
      expect(body).toBe("body");
    });

    it("too many headers, or a header block over limits.responseBody, is 500 WFN_RESPONSE_TOO_LARGE", async () => {
      for (const p of ["/many", "/huge"]) {
        const out = await raw(port(), p);
        expect(out, p).toMatch(/^HTTP\/1\.1 500 /);
        expect(out, p).toContain("WFN_RESPONSE_TOO_LARGE");
        expect(out.length, p).toBeLessThan(4096);
      }
      expect(await raw(port(), "/")).toMatch(/^HTTP\/1\.1 200 [\s\S]*ok$/);
    });
  });
}
