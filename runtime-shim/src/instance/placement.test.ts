import binaryen from "binaryen";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { Instance, Offload } from "./instance.js";
import { Invocation } from "./invocation.js";
import { HOG_MS, Placement, type OffloadPolicy } from "./placement.js";

/** A guest whose handler spins (with the fuel hook `wasm-fn build` adds) until its deadline or slice. */
function spinner(): WebAssembly.Module {
  const mod = binaryen.parseText(`(module
    (import "wfn" "interrupt" (func $interrupt (result i32)))
    (memory (export "memory") 1 10)
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "wfn_handle") (result i32) (loop $l (drop (call $interrupt)) (br $l)) (i32.const 0)))`);
  try {
    return new WebAssembly.Module(mod.emitBinary() as Uint8Array<ArrayBuffer>);
  } finally {
    mod.dispose();
  }
}

const open: Placement[] = [];
function placement(policy: OffloadPolicy = "adaptive", chosenReason?: string): Placement {
  const p = new Placement({
    module: spinner(), host: { call: () => new Uint8Array(0) }, log: silentLogger, source: "t", functionName: "t",
    timeoutMs: 150, maxMemoryPages: 10, maxResponseBytes: 1 << 20, policy, chosenReason,
    runawayProcesses: false, sliceMs: 10, threads: 1, instrumented: true, fresh: null,
  });
  open.push(p);
  return p;
}
afterEach(() => { for (const p of open.splice(0)) p.close(); });

const inv = () => new Invocation({ requestId: "r", method: "GET", path: "/", query: "", headers: {}, body: new Uint8Array(0) }, "t", silentLogger, 1 << 20);

describe("Placement: heavy, runaway, or isolation: worker", () => {
  it("a suspect goes to workers; ended within its deadline it comes back heavy, and its instances have no slice", () => {
    const p = placement();
    expect(() => (p.create() as Instance).invoke(inv())).toThrow(Offload);
    expect(p.suspect()).toBe(true);
    expect(p.stats()).toMatchObject({ mode: "workers", verdict: "suspect" });
    expect(p.suspect()).toBe(false);
    expect(p.heavy(80)).toBe(true);
    expect(p.stats()).toMatchObject({ mode: "main", verdict: "heavy" });
    // The same spin now runs to its deadline on the main thread instead of giving up at the slice.
    expect(() => (p.create() as Instance).invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_TIMEOUT" }));
    // Past its deadline later on: a runaway after all, moved for good.
    expect(p.move("a runaway")).toBe(true);
    expect(p.stats()).toMatchObject({ mode: "workers", verdict: "moved", reason: "a runaway" });
    expect(p.move("again")).toBe(false);
  });

  it("a suspect stays on workers until an invocation of a slice or more ends within its deadline; quicker answers tell nothing", () => {
    const p = placement();
    expect(p.suspect()).toBe(true);
    expect(p.cleared(2)).toBe(false);
    expect(p.stats()).toMatchObject({ mode: "workers", verdict: "suspect" });
    expect(p.cleared(60)).toBe(true);
    expect(p.stats()).toMatchObject({ mode: "main", verdict: "heavy" });
    expect(p.cleared(60)).toBe(false);
  });

  it("runs that answer add up only while other functions are served; failed ones always, and go below the main thread", () => {
    const alone = placement();
    for (let i = 0; i < 20; i++) expect(alone.charge(40, false, i + 1)).toBeNull();
    const shared = placement();
    let hog: ReturnType<Placement["charge"]> = null;
    for (let i = 0; i < 10 && !hog; i++) { Placement.served += 2; hog = shared.charge(40, false, 0); }
    expect(hog).toMatchObject({ below: false });
    expect(hog!.reason).toMatch(/heavy, not a runaway: .* while other functions were served/);
    expect(shared.move(hog!.reason, hog!.below)).toBe(true);
    expect(shared.stats()).toMatchObject({ mode: "workers", verdict: "shared" });
    const failing = placement();
    let fail: ReturnType<Placement["charge"]> = null;
    for (let i = 0; i < 10 && !fail; i++) fail = failing.charge(HOG_MS / 2, true, i + 1);
    expect(fail).toMatchObject({ below: true });
    // Microsecond runs never count.
    expect(placement().charge(0.2, true, 1)).toBeNull();
  });

  it("isolation: worker is on workers from the start, and nothing moves it; --offload never moves nothing", () => {
    const w = placement("always", "isolation: worker");
    expect(w.stats()).toMatchObject({ mode: "workers", verdict: "chosen", reason: "isolation: worker" });
    expect(w.suspect()).toBe(false);
    expect(w.move("a runaway")).toBe(false);
    const never = placement("never");
    expect(never.suspect()).toBe(false);
    expect(never.move("a runaway")).toBe(false);
    expect(never.stats().mode).toBe("main");
  });
});
