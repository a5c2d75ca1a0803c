import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { LogWriter } from "./logger.js";

const tick = () => new Promise((r) => setImmediate(r));
const eagain = () => Object.assign(new Error("EAGAIN"), { code: "EAGAIN" });

describe("LogWriter", () => {
  it("sends the lines of 10 ms in one write, or at the end of the turn once 32 KiB are held", async () => {
    const writes: string[] = [];
    const w = new LogWriter(-1, { sink: (b) => { writes.push(b.toString()); return b.length; } });
    for (let i = 0; i < 100; i++) w.write(`line ${i}\n`);
    expect(writes).toEqual([]); // nothing written synchronously: the request path only appends
    await tick();
    expect(writes).toEqual([]);
    await new Promise((r) => setTimeout(r, 30));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split("\n")).toHaveLength(101);
    for (let i = 0; i < 400; i++) w.write(`${"y".repeat(99)}\n`);
    await tick();
    expect(writes).toHaveLength(2);
    expect(writes[1]!.length).toBe(40_000);
  });

  it("never blocks on a full pipe: keeps the rest, retries, and drops past its bound with one counted marker", async () => {
    let open = false;
    const out: string[] = [];
    const w = new LogWriter(-1, { maxBuffered: 1000, sink: (b) => { if (!open) throw eagain(); out.push(b.toString()); return b.length; } });
    for (let i = 0; i < 100; i++) w.write(`${String(i).padStart(19, "0")}\n`); // 100 lines of 20 bytes: 50 fit
    await new Promise((r) => setTimeout(r, 20));
    expect(w.buffered).toBeLessThanOrEqual(1000);
    expect(w.dropped).toEqual({ lines: 50, bytes: 1000 });
    open = true;
    await new Promise((r) => setTimeout(r, 50)); // the retry timer drains it once the reader reads
    expect(w.buffered).toBe(0);
    w.write("after\n");
    w.flushSync(1000);
    const text = out.join("");
    const lines = text.trim().split("\n");
    expect(lines.slice(0, 50).map(Number)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const marker = JSON.parse(lines[50]!);
    expect(marker).toMatchObject({ level: "warn", droppedLines: 50, droppedBytes: 1000 });
    expect(marker.msg).toMatch(/dropped: 50 lines/);
    expect(lines[51]).toBe("after");
    expect(lines).toHaveLength(52); // the marker once, not per dropped line
  });

  it("keeps the tail of a partial write and writes it before anything newer", async () => {
    const out: string[] = [];
    let calls = 0;
    const w = new LogWriter(-1, { sink: (b) => { calls++; const n = calls === 1 ? 3 : b.length; out.push(b.subarray(0, n).toString()); return n; } });
    w.write("abcdef\n");
    await new Promise((r) => setTimeout(r, 20));
    w.write("ghi\n");
    w.flushSync(1000);
    expect(out.join("")).toBe("abcdef\nghi\n");
  });

  it("flushSync gives up on a reader that never reads, after its bound", () => {
    const w = new LogWriter(-1, { sink: () => { throw eagain(); } });
    w.write("x\n");
    const t = Date.now();
    w.flushSync(100);
    expect(Date.now() - t).toBeLessThan(2000);
  });

  it("a line logged just before exit reaches stdout: the exit flush writes what is buffered", async () => {
    // The child logs, then exits from a timer before the writer's own turn could run: only the exit hook can write it.
    const script = `
      import { createLogger } from ${JSON.stringify(new URL("../dist/logger.js", import.meta.url).href)};
      const log = createLogger();
      for (let i = 0; i < 2000; i++) log.log("info", "line " + i);
      process.exit(0);
    `;
    const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    await new Promise((r) => p.on("close", r));
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(2000);
    expect(JSON.parse(lines[1999]!)).toMatchObject({ level: "info", msg: "line 1999" });
  });

  it("flushes on an uncaught exception too", async () => {
    const script = `
      import { createLogger } from ${JSON.stringify(new URL("../dist/logger.js", import.meta.url).href)};
      createLogger().log("error", "last words");
      throw new Error("crash");
    `;
    const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    const code = await new Promise((r) => p.on("close", r));
    expect(code).toBe(1);
    expect(out).toContain('"msg":"last words"');
  });
});
