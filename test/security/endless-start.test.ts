// Attack: a module whose initialiser (`_start` / `_initialize`) never returns, loaded with the
// others at `run` (or uploaded through the admin API). Start-up runs under the function's timeout
// and fuel like a request: the module is refused with WFN_TIMEOUT, the others are served, and the
// shim does not hang.
import { mkdtempSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";

// It also declares the fuel hook's import without calling it (the bypass of fuel-bypass-by-import).
const ENDLESS = `(module
  (import "wfn" "interrupt" (func $interrupt (result i32)))
  (import "wfn" "response_status" (func $status (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever (br $forever)))
  (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
  (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "wfn_handle") (result i32) (call $status (i32.const 204)) (i32.const 0)))`;

function endless(): Uint8Array {
  const m = binaryen.parseText(ENDLESS);
  const b = m.emitBinary();
  m.dispose();
  return b;
}

let shim: Served;
let dir: string;
beforeAll(async () => {
  await ensureBuilt("examples/hello");
  dir = mkdtempSync(path.join(os.tmpdir(), "wfn-endless-start-"));
  await writeFile(path.join(dir, "stuck.wasm"), endless());
  await writeFile(path.join(dir, "stuck.json"), JSON.stringify({ config: { name: "stuck", limits: { timeout: "300ms" } } }));
  shim = await serve(["examples/hello", path.join(dir, "stuck.wasm")], ["--no-access-log"], { timeoutMs: 30_000 });
}, 60_000);
afterAll(async () => { await shim?.stop(); });

describe("an initialiser that never returns", () => {
  it("is refused at run with WFN_TIMEOUT; hello is served", async () => {
    await shim.logged(/WFN_TIMEOUT/);
    await shim.logged(/stuck/);
    expect(await (await fetch(`${shim.url}/default/hello?name=up`)).text()).toBe("hello, up\n");
    expect((await fetch(`${shim.url}/default/stuck`)).status).toBe(404);
  });

  it("uploaded through the admin API, it is refused and the old version keeps serving", async () => {
    const t0 = Date.now();
    const r = await fetch(`${shim.url}/admin/functions/default/hello`, { method: "PUT", body: endless() as Uint8Array<ArrayBuffer> });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(((await r.json()) as { error: { code: string; reason: string } }).error.reason).toBe("WFN_TIMEOUT");
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await (await fetch(`${shim.url}/default/hello?name=still`)).text()).toBe("hello, still\n");
  });
});
