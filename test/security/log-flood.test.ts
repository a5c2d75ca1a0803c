// Attack: a guest logs without end — many lines, or one huge line again and again — through the
// `wfn.log` host call or WASI fd_write to stdout/stderr. Before: 1.26 GB of log lines from one
// function and the event loop blocked for seconds. Now each function has log budgets (limits.log:
// 64 KiB and 1,000 lines a request, 1 MiB and 10,000 lines a second, 16 KiB a line): the rest is
// dropped and counted (one marker line per request, a Prometheus counter), and another function
// keeps answering at once. Also here: a line logged just before SIGTERM is in the output, even
// with stdout not read at that moment (the buffered writer flushes at exit).
import { mkdtempSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";
import { startWasmEdge } from "../harness/wasmedge.js";
import { buildFixture } from "../runtime-fixtures.js";

/**
 * A raw module that logs forever (or `times` times, then answers): one short line or one 4 MiB line
 * per call, through wfn.log or fd_write.
 */
function flooder(via: "log" | "wasi", huge: boolean, times?: number): Uint8Array {
  const len = huge ? 4 * 1024 * 1024 : 26;
  const call = via === "log"
    ? `(call $log (i32.const 1) (i32.const 64) (i32.const ${len}))`
    : `(drop (call $fd_write (i32.const ${huge ? 2 : 1}) (i32.const 0) (i32.const 1) (i32.const 8)))`;
  const m = binaryen.parseText(`(module
    (import "wfn" "log" (func $log (param i32 i32 i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 80)
    (data (i32.const 64) "flood line from the guest\\n")
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 4194304))
    (func (export "wfn_handle") (result i32)
      (local $i i32)
      ${huge ? `(loop $fill (i32.store8 (i32.add (i32.const 64) (local.get $i)) (i32.const 120)) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $fill (i32.lt_u (local.get $i) (i32.const ${len}))))` : ""}
      (i32.store (i32.const 0) (i32.const 64))
      (i32.store (i32.const 4) (i32.const ${len}))
      (local.set $i (i32.const 0))
      (loop $forever ${call} ${times ? `(local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $forever (i32.lt_u (local.get $i) (i32.const ${times})))` : "(br $forever)"})
      (i32.const 0)))`);
  const b = m.emitBinary();
  m.dispose();
  return b;
}

const CASES = [
  { name: "log-lines", via: "log", huge: false },
  { name: "log-huge", via: "log", huge: true },
  { name: "wasi-lines", via: "wasi", huge: false },
  { name: "wasi-huge", via: "wasi", huge: true },
] as const;

const REQUEST_BYTES = 64 * 1024;
const REQUEST_LINES = 1000;

let shim: Served;
beforeAll(async () => {
  await ensureBuilt("examples/hello");
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-log-flood-"));
  for (const c of CASES) {
    await writeFile(path.join(dir, `${c.name}.wasm`), flooder(c.via, c.huge));
    await writeFile(path.join(dir, `${c.name}.json`), JSON.stringify({ config: { name: c.name, limits: { timeout: "2s" } } }));
    // The same flood, 3,000 calls and done: its budgets are checked whatever CPU the machine leaves it.
    await writeFile(path.join(dir, `${c.name}-3k.wasm`), flooder(c.via, c.huge, 3000));
    await writeFile(path.join(dir, `${c.name}-3k.json`), JSON.stringify({ config: { name: `${c.name}-3k`, limits: { timeout: "30s" } } }));
  }
  // The defaults: access log on, adaptive offload, default log limits.
  shim = await serve(["examples/hello", ...CASES.flatMap((c) => [path.join(dir, `${c.name}.wasm`), path.join(dir, `${c.name}-3k.wasm`)])], [], { timeoutMs: 60_000 });
}, 120_000);
afterAll(async () => { await shim?.stop(); });

/** GETs hello back to back until `until` settles: the slowest answer (ms) and how many there were. */
async function helloWhile(until: Promise<unknown>): Promise<{ worst: number; n: number }> {
  let done = false;
  void until.finally(() => { done = true; });
  let worst = 0;
  let n = 0;
  while (!done) {
    const t = performance.now();
    const r = await fetch(`${shim.url}/default/hello?name=x`);
    expect(await r.text()).toBe("hello, x\n");
    worst = Math.max(worst, performance.now() - t);
    n++;
  }
  return { worst, n };
}

function guestLines(requestId: string): { msg: string }[] {
  return shim.output().split("\n").filter((l) => l.startsWith("{") && l.includes(requestId)).map((l) => JSON.parse(l)).filter((o) => o.requestId === requestId && o.source === "guest");
}

async function metric(name: string, fn: string, budget: string): Promise<number> {
  const text = await (await fetch(`${shim.url}/metrics`)).text();
  const m = new RegExp(`^${name}\\{namespace="default",function="${fn}",budget="${budget}"\\} (\\d+)`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

describe("a guest that logs without end", () => {
  for (const c of CASES) {
    it(`${c.name}: another function answers at once, the log stays within the budget, one marker, the metric counts`, async () => {
      const flood = fetch(`${shim.url}/default/${c.name}`, { headers: { "x-request-id": `flood-${c.name}-${Date.now()}` } });
      const hello = await helloWhile(flood);
      expect((await flood).status).toBe(504); // stopped at its timeout (2 s), like any runaway
      // Before: seconds (the event loop wrote every line). A loaded CI machine stays far below.
      expect(hello.worst).toBeLessThan(1000);
      expect(hello.n).toBeGreaterThan(5);
      // The budgets, on the bounded copy: beside hello's back-to-back requests on a loaded machine the
      // moved function (a child in SCHED_IDLE) may get too little CPU in 2 s to reach them.
      const id = `flood-${c.name}-3k-${Date.now()}`;
      const bounded = await fetch(`${shim.url}/default/${c.name}-3k`, { headers: { "x-request-id": id } });
      expect(bounded.status, await bounded.text()).toBe(200);
      await new Promise((r) => setTimeout(r, 300)); // the writer's next turns
      const lines = guestLines(id);
      // The invocation may have run twice (its main-thread slice, then a worker): a request budget each.
      const bytes = lines.reduce((n, l) => n + Buffer.byteLength(l.msg), 0);
      expect(lines.length).toBeGreaterThan(0);
      expect(bytes).toBeLessThanOrEqual(2 * REQUEST_BYTES);
      expect(lines.length).toBeLessThanOrEqual(2 * REQUEST_LINES);
      if (c.huge) for (const l of lines) expect(l.msg).toMatch(/…\[truncated \d+ bytes\]$/);
      const markers = shim.output().split("\n").filter((l) => l.includes(id) && l.includes('"budget":"request"')).map((l) => JSON.parse(l));
      expect(markers.length).toBeGreaterThanOrEqual(1);
      expect(markers.length).toBeLessThanOrEqual(2);
      expect(markers[markers.length - 1]).toMatchObject({ level: "warn", fn: `${c.name}-3k` });
      expect(markers[markers.length - 1].droppedLines).toBeGreaterThan(1000);
      expect(await metric("wfn_guest_log_dropped_lines_total", `${c.name}-3k`, "request")).toBeGreaterThan(1000);
      if (c.huge) expect(await metric("wfn_guest_log_dropped_bytes_total", `${c.name}-3k`, "line")).toBeGreaterThan(1024 * 1024);
    }, 30_000);
  }
});

const CHATTY = `import { Request, Response, log } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  const q = req.param("q");
  const tag = q !== null ? q : "";
  for (let i = 0; i < 600; i++) log.info("chatty line " + i.toString() + " of request " + tag + " " + "y".repeat(40));
  log.info("last line of request " + tag);
  return Response.text("ok");
}
`;

describe("buffered log output", () => {
  it("a line logged just before SIGTERM is in the output, with stdout not read at that moment", async () => {
    const f = await buildFixture("chatty", CHATTY);
    const s = await serve([f.dir], [], { timeoutMs: 60_000 });
    try {
      // Stop reading: the pipe fills (64 KiB) and the shim's lines wait in its buffer, not in the kernel.
      s.proc.stdout!.pause();
      for (let q = 0; q < 8; q++) expect(await (await fetch(`${s.url}/default/chatty?q=${q}`)).text()).toBe("ok");
      const exited = s.stop("SIGTERM");
      await new Promise((r) => setTimeout(r, 200));
      s.proc.stdout!.resume();
      expect(await exited).toBe(0);
      await new Promise((r) => setTimeout(r, 500)); // the rest of the pipe
      const out = s.output();
      for (let q = 0; q < 8; q++) expect(out).toContain(`"msg":"last line of request ${q}"`);
      expect(out).toContain('"msg":"stopped"');
    } finally {
      await s.stop("SIGKILL");
    }
  }, 90_000);
});

const NOISY = `import { Request, Response, log } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  for (let i = 0; i < 1000; i++) log.info("noisy line " + i.toString() + " " + "z".repeat(40));
  return Response.text("ok");
}
`;

describe("a log reader that stops reading (stdout a pipe nobody drains)", () => {
  it("the shim keeps answering; past 8 MiB held, lines are dropped, counted, and one marker says so", async () => {
    // Within its own budgets (raised by limits.log here): 1,000 lines a request, ~170 kB of JSON.
    const f = await buildFixture("noisy", NOISY, "limits:\n  log:\n    perSecond: { bytes: 64Mi, lines: 1000000 }\n");
    const s = await serve([f.dir], [], { timeoutMs: 60_000 });
    try {
      s.proc.stdout!.pause();
      let worst = 0;
      for (let q = 0; q < 80; q++) {
        const t = performance.now();
        expect(await (await fetch(`${s.url}/default/noisy`)).text()).toBe("ok");
        worst = Math.max(worst, performance.now() - t);
      }
      console.log(`stalled log reader: noisy answered in ${worst.toFixed(0)} ms at worst`);
      expect(worst).toBeLessThan(1000); // never waits for the reader
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      const dropped = Number(/^wfn_log_writer_dropped_lines_total (\d+)/m.exec(metrics)?.[1]);
      expect(dropped).toBeGreaterThan(10_000); // ~13 MB offered, 8 MiB held
      s.proc.stdout!.resume();
      // Once what was held is written, the marker follows, with or without another line.
      const markerLines = () => s.output().split("\n").filter((l) => l.includes('"msg":"log output dropped:'));
      for (let t = 0; t < 100 && markerLines().length === 0; t++) await new Promise((r) => setTimeout(r, 100));
      expect(await (await fetch(`${s.url}/default/noisy`)).text()).toBe("ok");
      await new Promise((r) => setTimeout(r, 500));
      const markers = markerLines();
      expect(markers).toHaveLength(1);
      // At least what the scrape saw: the scrape's own access line came after it.
      expect(JSON.parse(markers[0]!).droppedLines).toBeGreaterThanOrEqual(dropped);
    } finally {
      await s.stop("SIGKILL");
    }
  }, 120_000);
});

/**
 * A function built with `wasm-fn build` that logs forever: 1 KiB lines, or one 64 KiB line again and
 * again (WasmEdge here interprets, ~1,000x slower than V8: these reach the budgets within the timeout).
 */
const FLOOD_AS = `import { Request, Response, log } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  const line = "x".repeat(req.path == "/huge" ? 1 << 16 : 1000);
  for (let i = 0; ; i++) log.info(line);
  return Response.text("unreachable");
}
`;

describe("the WasmEdge form (the adapter's budgets, the shim's defaults)", () => {
  for (const what of ["lines", "huge"]) {
    it(`${what}: the request ends at its timeout, the kept lines stay within the budget, one marker`, async () => {
      const f = await buildFixture("wflood", FLOOD_AS, `limits:\n  timeout: 2s\n`);
      const p = await startWasmEdge(path.join(f.dir, "dist", "wflood.wasmedge.wasm"));
      try {
        const id = `wflood-${what}`;
        const t0 = performance.now();
        const r = await fetch(`${p.url}/default/wflood/${what}`, { headers: { "x-request-id": id } }).catch(() => null);
        expect(performance.now() - t0).toBeLessThan(10_000);
        if (r) expect(r.status).toBe(504);
        await p.exitStatus();
        const out = p.logs().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
        const kept = out.filter((o) => o.source === "guest" && o.requestId === id);
        expect(kept.length).toBeGreaterThan(0);
        expect(kept.length).toBeLessThanOrEqual(REQUEST_LINES);
        expect(kept.reduce((n, o) => n + Buffer.byteLength(o.msg), 0)).toBeLessThanOrEqual(REQUEST_BYTES);
        if (what === "huge") for (const o of kept) expect(o.msg).toMatch(/…\[truncated \d+ bytes\]$/);
        const marker = out.find((o) => o.budget === "request" && o.requestId === id);
        expect(marker).toMatchObject({ level: "warn", source: "host" });
        expect(marker.droppedLines).toBeGreaterThan(10);
      } finally {
        await p.stop();
      }
    }, 120_000);
  }
});
