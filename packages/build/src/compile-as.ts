import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { WfnError } from "@wasm-fn/abi";
import { BuildErrors } from "./errors.js";

const require = createRequire(import.meta.url);
const sdkRoot = path.dirname(require.resolve("@wasm-fn/sdk/package.json"));
/**
 * A virtual package folder handed to the compiler as `--path`: reads below it are served from the
 * SDK wherever it is installed (a workspace symlink, a global install), so a function directory
 * anywhere on disk resolves `import ... from "@wasm-fn/sdk"` without its own node_modules.
 */
const SDK_MODULES = path.join(path.parse(process.cwd()).root, "__wasm_fn_modules__");
const SDK_PREFIX = path.join(SDK_MODULES, "@wasm-fn", "sdk") + path.sep;
const wasiShimConfig = require.resolve("@assemblyscript/wasi-shim/asconfig.json");

const ENTRY = "__wasm_fn_entry__.ts";

/** The generated entry: the user's `handle` behind the ABI exports (user code stays a plain module). */
function entrySource(userModule: string): string {
  return `import { handle } from "./${userModule}";
import { run } from "@wasm-fn/sdk/assembly/runtime";
export { wfn_abi_version, wfn_alloc, wfn_free } from "@wasm-fn/sdk/assembly/runtime";
export function wfn_handle(): i32 { return run(handle); }
`;
}

/**
 * Compiles an AssemblyScript handler in-process (`asc.main`; the `asc` command costs seconds per
 * call). The handler module must export `handle(req: Request): Response`.
 */
export async function compileAssemblyScript(fnDir: string, entry: string, opts: { optimize: boolean; maxMemoryPages?: number }): Promise<Uint8Array> {
  const { default: asc } = await import("assemblyscript/asc");
  const entryAbs = path.resolve(fnDir, entry);
  const entryDir = path.dirname(entryAbs);
  const userModule = path.basename(entry).replace(/\.ts$/, "");
  const virtualEntry = path.join(entryDir, ENTRY);
  let binary: Uint8Array | undefined;
  let diagnostics = "";
  const argv = [
    path.relative(fnDir, virtualEntry),
    "--baseDir", fnDir,
    "--outFile", "out.wasm",
    "--config", wasiShimConfig,
    "--path", SDK_MODULES,
    "--runtime", "incremental",
    "--noAssert",
    "--disableWarning",
    ...(opts.optimize ? ["--optimizeLevel", "3", "--shrinkLevel", "1"] : ["--optimizeLevel", "0"]),
  ];
  const { error } = await asc.main(argv, {
    readFile: async (name: string, baseDir: string) => {
      const p = path.resolve(baseDir, name);
      if (p === virtualEntry) return entrySource(userModule);
      const file = p.startsWith(SDK_PREFIX) ? path.join(sdkRoot, p.slice(SDK_PREFIX.length)) : p;
      try { return await readFile(file, "utf8"); } catch { return null; }
    },
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
    },
    listFiles: async (dirname: string, baseDir: string) => {
      try { return (await readdir(path.resolve(baseDir, dirname))).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")); } catch { return null; }
    },
    stdout: sink(() => undefined),
    stderr: sink((s) => { diagnostics += s; }),
  });
  if (error || !binary) {
    const text = diagnostics.replace(/\x1b\[[0-9;]*m/g, "").replaceAll(ENTRY, path.basename(entryAbs)).replaceAll(SDK_MODULES, "node_modules").trim();
    const hint = /handle/.test(text) && /not found|has no exported member|Module '.*' has no exported member/.test(text)
      ? `\n${entry} must export \`function handle(req: Request): Response\` (import them from "@wasm-fn/sdk")`
      : "";
    throw new WfnError(BuildErrors.COMPILE, `AssemblyScript could not compile ${entry}:\n${text || error?.message}${hint}`);
  }
  return binary;
}

/** A minimal writable the compiler can print to. */
function sink(onText: (s: string) => void): { write(s: string | Uint8Array): void } & Record<string, unknown> {
  return { write: (s: string | Uint8Array) => onText(typeof s === "string" ? s : Buffer.from(s).toString("utf8")) };
}
