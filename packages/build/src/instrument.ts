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
 *    or trapping past the deadline. Measured cost in docs/benchmarks.md.
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
      mod.if(mod.i32.lt_s(mod.global.get(FUEL, i32), mod.i32.const(0)), mod.global.set(FUEL, mod.call("wfn_interrupt", [], i32))),
    ]),
  );
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
