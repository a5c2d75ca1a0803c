// Attacks on memory the host holds for a guest, outside its linear memory (limits.memory):
// - tiny appends: 8 Mi one-byte response_body calls made the host keep 8 Mi objects (1.1 GB);
// - tables: a declared table size was uncapped (20,000,000 elements is 160 MB of host memory per
//   instance), and so was `table.grow`;
// - `isolation: fresh` by reset did not restore tables: a guest that rewrote its table (table.copy,
//   bulk memory) or grew it (table.grow) left it so for the next request, growth piling up on the
//   one reused instance.
// `table.grow` needs reference types, which the shim's load-time instrumentation refuses
// (WFN_NOT_WASM), so through the shim a guest's table is the size it declares; the growth cases
// run the Instance directly. The WasmEdge form links the guest's table into its command module,
// capped the same way (checked on the linked bytes); it has no `fresh` isolation, and its adapter
// already copies response_body appends into one buffer bounded by limits.responseBody (adapter/abi.ts).
import { mkdtempSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capMemory, MAX_TABLE_ELEMENTS } from "@wasm-fn/abi";
import { linkWasmEdge } from "@wasm-fn/build";
import { normalizeConfig } from "@wasm-fn/build/config";
import { Instance } from "../../runtime-shim/dist/instance/instance.js";
import { Invocation } from "../../runtime-shim/dist/instance/invocation.js";
import { exportMutableGlobals } from "../../runtime-shim/dist/instance/snapshot.js";
import { silentLogger } from "../../runtime-shim/dist/index.js";
import { serve, type Served } from "../harness/cli.js";

function wat(body: string, extra = ""): Uint8Array {
  const mod = binaryen.parseText(`(module
    (import "wfn" "response_status" (func $status (param i32)))
    (import "wfn" "response_body" (func $body (param i32 i32)))
    (memory (export "memory") 1)
    ${extra}
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "wfn_handle") (result i32) (local $i i32) ${body} (i32.const 0)))`);
  mod.setFeatures(binaryen.Features.MutableGlobals | binaryen.Features.BulkMemory | binaryen.Features.ReferenceTypes);
  const bytes = mod.emitBinary();
  mod.dispose();
  return bytes;
}

const MODULES = {
  // 8 Mi appends of one byte: exactly limits.responseBody (8Mi by default).
  tiny: wat(`(i32.store8 (i32.const 2048) (i32.const 120))
    (loop $more (call $body (i32.const 2048) (i32.const 1)) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $more (i32.lt_u (local.get $i) (i32.const 8388608))))`),
  // Declares 20,000 elements to start.
  bigtable: wat(`(call $status (i32.const 204))`, `(table $t 20000 funcref)`),
  // A table without a maximum, of a size the cap allows.
  table: wat(`(call $status (i32.const 204))`, `(table $t 5000 funcref)`),
  // fresh isolation: answers what slot 0 of its table returns (201 after init), then copies slot 1 (202) over it.
  freshtable: wat(`(call $status (call_indirect (type $r) (i32.const 0))) (table.copy $t $t (i32.const 0) (i32.const 1) (i32.const 1))`,
    `(type $r (func (result i32))) (table $t 2 funcref) (elem (table $t) (i32.const 0) func $a $b)
     (func $a (result i32) (i32.const 201)) (func $b (result i32) (i32.const 202))`),
};

/** Grows its table by 1,000 per request and answers 200 + the size it found. Reference types: not loadable by the shim. */
const GROWER = wat(`(call $status (i32.add (i32.const 200) (table.size $t))) (drop (table.grow $t (ref.null func) (i32.const 1000)))`, `(table $t 1 funcref)`);

describe("tables are capped at load", () => {
  it("a declared minimum above the cap is refused; a table without a maximum gets the cap", () => {
    expect(MAX_TABLE_ELEMENTS).toBe(10_000);
    expect(() => capMemory(MODULES.bigtable, 16, "bigtable.wasm")).toThrow(/bigtable\.wasm declares table 0 with 20000 elements to start, above the host's limit of 10000/);
    const table = new WebAssembly.Instance(new WebAssembly.Module(capMemory(wat("", `(table $t (export "t") 1 funcref)`), 16, "t") as Uint8Array<ArrayBuffer>), { wfn: { response_status() {}, response_body() {} } }).exports.t as WebAssembly.Table;
    expect(table.grow(MAX_TABLE_ELEMENTS - 1)).toBe(1);
    expect(() => table.grow(1)).toThrow(RangeError);
  });
});

describe("the WasmEdge form: the guest's tables are in the linked module", () => {
  it("a guest table declared bigger is refused when linking; a smaller one keeps the cap as its maximum", async () => {
    const config = normalizeConfig({ name: "tables" });
    await expect(linkWasmEdge(MODULES.bigtable, config, { optimize: false })).rejects.toThrow(/declares table 0 with 20000 elements to start/);
    const guest = wat(`(call_indirect (type $v) (i32.const 0))`, `(type $v (func)) (table $t 5000 funcref) (elem (i32.const 0) func $f) (func $f)`);
    const linked = binaryen.readBinary(await linkWasmEdge(guest, config, { optimize: false }));
    try {
      linked.setFeatures(binaryen.Features.All);
      const tables = Array.from({ length: linked.getNumTables() }, (_, i) => binaryen.getTableInfo(linked.getTableByIndex(i)));
      expect(tables.map((t) => [t.initial, t.max])).toEqual([[5000, MAX_TABLE_ELEMENTS]]);
    } finally {
      linked.dispose();
    }
  }, 60_000);
});

describe("isolation: fresh by reset, on an Instance (table.grow)", () => {
  it("every invocation finds the table it had after init; an instance whose table grew is replaced, not reused", () => {
    const fresh = exportMutableGlobals(GROWER)!;
    expect(fresh.plan.tables).toHaveLength(1);
    const mod = new WebAssembly.Module(fresh.bytes as Uint8Array<ArrayBuffer>);
    const opts = { timeoutMs: 1000, maxMemoryPages: 16, snapshot: fresh.plan };
    const host = { call: () => new Uint8Array(0) };
    let inst = new Instance(mod, host, opts, "grower");
    inst.init();
    const statuses = new Set<number>();
    let replaced = 0;
    for (let i = 0; i < 200; i++) {
      const inv = new Invocation({ requestId: String(i), method: "GET", path: "/", query: "", headers: {}, body: new Uint8Array(0) }, "grower", silentLogger, 1 << 20);
      statuses.add((inst.invoke(inv) as { status: number }).status);
      if (!inst.reset()) { replaced++; inst = new Instance(mod, host, opts, "grower"); inst.init(); }
    }
    expect([...statuses]).toEqual([201]);
    expect(replaced).toBe(200);
  });
});

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
}

for (const offload of ["never", "always"] as const) {
  describe(`guest-driven host memory (--offload ${offload})`, () => {
    let shim: Served;
    beforeAll(async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-tables-"));
      for (const [name, bytes] of Object.entries(MODULES)) {
        await writeFile(path.join(dir, `${name}.wasm`), bytes);
        await writeFile(path.join(dir, `${name}.json`), JSON.stringify({ config: { name, limits: { timeout: "20s" }, ...(name === "freshtable" ? { isolation: "fresh" } : {}) } }));
      }
      // The reset strategy is the one under test; which strategy is faster (measured at load) depends on the machine's load.
      shim = await serve(Object.keys(MODULES).map((n) => path.join(dir, `${n}.wasm`)), ["--no-access-log", "--offload", offload], { env: { WFN_FRESH_STRATEGY: "reset" } });
    }, 120_000);
    afterAll(async () => { await shim?.stop(); });

    it("8 Mi one-byte appends answer the 8 MiB body without the host holding an object per append", async () => {
      const pid = shim.proc.pid!;
      const before = rssKiB(pid);
      let peak = before;
      const sampler = setInterval(() => { peak = Math.max(peak, rssKiB(pid)); }, 10);
      try {
        const r = await fetch(`${shim.url}/default/tiny`, { signal: AbortSignal.timeout(60_000) });
        expect(r.status).toBe(200);
        const body = Buffer.from(await r.arrayBuffer());
        expect(body.length).toBe(8 * 1024 * 1024);
        expect(body.every((b) => b === 120)).toBe(true);
      } finally {
        clearInterval(sampler);
      }
      // The body itself is 8 MiB (grown by doubling: up to 16 MiB held at once, plus copies on the
      // way out); one object per append was ~1.1 GB.
      expect((peak - before) / 1024).toBeLessThan(200);
    }, 90_000);

    it("a table declared bigger than 10,000 elements is refused at load; a smaller one is served", async () => {
      expect(shim.output()).toMatch(/WFN_TABLE_LIMIT: .*bigtable\.wasm declares table 0 with 20000 elements to start/);
      expect((await fetch(`${shim.url}/default/bigtable`)).status).toBe(404);
      expect((await fetch(`${shim.url}/default/table`)).status).toBe(204);
    });

    it("isolation: fresh gives every request the table it had after init, however the last one grew it", async () => {
      const admin = JSON.stringify(await (await fetch(`${shim.url}/admin/functions`)).json());
      expect(admin, shim.output().split("\n").filter((l) => /freshtable/.test(l)).join("\n").slice(-3000)).toMatch(/"name":"freshtable".*?"fresh":\{"kind":"reset"/);
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push((await fetch(`${shim.url}/default/freshtable`)).status);
      expect(statuses).toEqual(Array(30).fill(201));
    });
  });
}
