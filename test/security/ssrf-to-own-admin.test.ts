// Attack: a function granted outbound HTTP (permissions.hosts) fetches 127.0.0.1, localhost, [::1],
// 0.0.0.0 or a name that resolves to them (or to 169.254.169.254, cloud metadata) to reach the
// shim's own admin API and hot-swap another function. Internal addresses are reached only through
// an entry that names the host with its port; an entry without a port grants 80/443 only; the
// name is resolved before the check and the connection goes to the checked address.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { startWasmEdge, type WasmEdgeProc } from "../harness/wasmedge.js";
import { buildFixture } from "../runtime-fixtures.js";
import { internalAddress } from "../../runtime-shim/dist/capabilities/http/index.js";

const SOURCE = `import { Request, Response, JSON, http } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  const u = req.param("url");
  const r = http.fetch(u !== null ? u : "");
  const o = JSON.obj().set("code", JSON.num(<f64>r.code)).set("message", JSON.str(r.message));
  if (r.ok && r.value != null) o.set("status", JSON.num(<f64>r.value!.status)).set("body", JSON.str(r.value!.text()));
  return Response.json(o);
}
`;

let shim: Served;
let allowed: Server;
let allowedPort = 0;
let greedy: string;
let pinned: string;
let edge: WasmEdgeProc;
let edgePinned: WasmEdgeProc;

beforeAll(async () => {
  allowed = createServer((_q, s) => s.end("reached"));
  await new Promise<void>((r) => allowed.listen(0, "127.0.0.1", r));
  allowedPort = (allowed.address() as AddressInfo).port;
  // "greedy" asks for everything a portless entry can say; "pinned" names one loopback port.
  const g = await buildFixture("greedy", SOURCE, `permissions:\n  hosts: ["*", "127.0.0.1", "localhost", "[::1]", "0.0.0.0", "127.9.9.9"]\n`);
  const p = await buildFixture("pinned", SOURCE, `permissions:\n  hosts: ["127.0.0.1:${allowedPort}"]\n`);
  shim = await serve([g.dir, p.dir], ["--no-access-log"]);
  [edge, edgePinned] = await Promise.all([startWasmEdge(`${g.dir}/dist/greedy.wasmedge.wasm`), startWasmEdge(`${p.dir}/dist/pinned.wasmedge.wasm`)]);
  greedy = `${shim.url}/default/greedy`;
  pinned = `${shim.url}/default/pinned`;
});
afterAll(async () => { await Promise.all([shim?.stop(), edge?.stop(), edgePinned?.stop()]); allowed?.close(); });

const fetchVia = async (fn: string, url: string) => (await (await fetch(`${fn}?url=${encodeURIComponent(url)}`)).json()) as { code: number; message: string; status?: number; body?: string };

describe("the address classes (no traffic: a pure check)", () => {
  it("loopback, link-local incl. cloud metadata, private, shared, unspecified and mapped forms are internal", () => {
    for (const a of ["127.0.0.1", "127.9.9.9", "0.0.0.0", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254"]) expect(internalAddress(a), a).toBe(true);
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1", "100.128.0.1"]) expect(internalAddress(a), a).toBe(false);
  });
});

describe("a guest cannot reach the shim or the machine's internal addresses", () => {
  it("the shim's own admin API, by every loopback name, is DENIED (and nothing is swapped)", async () => {
    const port = new URL(shim.url).port;
    for (const host of ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "127.1.2.3"]) {
      const r = await fetchVia(greedy, `http://${host}:${port}/admin/functions`);
      expect(r.code, host).toBe(4 /* DENIED */);
    }
    const swapped = await fetchVia(greedy, `http://127.0.0.1:${port}/admin/functions/default/pinned/reload`);
    expect(swapped.code).toBe(4);
    expect(shim.output()).not.toMatch(/swapped default\/pinned/);
  });

  it("a portless entry for an internal address is not enough, even on port 80; the sentence says what to add", async () => {
    // (only addresses of this machine here: a broken check must not send traffic anywhere else)
    for (const url of ["http://127.0.0.1/", "http://localhost/", "http://[::1]/", "http://0.0.0.0/", "http://127.9.9.9/latest/meta-data/"]) {
      const r = await fetchVia(greedy, url);
      expect(r.code, url).toBe(4);
      expect(r.message, url).toMatch(/loopback, link-local or private address .*names the host with its port/);
    }
  });

  it("an entry that names the host with its port reaches it; another port on it does not", async () => {
    const ok = await fetchVia(pinned, `http://127.0.0.1:${allowedPort}/`);
    expect(ok).toMatchObject({ code: 0, status: 200, body: "reached" });
    expect((await fetchVia(pinned, `http://127.0.0.1:${new URL(shim.url).port}/admin/functions`)).code).toBe(4);
    expect((await fetchVia(pinned, `http://localhost:${allowedPort}/`)).code).toBe(4);
  });
});

describe("the same rule inside WasmEdge (the adapter's outbound HTTP)", () => {
  it("internal addresses need an entry with the port; the pinned one reaches its port only", async () => {
    const g = `${edge.url}/default/greedy`;
    for (const url of [`http://127.0.0.1:${edge.port}/metrics`, "http://127.0.0.1/", "http://localhost/", "http://0.0.0.0/", "http://127.9.9.9/"]) {
      expect((await fetchVia(g, url)).code, url).toBe(4);
    }
    const p = `${edgePinned.url}/default/pinned`;
    expect(await fetchVia(p, `http://127.0.0.1:${allowedPort}/`)).toMatchObject({ code: 0, status: 200, body: "reached" });
    expect((await fetchVia(p, `http://127.0.0.1:${edgePinned.port}/metrics`)).code).toBe(4);
  });
});
