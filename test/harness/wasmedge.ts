/**
 * Runs the WasmEdge form of a function (`dist/<name>.wasmedge.wasm`, the image's entrypoint) in the
 * real `wasmedge` on a free loopback port, and finds the WasmEdge-enabled crun for containerd.
 * scripts/install-wasmedge.sh (run by scripts/provision.sh) provides both.
 *
 * @example const fn = await startWasmEdge("examples/hello/dist/hello.wasmedge.wasm"); await fetch(`${fn.url}/default/hello`); await fn.stop();
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { freePort, startProcess, type Proc } from "./proc.js";

const HINT = "WasmEdge is missing: run `bash scripts/provision.sh` (installs the kit from ../shared/tools), or put `wasmedge` and a crun built --with-wasmedge on PATH, or set WASMEDGE_KIT=DIR (see docs/wasmedge.md)";

export interface WasmEdgeKit { wasmedge: string; crun: string }

let found: WasmEdgeKit | undefined;

/** Where `wasmedge` and the WasmEdge-enabled `crun` are; throws the install hint when they are not. */
export function wasmEdgeKit(): WasmEdgeKit {
  if (found) return found;
  let dir = "";
  try {
    dir = execFileSync("bash", [path.join(import.meta.dirname, "..", "..", "scripts", "install-wasmedge.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (e) {
    throw new Error(`${HINT}\n${String((e as { stderr?: string }).stderr ?? e)}`);
  }
  if (dir) {
    found = { wasmedge: path.join(dir, "bin", "wasmedge"), crun: path.join(dir, "bin", "crun") };
  } else {
    found = { wasmedge: "wasmedge", crun: "crun" };
  }
  if (dir && !existsSync(found.wasmedge)) throw new Error(HINT);
  return found;
}

export const DEFAULT_KIT_DIR = path.join(homedir(), ".cache", "wasm-fn", "wasmedge-kit");

export interface WasmEdgeProc extends Proc { port: number; url: string }

/** Starts `wasmedge --env PORT=<free> [--env K=V...] module` and waits until /readyz answers. */
export async function startWasmEdge(module: string, opts: { env?: Record<string, string>; port?: number; timeoutMs?: number } = {}): Promise<WasmEdgeProc> {
  const kit = wasmEdgeKit();
  const port = opts.port ?? (await freePort());
  const env = { PORT: String(port), ...opts.env };
  const args = [...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]), path.resolve(module)];
  const proc = await startProcess(kit.wasmedge, args, { readyUrl: `http://127.0.0.1:${port}/readyz`, timeoutMs: opts.timeoutMs ?? 20_000, installHint: HINT });
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(proc, { port, url });
}
