import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import type { InvocationResult } from "../instance/invocation.js";
import { Gateway, type RoutedFunction } from "./server.js";

let gw: Gateway | null = null;
afterEach(async () => { await gw?.drain(); gw = null; });

/** A gateway serving one fake function at /default/f that answers `result`. */
async function serve(result: InvocationResult): Promise<number> {
  gw = new Gateway({ host: "127.0.0.1", port: 0, domain: "local", log: silentLogger, accessLog: false });
  const fn = {
    name: "f", namespace: "default", paths: [], hostnames: [],
    config: { limits: { requestBytes: 1024 } },
    invoke: () => Promise.resolve(result),
  } as unknown as RoutedFunction;
  gw.router.add(fn);
  return (await gw.listen()).port;
}

function get(port: number): Promise<{ headers: Record<string, string | string[] | undefined>; raw: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    request({ port, host: "127.0.0.1", path: "/default/f" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ headers: res.headers, raw: res.rawHeaders, body }));
    }).on("error", reject).end();
  });
}

describe("Gateway response framing", () => {
  it("ignores a guest's content-length and transfer-encoding (no response splitting)", async () => {
    const port = await serve({
      status: 200, outcome: 0, body: Buffer.from("hello world"),
      headers: [["Content-Length", "3"], ["transfer-encoding", "chunked"], ["x-a", "1"], ["x-a", "2"]],
    });
    const r = await get(port);
    expect(r.body).toBe("hello world");
    expect(r.headers["content-length"]).toBe("11");
    expect(r.headers["transfer-encoding"]).toBeUndefined();
    expect(r.raw.filter((h) => h.toLowerCase() === "content-length")).toHaveLength(1);
    expect(r.headers["x-a"]).toBe("1, 2");
  });
});
