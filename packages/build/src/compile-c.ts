import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { WfnError } from "@wasm-fn/abi";
import { BuildErrors } from "./errors.js";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const sdkInclude = path.join(path.dirname(require.resolve("@wasm-fn/sdk/package.json")), "include");

/**
 * clang's arguments for a C handler: a WASI reactor with the SDK's headers (packages/sdk/include)
 * on the include path. Exported so test/sdk-docs-c.test.ts compiles the docs' snippets the same way.
 *
 * @example await run("clang", clangArgs("main.c", "out.wasm", { optimize: true }))
 */
export function clangArgs(source: string, out: string, opts: { optimize: boolean }): string[] {
  return ["--target=wasm32-wasi", "-mexec-model=reactor", opts.optimize ? "-O2" : "-O0", "-I", sdkInclude, "-Wl,--strip-all", "-o", out, source];
}

/** Compiles a C handler with clang + wasi-libc (Debian: clang lld wasi-libc libclang-rt-dev-wasm32) as a WASI reactor. */
export async function compileC(fnDir: string, entry: string, opts: { optimize: boolean }): Promise<Uint8Array> {
  const clang = process.env.WASM_FN_CLANG ?? "clang";
  const tmp = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-c-"));
  const out = path.join(tmp, "out.wasm");
  try {
    await run(clang, clangArgs(path.resolve(fnDir, entry), out, opts), { cwd: fnDir });
    return await readFile(out);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === "ENOENT") {
      throw new WfnError(BuildErrors.TOOL_MISSING, `${clang} not found: C functions need clang and wasi-libc (Debian: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32)`);
    }
    throw new WfnError(BuildErrors.COMPILE, `clang could not compile ${entry}:\n${(err.stderr ?? err.message).trim()}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
