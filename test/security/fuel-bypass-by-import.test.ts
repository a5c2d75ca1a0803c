// Attack: a module declares the fuel hook's import (wfn.interrupt), so the host took it for one that
// `wasm-fn build` instrumented, and then loops forever without calling it: the whole shim hung.
// Now the host trusts fuel checks only in bytes its own toolchain produced; the loop is stopped at
// the function's timeout and the other functions keep answering meanwhile.
import { mkdtempSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";

let shim: Served;

beforeAll(async () => {
  await ensureBuilt("examples/hello");
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-fuel-bypass-"));
  const mod = binaryen.parseText(`(module
    (import "wfn" "interrupt" (func $interrupt (result i32)))
    (import "wfn" "response_status" (func $status (param i32)))
    (memory (export "memory") 1)
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "wfn_handle") (result i32) (loop $forever (br $forever)) (i32.const 0)))`);
  const file = path.join(dir, "sneaky.wasm");
  await writeFile(file, mod.emitBinary());
  mod.dispose();
  await writeFile(path.join(dir, "sneaky.json"), JSON.stringify({ config: { name: "sneaky", limits: { timeout: "500ms" } } }));
  shim = await serve(["examples/hello", file], ["--no-access-log"]);
});
afterAll(async () => { await shim?.stop(); });

describe("a module that imports wfn.interrupt but never calls it", () => {
  it("is stopped at its timeout (504) while hello keeps answering", async () => {
    const t0 = Date.now();
    const looping = fetch(`${shim.url}/default/sneaky`, { signal: AbortSignal.timeout(20_000) });
    await new Promise((r) => setTimeout(r, 100));
    const hello = await fetch(`${shim.url}/default/hello?name=meanwhile`, { signal: AbortSignal.timeout(5_000) });
    expect(await hello.text()).toBe("hello, meanwhile\n");
    const r = await looping;
    expect(r.status).toBe(504);
    expect(((await r.json()) as { error: { code: string; reason: string } }).error.reason).toBe("WFN_TIMEOUT");
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((await fetch(`${shim.url}/default/hello`)).status).toBe(200);
  }, 30_000);
});
