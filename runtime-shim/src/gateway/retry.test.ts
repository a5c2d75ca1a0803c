import { describe, expect, it } from "vitest";
import type { DeliveryStatus } from "../capabilities/backend.js";
import { retryDelay, withRetries } from "./retry.js";

const exp = { policy: "exponential" as const, durationMs: 20, maxIntervalMs: 100, maxRetries: 4 };

describe("retry policy (Dapr's constant / exponential)", () => {
  it("doubles from duration up to maxInterval (exponential), or waits duration each time (constant)", () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(exp, n))).toEqual([20, 40, 80, 100, 100]);
    expect([1, 2, 3].map((n) => retryDelay({ ...exp, policy: "constant" }, n))).toEqual([20, 20, 20]);
  });

  it("tries 1 + maxRetries times with growing gaps, then reports exhausted", async () => {
    const at: number[] = [];
    const r = await withRetries(exp, async () => { at.push(performance.now()); return "RETRY"; });
    expect(r).toEqual({ status: "RETRY", attempts: 5, exhausted: true });
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps.map((g, i) => g >= [20, 40, 80, 100][i]! - 2)).toEqual([true, true, true, true]);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
  });

  it("stops at SUCCESS or DROP (a DROP is not retried); a throw counts as RETRY", async () => {
    const answers: (DeliveryStatus | Error)[] = [new Error("trap"), "RETRY", "SUCCESS"];
    let n = 0;
    expect(await withRetries(exp, async () => { const a = answers[n++]!; if (a instanceof Error) throw a; return a; })).toEqual({ status: "SUCCESS", attempts: 3, exhausted: false });
    let drops = 0;
    expect(await withRetries(exp, async () => { drops++; return "DROP"; })).toEqual({ status: "DROP", attempts: 1, exhausted: false });
    expect(drops).toBe(1);
    expect(await withRetries({ ...exp, maxRetries: 0 }, async () => "RETRY")).toEqual({ status: "RETRY", attempts: 1, exhausted: true });
  });

  it("an abort ends the wait at once with RETRY, not exhausted (the event stays for a later delivery)", async () => {
    const stop = new AbortController();
    const t0 = performance.now();
    setTimeout(() => stop.abort(), 30);
    const r = await withRetries({ ...exp, durationMs: 10_000, maxIntervalMs: 10_000 }, async () => "RETRY", { signal: stop.signal });
    expect(r).toEqual({ status: "RETRY", attempts: 1, exhausted: false });
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
