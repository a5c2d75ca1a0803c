/**
 * Component hosts nobody here wrote, and a component nobody here wrote the bindings of:
 * `wasmtime serve` (wasmtime-cli built from crates.io by scripts/build-wasmtime.sh, cached outside
 * the repo) and a Rust wasi:http component built with cargo's wasm32-wasip2 target.
 *
 * @example const wt = await serveWasmtime("examples/hello-ts/dist/hello-ts.wasm"); ... await wt.stop();
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, startProcess, type Proc } from "./proc.js";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
export const CACHE = process.env.WASM_FN_CACHE ?? path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "wasm-fn");

/** The cached wasmtime binary; fails with the command that builds it when it is not there. */
export async function wasmtimeBinary(): Promise<string> {
  try {
    const { stdout } = await run("bash", [path.join(ROOT, "scripts/build-wasmtime.sh")], { timeout: 30 * 60_000, maxBuffer: 64 << 20 });
    return stdout.trim().split("\n").pop()!;
  } catch (e) {
    throw new Error(`wasmtime is needed for this test and could not be built: run \`bash scripts/build-wasmtime.sh\` (cargo installs wasmtime-cli 48.0.8 from crates.io, ~11 min) or \`npm test\`, which provisions it.\n${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
}

/** `wasmtime compile` once per component digest (compiling a 12 MB StarlingMonkey component takes ~20-45 s on 2 cores). */
export async function precompiled(wasmtime: string, wasmPath: string): Promise<string> {
  const digest = createHash("sha256").update(await readFile(wasmPath)).digest("hex");
  const out = path.join(CACHE, "cwasm", `${path.basename(wasmtime)}-${digest}.cwasm`);
  if (existsSync(out)) return out;
  await mkdir(path.dirname(out), { recursive: true });
  await run(wasmtime, ["compile", "-o", `${out}.${process.pid}.tmp`, wasmPath], { timeout: 10 * 60_000 });
  await rename(`${out}.${process.pid}.tmp`, out);
  return out;
}

export interface Served { url: string; proc: Proc; stop(): Promise<void> }

/** `wasmtime serve` of a component on a free loopback port (stdio granted with -S cli, as StarlingMonkey needs). */
export async function serveWasmtime(wasmPath: string): Promise<Served> {
  const wasmtime = await wasmtimeBinary();
  const cwasm = await precompiled(wasmtime, wasmPath);
  const port = await freePort();
  const proc = await startProcess(wasmtime, ["serve", "--allow-precompiled", "-S", "cli", "--addr", `127.0.0.1:${port}`, cwasm], { readyPort: port, timeoutMs: 60_000 });
  return { url: `http://127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}

/** The Rust fixture (test/fixtures/rust-http) as a component: cargo --offline (scripts/provision.sh fetched its crates). */
export async function rustComponent(): Promise<string> {
  const dir = path.join(ROOT, "test/fixtures/rust-http");
  const target = path.join(CACHE, "rust-target");
  try {
    await run("cargo", ["build", "--offline", "--locked", "--release", "--target", "wasm32-wasip2"], { cwd: dir, env: { ...process.env, CARGO_TARGET_DIR: target, PATH: `${path.join(homedir(), ".cargo/bin")}${path.delimiter}${process.env.PATH ?? ""}` }, timeout: 10 * 60_000, maxBuffer: 64 << 20 });
  } catch (e) {
    throw new Error(`could not build test/fixtures/rust-http with cargo (wasm32-wasip2): run \`bash scripts/provision.sh\` (it adds the target with rustup and fetches the crates), or install Rust with rustup.\n${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
  return path.join(target, "wasm32-wasip2/release/rust_http.wasm");
}
