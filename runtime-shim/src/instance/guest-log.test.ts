import { describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { FunctionLogBudget, RequestLog } from "./guest-log.js";

describe("guest log budgets", () => {
  const limits = { requestBytes: 100, requestLines: 5, secondBytes: 250, secondLines: 1000, lineBytes: 60 };

  it("a request keeps its budget, drops the rest, and says so once at its end", () => {
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    const fn = new FunctionLogBudget({ ...limits }, log, "f");
    const r = new RequestLog(fn);
    const kept = [];
    for (let i = 0; i < 50; i++) kept.push(r.admit("0123456789", 10));
    expect(kept.filter((x) => x !== null)).toHaveLength(5); // 5 lines, 50 bytes: the line budget binds
    expect(r.room(10)).toBe(0);
    expect(lines).toHaveLength(0); // no marker per dropped line
    r.end(log, { requestId: "q" });
    r.end(log, { requestId: "q" });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ requestId: "q", droppedLines: 45, droppedBytes: 450, budget: "request" });
    expect(fn.dropped.request).toEqual({ lines: 45, bytes: 450 });
  });

  it("cuts an over-long line to maxLine with a marker, and counts the cut bytes", () => {
    const fn = new FunctionLogBudget({ ...limits, requestBytes: 10_000 }, createLogger({ write() {} }), "f");
    const r = new RequestLog(fn);
    expect(r.room(1_000_000)).toBe(60); // only this much is read out of guest memory
    const out = r.admit("x".repeat(60), 1_000_000)!;
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(60);
    expect(out).toMatch(/…\[truncated 999980 bytes\]$/);
    expect(fn.dropped.line).toEqual({ lines: 1, bytes: 999_980 });
  });

  it("the function's second budget is shared by its requests, with one marker when the second ends", async () => {
    const lines: string[] = [];
    const fn = new FunctionLogBudget({ ...limits }, createLogger({ write: (l) => lines.push(l) }), "f");
    let kept = 0;
    for (let q = 0; q < 10; q++) {
      const r = new RequestLog(fn);
      for (let i = 0; i < 5; i++) if (r.admit("0123456789", 10) !== null) kept++;
    }
    expect(kept).toBe(25); // 250 bytes a second
    expect(fn.dropped.second).toEqual({ lines: 25, bytes: 250 });
    await new Promise((r) => setTimeout(r, 1100));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ fn: "f", droppedLines: 25, budget: "second" });
    expect(new RequestLog(fn).admit("again", 5)).toBe("again"); // a new second, a new budget
  });

  it("a negative or absurd length cannot refund the budget", () => {
    const fn = new FunctionLogBudget({ ...limits }, createLogger({ write() {} }), "f");
    const r = new RequestLog(fn);
    expect(r.room(-5)).toBe(0);
    r.admit("", -1_000_000);
    for (let i = 0; i < 5; i++) r.admit("0123456789", 10);
    expect(r.admit("0123456789", 10)).toBeNull();
  });
});
