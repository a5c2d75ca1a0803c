// Attack: a module declares its memory in a form the host's cap (rewriting the memory's maximum to
// limits.memory) does not hold for: shared (flag 0x02/0x03, grew RSS to 2.1 GB), memory64, or
// several memories. Each is refused at load with a sentence that says why; the others are served.
import { mkdtempSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { capMemory } from "@wasm-fn/abi";
import { serve, type Served } from "../harness/cli.js";

function moduleBytes(memory: string, features: number): Uint8Array {
  const mod = binaryen.parseText(`(module
    (import "wfn" "response_status" (func $status (param i32)))
    ${memory}
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "wfn_handle") (result i32) (call $status (i32.const 204)) (i32.const 0)))`);
  mod.setFeatures(features);
  const bytes = mod.emitBinary();
  mod.dispose();
  return bytes;
}

const F = binaryen.Features;
const MODULES = {
  shared: moduleBytes(`(memory (export "memory") 1 65536 shared)`, F.Atomics | F.BulkMemory | F.MutableGlobals),
  mem64: moduleBytes(`(memory (export "memory") i64 1 100)`, F.Memory64 | F.MutableGlobals),
  twomem: moduleBytes(`(memory (export "memory") 1 100) (memory $b 1 100)`, F.MultiMemory | F.MutableGlobals),
  plain: moduleBytes(`(memory (export "memory") 1 65536)`, F.MutableGlobals),
};

describe("capMemory refuses what it cannot cap", () => {
  it("shared, memory64 and several memories throw WFN_MEMORY_UNSUPPORTED with the reason", () => {
    expect(() => capMemory(MODULES.shared, 16, "shared.wasm")).toThrow(/shared\.wasm declares a shared memory, which cannot be held to limits\.memory/);
    expect(() => capMemory(MODULES.mem64, 16, "mem64.wasm")).toThrow(/memory64/);
    expect(() => capMemory(MODULES.twomem, 16, "twomem.wasm")).toThrow(/declares 2 memories/);
    // A plain memory is capped: its maximum becomes the limit.
    const capped = capMemory(MODULES.plain, 16, "plain.wasm");
    const mem = new WebAssembly.Instance(new WebAssembly.Module(capped as Uint8Array<ArrayBuffer>), { wfn: { response_status() {} } }).exports.memory as WebAssembly.Memory;
    expect(mem.grow(15)).toBe(1);
    expect(() => mem.grow(1)).toThrow();
  });
});

describe("wasm-fn run reports each refused module and serves the rest", () => {
  let shim: Served;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "wfn-memforms-"));
    for (const [name, bytes] of Object.entries(MODULES)) await writeFile(path.join(dir, `${name}.wasm`), bytes);
    shim = await serve(Object.keys(MODULES).map((n) => path.join(dir, `${n}.wasm`)), []);
  });
  afterAll(async () => { await shim?.stop(); });

  it("refuses shared, memory64 and two memories at load; the plain one answers", async () => {
    const out = shim.output();
    expect(out).toMatch(/WFN_MEMORY_UNSUPPORTED: .*shared\.wasm declares a shared memory, which cannot be held to limits\.memory: .*no guest threads/);
    expect(out).toMatch(/WFN_MEMORY_UNSUPPORTED: .*mem64\.wasm declares a 64-bit memory/);
    expect(out).toMatch(/twomem\.wasm/);
    expect((await fetch(`${shim.url}/default/plain`)).status).toBe(204);
    expect((await fetch(`${shim.url}/default/shared`)).status).toBe(404);
  });
});
