import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { instrument } from "./instrument.js";

/**
 * Which modules this machine's toolchain instrumented itself. A guest's imports prove nothing: a
 * module can import `wfn.interrupt` and never call it (its endless loop then holds the whole shim).
 * So the host trusts fuel checks only in modules whose bytes it has seen come out of `instrument`
 * (`wasm-fn build`, or an earlier load), recorded by SHA-256 under the cache folder; any other
 * module is instrumented at load, and the result is cached there.
 */
/** wasm-fn's cache folder: $WASM_FN_CACHE, else $XDG_CACHE_HOME/wasm-fn, else ~/.cache/wasm-fn (as oci's cache). */
export function cacheRoot(): string {
  return process.env.WASM_FN_CACHE ?? path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "wasm-fn");
}

/**
 * Bumped whenever `instrument` adds a check: a module recorded or cached by an older instrumenter
 * lacks it, so it is instrumented again (2: bulk-memory instructions charged by length).
 */
const INSTRUMENT_VERSION = 2;

function dir(): string {
  return path.join(cacheRoot(), "instrumented", `v${INSTRUMENT_VERSION}`);
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Records that `wasm` came out of `instrument` on this machine. Best effort: a read-only cache only costs a re-instrumentation later. */
export async function recordInstrumented(wasm: Uint8Array): Promise<void> {
  try {
    await mkdir(dir(), { recursive: true });
    await writeFile(path.join(dir(), `${sha256(wasm)}.ok`), "");
  } catch { /* read-only: the shim instruments it again at load */ }
}

/**
 * The module as the host may run it: the bytes themselves when this machine instrumented them, else
 * the bytes with fuel checks (and asyncify, unless they already have it) added, cached by the input's hash.
 */
export async function ensureInstrumented(wasm: Uint8Array): Promise<{ bytes: Uint8Array; added: boolean }> {
  const hash = sha256(wasm);
  try {
    await readFile(path.join(dir(), `${hash}.ok`));
    return { bytes: wasm, added: false };
  } catch { /* not ours: instrument */ }
  const cached = path.join(dir(), `${hash}.wasm`);
  try { return { bytes: await readFile(cached), added: true }; } catch { /* first time */ }
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>)).map((e) => e.name);
  const bytes = await instrument(wasm, { optimize: false, asyncify: !exports.includes("asyncify_start_unwind") });
  try {
    await mkdir(dir(), { recursive: true });
    await writeFile(`${cached}.${process.pid}.tmp`, bytes);
    await rename(`${cached}.${process.pid}.tmp`, cached);
  } catch { /* read-only cache: instrumented again next time */ }
  return { bytes, added: true };
}
