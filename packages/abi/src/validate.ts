import { WfnError } from "./errors.js";
import { ABI_MAJOR, ABI_MINOR, HOST_IMPORTS, HOST_MODULE, INSTRUMENT_IMPORTS, REQUIRED_EXPORTS, WASI_MODULE, unpackVersion } from "./abi.js";

/** WASI functions a host serves (deny-by-default: no files, no env, no sockets). */
export const WASI_IMPORTS = [
  "fd_write", "fd_read", "fd_close", "fd_seek", "fd_fdstat_get", "fd_prestat_get", "fd_prestat_dir_name",
  "proc_exit", "random_get", "clock_time_get", "clock_res_get", "environ_get", "environ_sizes_get",
  "args_get", "args_sizes_get", "sched_yield", "poll_oneoff",
] as const;

export interface ModuleReport {
  imports: { module: string; name: string; kind: string }[];
  exports: string[];
  /** True when `wasm-fn build` (or the host) already added fuel checks and asyncify. */
  instrumented: boolean;
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** Throws WFN_NOT_WASM when the bytes are not a WebAssembly binary (names what the file looks like instead). */
export function assertWasmBytes(bytes: Uint8Array, source: string): void {
  if (bytes.length < 8 || WASM_MAGIC.some((b, i) => bytes[i] !== b)) {
    const head = Buffer.from(bytes.subarray(0, 16)).toString("utf8").replace(/[^\x20-\x7e]/g, ".");
    throw new WfnError("WFN_NOT_WASM", `${source} is not a WebAssembly module (it starts with '${head}', not '\\0asm'); pass a .wasm built by \`wasm-fn build\``, { status: 400 });
  }
  if (bytes[4] !== 1) throw new WfnError("WFN_NOT_WASM", `${source} is WebAssembly binary version ${bytes[4]}, not the MVP version 1 (a component? components are not served yet)`, { status: 400 });
}

/**
 * Checks a compiled module against ABI v1: every import comes from `wfn` (with the right
 * signature arity) or from the WASI subset, and the required exports are there.
 * `abiVersion` is the value the module's `wfn_abi_version` returned (checked by the caller
 * after instantiation) or undefined to skip that check.
 */
export function validateModule(mod: WebAssembly.Module, source: string): ModuleReport {
  const imports = WebAssembly.Module.imports(mod);
  const exports = WebAssembly.Module.exports(mod).map((e) => e.name);
  const bad: string[] = [];
  for (const imp of imports) {
    const ok =
      imp.kind === "function" &&
      ((imp.module === HOST_MODULE && (imp.name in HOST_IMPORTS || imp.name in INSTRUMENT_IMPORTS)) ||
        (imp.module === WASI_MODULE && (WASI_IMPORTS as readonly string[]).includes(imp.name)));
    if (!ok) bad.push(`${imp.module}.${imp.name} (${imp.kind})`);
  }
  if (bad.length > 0) {
    throw new WfnError(
      "WFN_ABI_IMPORT",
      `${source} imports what the wasm-fn ABI v${ABI_MAJOR} does not provide: ${bad.join(", ")}. A function may import only from '${HOST_MODULE}' (${Object.keys(HOST_IMPORTS).join(", ")}) and the WASI subset (${WASI_IMPORTS.join(", ")}); see docs/abi.md`,
      { status: 400 },
    );
  }
  const missing = REQUIRED_EXPORTS.filter((e) => !exports.includes(e));
  if (missing.length > 0) {
    throw new WfnError(
      "WFN_ABI_EXPORT",
      `${source} does not export ${missing.join(", ")}, which ABI v${ABI_MAJOR} requires (${REQUIRED_EXPORTS.join(", ")}); build it with \`wasm-fn build\` (AssemblyScript) or include wasm_fn.h and define its exports (C)`,
      { status: 400 },
    );
  }
  const instrumented = imports.some((i) => i.module === HOST_MODULE && i.name === "interrupt") || exports.includes("wfn_uninstrumented_ok");
  return { imports, exports, instrumented };
}

/** Refuses a module whose `wfn_abi_version()` has another major version, naming both. */
export function checkAbiVersion(packed: number, source: string): void {
  const { major, minor } = unpackVersion(packed >>> 0);
  if (major !== ABI_MAJOR) {
    throw new WfnError(
      "WFN_ABI_VERSION",
      `${source} was built for wasm-fn ABI v${major}.${minor}, but this host serves ABI v${ABI_MAJOR}.${ABI_MINOR}; rebuild it with this wasm-fn (\`wasm-fn build\`) or run it with a wasm-fn that serves ABI v${major}`,
      { status: 400 },
    );
  }
}
