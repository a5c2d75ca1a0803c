// Attack: a function whose every request holds the main thread a little under the 50 ms slice (it
// allocates its whole memory, ~45 ms, or computes for 30 ms) was never moved to worker threads:
// the slice check only catches single long runs. Two clients hitting it kept the main thread busy
// and hello's median went from 0.2 ms to 194 ms (test/bench/abuse.js, ABUSE_ONLY=alloc). Now runs of
// 1 ms or more add up per function (one-second decay), and past 100 ms the function moves to workers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { buildFixture, FAULTS_SOURCE, HELLO_SOURCE } from "../runtime-fixtures.js";

let shim: Served;

beforeAll(async () => {
  const [hello, faults] = await Promise.all([buildFixture("hello", HELLO_SOURCE), buildFixture("faults", FAULTS_SOURCE)]);
  // The defaults: adaptive offload, 50 ms slice.
  shim = await serve([hello.dir, faults.dir], ["--no-access-log"]);
}, 120_000);
afterAll(async () => { await shim?.stop(); });

async function placement(name: string): Promise<string> {
  const r = await fetch(`${shim.url}/admin/functions`);
  const { functions: fns } = (await r.json()) as { functions: { name: string; placement: string }[] };
  return fns.find((f) => f.name === name)!.placement;
}

describe("a function whose runs stay under the slice but add up", () => {
  it("moves to worker threads after a few 30 ms requests, and says why", async () => {
    expect(await placement("faults")).toBe("main");
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${shim.url}/default/faults/spin?ms=30`);
      expect(await r.text()).toBe("spun");
    }
    expect(await placement("faults")).toBe("workers");
    await shim.logged(/faults moved to worker threads: its invocations held the main thread for \d+ ms/);
    // hello is never charged: thousands of microsecond answers add nothing.
    for (let i = 0; i < 2000; i++) await fetch(`${shim.url}/default/hello`).then((r) => r.text());
    expect(await placement("hello")).toBe("main");
  }, 60_000);
});
