import { ASYNC_IMPORTS, HOST_MODULE } from "@wasm-fn/abi";

/**
 * Post-processes a module with Binaryen so that the host can keep two promises the ABI makes:
 *
 * 1. Host calls look synchronous to the guest while the host's I/O stays async: Binaryen's
 *    asyncify lets the instance unwind at `wfn.call` and rewind when the promise settles. Only
 *    functions that can reach `wfn.call` are instrumented, so a handler without I/O pays nothing.
 * 2. A runaway loop is stopped at the function's timeout without a thread per instance: a global
 *    fuel counter is decremented at every loop head and function entry (Binaryen's
 *    log-execution points), and `wfn.interrupt()` runs when it reaches zero, returning new fuel
 *    or trapping past the deadline. Measured cost in docs/benchmarks.md. A bulk-memory instruction
 *    (memory.fill / copy / init) is charged by its length too, one unit per 256 bytes: one such
 *    instruction over 64 MiB takes ~5-10 ms, and 20,000 of them in one loop ran minutes unchecked.
 *
 * Works on any wasm32 module (AssemblyScript, clang, ...). Binaryen is loaded on first use only.
 */
export async function instrument(bytes: Uint8Array, opts: { optimize: boolean; optimizeLevel?: number; shrinkLevel?: number; asyncify?: boolean }): Promise<Uint8Array> {
  const { default: binaryen } = await import("binaryen");
  const mod = binaryen.readBinary(bytes);
  try {
    // Features every wasm32 engine we target (V8 in Node 20, WasmEdge) has; nothing newer.
    const F = binaryen.Features as unknown as Record<string, number>;
    mod.setFeatures(["MutableGlobals", "BulkMemory", "BulkMemoryOpt", "SignExt", "NontrappingFPToInt"].reduce((acc, f) => acc | (F[f] ?? 0), 0));
    addFuel(binaryen, mod);
    chargeBulkMemory(binaryen, mod);
    const asyncImports = ASYNC_IMPORTS.map((n) => `${HOST_MODULE}.${n}`).join(",");
    const hasAsync = ASYNC_IMPORTS.some((n) => importedFunction(binaryen, mod, HOST_MODULE, n));
    if (hasAsync && opts.asyncify !== false) {
      binaryen.setPassArgument("asyncify-imports", asyncImports);
      mod.runPasses(["asyncify"]);
    }
    // The fuel hook must be inlined into every loop: a call per iteration would cost more than the check.
    binaryen.setAlwaysInlineMaxSize(24);
    if (opts.optimize) {
      binaryen.setOptimizeLevel(opts.optimizeLevel ?? 3);
      binaryen.setShrinkLevel(opts.shrinkLevel ?? 1);
      mod.optimize();
    } else {
      mod.runPasses(["inlining"]);
    }
    if (!mod.validate()) throw new Error("Binaryen produced an invalid module while instrumenting");
    return mod.emitBinary();
  } finally {
    mod.dispose();
  }
}

const FUEL = "wfn_fuel";
const HOOK = "log_execution";

function addFuel(binaryen: typeof import("binaryen").default, mod: InstanceType<typeof import("binaryen").default.Module>): void {
  // log-execution inserts `call $log_execution(id)` at function entries and loop heads, as an
  // import of the module's first import module; we then turn that import into a tiny inlined
  // function: fuel -= 1; if (fuel < 0) fuel = wfn.interrupt().
  mod.runPasses(["log-execution"]);
  const hook = findFunction(binaryen, mod, HOOK);
  if (!hook) return; // no functions at all
  mod.removeFunction(hook);
  mod.addGlobal(FUEL, binaryen.i32, true, mod.i32.const(0));
  mod.addFunctionImport("wfn_interrupt", HOST_MODULE, "interrupt", binaryen.none, binaryen.i32);
  const i32 = binaryen.i32;
  mod.addFunction(
    hook,
    binaryen.createType([i32]),
    binaryen.none,
    [],
    mod.block(null, [
      mod.global.set(FUEL, mod.i32.sub(mod.global.get(FUEL, i32), mod.i32.const(1))),
      refuelWhenSpent(binaryen, mod),
    ]),
  );
}

const CHARGE = "wfn_charge_bytes";
/** Bytes of bulk-memory traffic per unit of fuel (a loop iteration is one unit, ~1-3 ns; 256 bytes of memset ~10-20 ns). */
const BYTES_PER_FUEL_SHIFT = 8;

type Binaryen = typeof import("binaryen").default;
type BinaryenModule = InstanceType<Binaryen["Module"]>;

/**
 * Wraps the length operand of every memory.fill, memory.copy and memory.init in
 * `wfn_charge_bytes(len)`, which takes len >> 8 from the fuel (calling `wfn.interrupt` when it runs
 * out) and returns len: the operands are evaluated in the same order, and the clock is read every
 * few MiB of bulk traffic. Runs on the module as read, before asyncify (which the wrapper must not see).
 */
function chargeBulkMemory(binaryen: Binaryen, mod: BinaryenModule): void {
  const i32 = binaryen.i32;
  const ids = binaryen as unknown as Record<string, number>;
  const bulk = new Set([ids.MemoryFillId, ids.MemoryCopyId, ids.MemoryInitId]);
  const CHILDREN = childFields(binaryen);
  // Kinds binaryen.js names but wasm-fn does not run (SIMD, atomics, references, GC, exceptions...).
  const refused = new Map(Object.entries(ids).filter(([k, v]) => /^[A-Z]\w*Id$/.test(k) && typeof v === "number" && !CHILDREN.has(v)).map(([k, v]) => [v, k.replace(/Id$/, "")]));
  const sites: number[] = [];
  let opaque = false;
  const walk = (e: number): void => {
    if (!e) return;
    const id = binaryen.getExpressionId(e);
    const kids = CHILDREN.get(id);
    if (!kids) {
      const name = refused.get(id);
      if (name) throw new Error(`it uses the instruction kind ${name}, which needs a WebAssembly proposal wasm-fn does not run (MVP, bulk memory, sign extension, mutable globals and non-trapping float-to-int only)`);
      // table.copy, table.init, elem.drop: bulk-memory kinds binaryen.js cannot look into.
      opaque = true;
      return;
    }
    if (kids.length === 0) return; // leaves (binaryen.js has no info wrapper for some of them)
    const info = binaryen.getExpressionInfo(e) as unknown as Record<string, unknown>;
    for (const k of kids) {
      const c = info[k];
      if (Array.isArray(c)) for (const x of c) walk(x as number);
      else walk(c as number);
    }
    if (bulk.has(id)) sites.push(e);
  };
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const f = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
    if (f.module || !f.body) continue;
    const before = sites.length;
    opaque = false;
    walk(f.body);
    if (!opaque) continue;
    // A memory.fill could hide in the operands of a kind the walk cannot open: flatten the function
    // (every operand becomes a local.get or a constant, the work moves to its own statements) and walk again.
    sites.length = before;
    mod.runPassesOnFunction(f.name, ["flatten"]);
    walk(binaryen.getFunctionInfo(mod.getFunction(f.name)).body);
  }
  if (sites.length === 0) return;
  mod.addFunction(
    CHARGE,
    binaryen.createType([i32]),
    i32,
    [],
    mod.block(null, [
      mod.global.set(FUEL, mod.i32.sub(mod.global.get(FUEL, i32), mod.i32.shr_u(mod.local.get(0, i32), mod.i32.const(BYTES_PER_FUEL_SHIFT)))),
      refuelWhenSpent(binaryen, mod),
      mod.local.get(0, i32),
    ], i32),
  );
  for (const e of sites) {
    const id = binaryen.getExpressionId(e);
    const kinds = binaryen as unknown as Record<"MemoryFill" | "MemoryCopy" | "MemoryInit", { getSize(e: number): number; setSize(e: number, s: number): void }>;
    const api = id === ids.MemoryFillId ? kinds.MemoryFill : id === ids.MemoryCopyId ? kinds.MemoryCopy : kinds.MemoryInit;
    api.setSize(e, mod.call(CHARGE, [api.getSize(e)], i32));
  }
}

/** The fields of binaryen.getExpressionInfo that hold child expressions, per expression kind we accept. */
function childFields(binaryen: Binaryen): Map<number, string[]> {
  const ids = binaryen as unknown as Record<string, number>;
  const m = new Map<number, string[]>();
  const put = (name: string, fields: string[]) => m.set(ids[`${name}Id`]!, fields);
  put("Block", ["children"]);
  put("If", ["condition", "ifTrue", "ifFalse"]);
  put("Loop", ["body"]);
  put("Break", ["condition", "value"]);
  put("Switch", ["condition", "value"]);
  put("Call", ["operands"]);
  put("CallIndirect", ["target", "operands"]);
  put("LocalGet", []);
  put("LocalSet", ["value"]);
  put("GlobalGet", []);
  put("GlobalSet", ["value"]);
  put("Load", ["ptr"]);
  put("Store", ["ptr", "value"]);
  put("Const", []);
  put("Unary", ["value"]);
  put("Binary", ["left", "right"]);
  put("Select", ["ifTrue", "ifFalse", "condition"]);
  put("Drop", ["value"]);
  put("Return", ["value"]);
  put("Nop", []);
  put("Unreachable", []);
  put("MemorySize", []);
  put("MemoryGrow", ["delta"]);
  put("MemoryInit", ["dest", "offset", "size"]);
  put("DataDrop", []);
  put("MemoryCopy", ["dest", "source", "size"]);
  put("MemoryFill", ["dest", "value", "size"]);
  return m;
}

/** `if (fuel < 0) fuel = wfn.interrupt()`: the clock check, trapping past the deadline (instance.ts). */
function refuelWhenSpent(binaryen: Binaryen, mod: BinaryenModule): number {
  const i32 = binaryen.i32;
  return mod.if(mod.i32.lt_s(mod.global.get(FUEL, i32), mod.i32.const(0)), mod.global.set(FUEL, mod.call("wfn_interrupt", [], i32)));
}

function findFunction(binaryen: typeof import("binaryen").default, mod: InstanceType<typeof import("binaryen").default.Module>, name: string): string | undefined {
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
    if (info.name === name || info.base === name) return info.name;
  }
  return undefined;
}

function importedFunction(binaryen: typeof import("binaryen").default, mod: InstanceType<typeof import("binaryen").default.Module>, module: string, base: string): boolean {
  for (let i = 0; i < mod.getNumFunctions(); i++) {
    const info = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
    if (info.module === module && info.base === base) return true;
  }
  return false;
}
