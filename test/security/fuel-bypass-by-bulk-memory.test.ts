// Attack: fuel is charged per loop head and function entry, so a loop whose body is one bulk-memory
// instruction (memory.fill or memory.copy over the whole 64 MiB memory, ~5-10 ms each) ran 20,000
// such iterations between two checks of the clock: minutes on the main thread, past every deadline,
// with every other function of the shim waiting. Now bulk operations are charged by the bytes they
// touch, so the clock is read every few MiB and the loop is stopped at the function's timeout.
import { mkdtempSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";

let shim: Served;

/** A raw module whose handler repeats `op` over its whole memory of 1024 pages (64 MiB) forever. */
function bulkLoop(op: string): Uint8Array {
  const mod = binaryen.parseText(`(module
    (memory (export "memory") 1024 1024)
    (table 1 funcref)
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "wfn_handle") (result i32)
      (loop $forever ${op} (br $forever))
      (i32.const 0)))`);
  mod.setFeatures(binaryen.Features.BulkMemory | binaryen.Features.MutableGlobals);
  const bytes = mod.emitBinary();
  mod.dispose();
  return bytes;
}

const ATTACKS = {
  fill: "(memory.fill (i32.const 0) (i32.const 7) (i32.const 67108864))",
  copy: "(memory.copy (i32.const 0) (i32.const 33554432) (i32.const 33554432))",
  // The fill inside an operand of table.copy, a kind binaryen.js cannot look into.
  hidden: "(table.copy (i32.const 0) (i32.const 0) (block (result i32) (memory.fill (i32.const 0) (i32.const 7) (i32.const 67108864)) (i32.const 0)))",
};

beforeAll(async () => {
  await ensureBuilt("examples/hello");
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-bulk-bypass-"));
  const files: string[] = [];
  for (const [name, op] of Object.entries(ATTACKS)) {
    const file = path.join(dir, `bulk${name}.wasm`);
    await writeFile(file, bulkLoop(op));
    await writeFile(path.join(dir, `bulk${name}.json`), JSON.stringify({ config: { name: `bulk${name}`, limits: { timeout: "500ms", memory: "64Mi" } } }));
    files.push(file);
  }
  // --offload never: the loop stays on the main thread, so only the fuel checks can stop it. A
  // private cache: the modules are instrumented by the code under test, not taken from an earlier run.
  shim = await serve(["examples/hello", ...files], ["--no-access-log", "--offload", "never"], { env: { WASM_FN_CACHE: path.join(dir, "cache") } });
}, 120_000);
afterAll(async () => { await shim?.stop(); });

describe("a loop of bulk-memory instructions", () => {
  for (const name of Object.keys(ATTACKS)) {
    it(`${name}: memory.fill/copy over the whole memory is stopped at the timeout (504), and hello answers right after`, async () => {
      const t0 = Date.now();
      const r = await fetch(`${shim.url}/default/bulk${name}`, { signal: AbortSignal.timeout(60_000) });
      const took = Date.now() - t0;
      expect(r.status).toBe(504);
      expect(((await r.json()) as { error: { code: string; reason: string } }).error.reason).toBe("WFN_TIMEOUT");
      // 500 ms timeout; before the fix the first clock check came after ~20,000 iterations (minutes).
      expect(took).toBeLessThan(3_000);
      const hello = await fetch(`${shim.url}/default/hello?name=after`, { signal: AbortSignal.timeout(5_000) });
      expect(await hello.text()).toBe("hello, after\n");
    }, 90_000);
  }
});
