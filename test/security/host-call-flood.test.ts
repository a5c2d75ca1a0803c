// Attack: a guest calls http.fetch in a loop (one call at a time, each waited for) until its
// timeout. Nothing bounded the rate: one request made ~6,000 outbound calls a second, each one
// event-loop work on the shim's main thread (and a flood at the target), and with two such clients
// hello's p99 went from 1.3 to 5.4 ms (ABUSE_ONLY=flood node test/bench/abuse.js). Now every
// invocation's host calls are paced (limits.hostCalls): a burst at once, then so many a second;
// calls past it wait (they are not refused: a guest looping on errors would spin instead).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { buildFixture, FLOODER_SOURCE, HELLO_SOURCE } from "../runtime-fixtures.js";

let target: http.Server;
let hits = 0;
let url = "";

beforeAll(async () => {
  target = http.createServer((_q, s) => { hits++; s.end("ok"); });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
  url = encodeURIComponent(`http://127.0.0.1:${(target.address() as AddressInfo).port}/`);
});
afterAll(() => { target?.close(); });

for (const offload of ["adaptive", "always"] as const) {
  describe(`a guest that fetches without end (--offload ${offload})`, () => {
    let shim: Served;
    beforeAll(async () => {
      const hosts = `permissions:\n  hosts: ["127.0.0.1:*"]\n`;
      const [hello, flooder, slow] = await Promise.all([
        buildFixture("hello", HELLO_SOURCE),
        buildFixture("flooder", FLOODER_SOURCE, `limits:\n  timeout: 2s\n${hosts}`),
        buildFixture("slowflood", FLOODER_SOURCE, `limits:\n  timeout: 1s\n  hostCalls:\n    burst: 5\n    perSecond: 10\n${hosts}`),
      ]);
      shim = await serve([hello.dir, flooder.dir, slow.dir], ["--no-access-log", "--offload", offload]);
    }, 120_000);
    afterAll(async () => { await shim?.stop(); });

    it("makes at most the default burst (100) + 200 a second, and is stopped at its timeout", async () => {
      hits = 0;
      const r = await fetch(`${shim.url}/default/flooder?url=${url}`, { signal: AbortSignal.timeout(30_000) });
      expect(r.status).toBe(504);
      // 2 s: at most 100 + 2 x 200 = 500 (a little slack for timer rounding); unpaced it was ~12,000.
      expect(hits).toBeGreaterThan(100);
      expect(hits).toBeLessThanOrEqual(520);
      expect(await (await fetch(`${shim.url}/default/hello`)).text()).toBe("hello, world\n");
    }, 60_000);

    it("honours limits.hostCalls from wasm-fn.yaml", async () => {
      hits = 0;
      const r = await fetch(`${shim.url}/default/slowflood?url=${url}`, { signal: AbortSignal.timeout(30_000) });
      expect(r.status).toBe(504);
      // 1 s at burst 5, then 10 a second: 5 + 10, give or take one.
      expect(hits).toBeGreaterThanOrEqual(10);
      expect(hits).toBeLessThanOrEqual(16);
    }, 60_000);
  });
}
