import { describe, expect, it } from "vitest";
import { lastWords } from "./cluster.js";

describe("lastWords (a container's termination message, in words)", () => {
  it("takes the msg of the function's last error line from its JSON log", () => {
    const m = [
      '{"time":"2026-12-06T00:15:05.169Z","level":"info","msg":"starting","fn":"default/crasher"}',
      '{"time":"2026-12-06T00:15:05.169Z","level":"error","msg":"abort: crasher: refusing to start in assembly/index.ts(3:13)","source":"guest"}',
      '{"time":"2026-12-06T00:15:05.170Z","level":"error","msg":"the function exited (proc_exit(255)): abort: crasher: refusing to start","fn":"default/crasher"}',
      "[libcrun:wasmedge]: could not get wasmedge result from VM",
      "",
    ].join("\n");
    expect(lastWords(m)).toBe("the function exited (proc_exit(255)): abort: crasher: refusing to start");
  });
  it("without a function's error line, keeps the last line as it is, and cuts it at 500 characters", () => {
    expect(lastWords("[error] execution failed: unreachable\n    In instruction: unreachable")).toBe("In instruction: unreachable");
    expect(lastWords('{"level":"info","msg":"only info"}')).toBe('{"level":"info","msg":"only info"}');
    expect(lastWords("x".repeat(900))).toBe(`${"x".repeat(500)}…`);
  });
});
