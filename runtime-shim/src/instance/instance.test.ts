import binaryen from "binaryen";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { Instance, Offload, type HostCalls } from "./instance.js";
import { Invocation } from "./invocation.js";
import { capMemory } from "@wasm-fn/abi";
import { exportMutableGlobals, MemorySnapshot, snapshotPlan } from "./snapshot.js";

/** A module from WAT text (tests only: binaryen parses it). */
function wat(text: string): Uint8Array {
  const mod = binaryen.parseText(text);
  try {
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

/** An ABI guest whose wfn_handle body is `handle` (WAT instructions returning i32). */
function guest(handle: string, extra = ""): WebAssembly.Module {
  return new WebAssembly.Module(wat(`(module
    (import "wfn" "interrupt" (func $interrupt (result i32)))
    (import "wfn" "call" (func $call (param i32 i32 i32) (result i32)))
    (import "wfn" "response_status" (func $status (param i32)))
    (memory (export "memory") 1 100)
    (global $n (mut i32) (i32.const 0))
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "wfn_handle") (result i32) ${handle})
    ${extra})`) as Uint8Array<ArrayBuffer>);
}

const noHost: HostCalls = { call: () => new Uint8Array(0) };
const input = { requestId: "r-1", method: "GET", path: "/", query: "", headers: {}, body: new Uint8Array(0) };
const inv = () => new Invocation(input, "t", silentLogger, 1 << 20);

function instance(mod: WebAssembly.Module, opts: Partial<ConstructorParameters<typeof Instance>[2]> = {}, host = noHost): Instance {
  const i = new Instance(mod, host, { timeoutMs: 200, maxMemoryPages: 100, ...opts }, "t");
  i.init();
  return i;
}

/** An infinite loop with the fuel hook `wasm-fn build` adds: interrupt() on every iteration. */
const SPIN = "(loop $l (drop (call $interrupt)) (br $l)) (i32.const 0)";

describe("Instance", () => {
  it("answers synchronously when the guest makes no host I/O", () => {
    const i = instance(guest("(call $status (i32.const 201)) (i32.const 0)"));
    const r = i.invoke(inv());
    expect(r).not.toBeInstanceOf(Promise);
    expect(r).toMatchObject({ status: 201, outcome: 0 });
  });

  it("maps a trap to WFN_TRAP (500) and marks itself broken", () => {
    const i = instance(guest("(unreachable)"));
    expect(() => i.invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_TRAP", status: 500 }));
    expect(i.broken).toBe(true);
  });

  it("stops a runaway loop at its timeout with WFN_TIMEOUT (504)", () => {
    const i = instance(guest(SPIN), { timeoutMs: 50 });
    const t = performance.now();
    expect(() => i.invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_TIMEOUT", status: 504 }));
    expect(performance.now() - t).toBeGreaterThanOrEqual(45);
    expect(i.broken).toBe(true);
  });

  it("gives up on the main thread after its slice when the guest made no host call yet (Offload)", () => {
    const i = instance(guest(SPIN), { timeoutMs: 5000, sliceMs: 20 });
    const t = performance.now();
    expect(() => i.invoke(inv())).toThrow(Offload);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it("keeps running past the slice once the guest has made a host call (it cannot be replayed), then flags it", () => {
    const body = "(drop (call $call (i32.const 1) (i32.const 0) (i32.const 0))) " + SPIN;
    const i = instance(guest(body), { timeoutMs: 120, sliceMs: 10 });
    expect(() => i.invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_TIMEOUT" }));
    expect(i.overran).toBe(true);
  });

  it("reports memory growth past limits.memory as WFN_MEMORY_LIMIT", () => {
    const bytes = wat(`(module
      (import "wfn" "interrupt" (func $interrupt (result i32)))
      (memory (export "memory") 1)
      (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
      (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "wfn_handle") (result i32)
        (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        (unreachable)))`);
    const capped = capMemory(bytes, 8, "t");
    const i = instance(new WebAssembly.Module(capped as Uint8Array<ArrayBuffer>), { maxMemoryPages: 8 });
    expect(() => i.invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_MEMORY_LIMIT" }));
    expect((i as unknown as { exports: { memory: WebAssembly.Memory } }).exports.memory.buffer.byteLength).toBe(8 * 65536);
  });

  it("resets memory and mutable globals for fresh isolation", () => {
    const counter = `(global.set $n (i32.add (global.get $n) (i32.const 1)))
      (i32.store (i32.const 64) (i32.add (i32.load (i32.const 64)) (i32.const 1)))
      (call $status (i32.add (i32.const 200) (i32.add (global.get $n) (i32.load (i32.const 64)))))
      (i32.const 0)`;
    const rewritten = exportMutableGlobals(wat(`(module
      (import "wfn" "response_status" (func $status (param i32)))
      (memory (export "memory") 1)
      (global $n (mut i32) (i32.const 0))
      (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
      (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "wfn_handle") (result i32) ${counter}))`))!;
    expect(rewritten).not.toBeNull();
    const mod = new WebAssembly.Module(rewritten.bytes as Uint8Array<ArrayBuffer>);
    const plan = snapshotPlan(mod)!;
    expect(plan.globals).toHaveLength(1);
    const i = instance(mod, { snapshot: plan });
    expect((i.invoke(inv()) as { status: number }).status).toBe(202);
    expect((i.invoke(inv()) as { status: number }).status).toBe(204); // reuse: state carries over
    expect(i.reset()).toBe(true);
    expect((i.invoke(inv()) as { status: number }).status).toBe(202); // reset: pristine again
  });
});

describe("exportMutableGlobals", () => {
  it("exports every mutable global (imported globals shift the indices) and leaves the module valid", () => {
    const bytes = wat(`(module
      (import "env" "g0" (global i32))
      (memory (export "memory") 1)
      (global $a (mut i32) (i32.const 1))
      (global $b i32 (i32.const 2))
      (global $c (mut i64) (i64.const 3))
      (global $d (mut f64) (f64.const 4.5))
      (func (export "f") (result i32) (global.get $a)))`);
    const out = exportMutableGlobals(bytes)!;
    expect(out.plan.globals).toEqual(["wfn:global:1", "wfn:global:3", "wfn:global:4"]);
    const mod = new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>);
    expect(snapshotPlan(mod)?.globals).toEqual(out.plan.globals);
    const inst = new WebAssembly.Instance(mod, { env: { g0: 0 } });
    const snap = new MemorySnapshot(inst, out.plan);
    (inst.exports["wfn:global:3"] as WebAssembly.Global).value = 99n;
    new Uint8Array((inst.exports.memory as WebAssembly.Memory).buffer)[10] = 7;
    expect(snap.restore()).toBe(true);
    expect((inst.exports["wfn:global:3"] as WebAssembly.Global).value).toBe(3n);
    expect(new Uint8Array((inst.exports.memory as WebAssembly.Memory).buffer)[10]).toBe(0);
    (inst.exports.memory as WebAssembly.Memory).grow(1);
    expect(snap.restore()).toBe(false); // a grown memory cannot shrink: the instance must be replaced
  });

  it("adds an export section when the module has none", () => {
    const out = exportMutableGlobals(wat(`(module (memory 1) (global (mut i32) (i32.const 0)))`))!;
    expect(WebAssembly.Module.exports(new WebAssembly.Module(out.bytes as Uint8Array<ArrayBuffer>)).map((e) => e.name).sort()).toEqual(["wfn:global:0", "wfn:snapshot"]);
  });

  it("a module it did not rewrite has no snapshot plan", () => {
    expect(snapshotPlan(guest("(i32.const 0)"))).toBeNull();
  });
});

describe("Instance: guest-supplied ranges", () => {
  const rangeGuest = (handle: string) => new WebAssembly.Module(wat(`(module
    (import "wfn" "response_body" (func $body (param i32 i32)))
    (import "wfn" "call" (func $call (param i32 i32 i32) (result i32)))
    (memory (export "memory") 1 1)
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "wfn_handle") (result i32) ${handle}))`) as Uint8Array<ArrayBuffer>);
  const bodyGuest = (ptr: number, len: number) => rangeGuest(`(call $body (i32.const ${ptr}) (i32.const ${len})) (i32.const 0)`);

  it("traps (500) on a response_body range past the end of memory instead of sending unzeroed host memory", () => {
    const i = instance(bodyGuest(65536 - 10, 1000));
    expect(() => i.invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_TRAP", status: 500 }));
    expect(i.broken).toBe(true);
  });

  it("refuses a response_body length over the limit before allocating it", () => {
    const i = instance(bodyGuest(0, 0x7fffffff));
    expect(() => i.invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_RESPONSE_TOO_LARGE", status: 500 }));
    expect(i.broken).toBe(true);
  });

  it("traps on a negative response_body length, and on call arguments outside memory", () => {
    expect(() => instance(bodyGuest(0, -1)).invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_TRAP", status: 500 }));
    const called: Uint8Array[] = [];
    const i = instance(rangeGuest("(call $call (i32.const 100) (i32.const -8) (i32.const 4))"), {}, { call: (_op, a) => { called.push(a); return new Uint8Array(0); } });
    expect(() => i.invoke(inv())).toThrow(expect.objectContaining({ code: "WFN_TRAP", status: 500 }));
    expect(called).toEqual([]);
  });
});
