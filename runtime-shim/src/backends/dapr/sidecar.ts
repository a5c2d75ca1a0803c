import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, readdirSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { BackendError, BackendErrors } from "../../capabilities/backend.js";

export interface SidecarOptions {
  appId: string;
  /** The shim's port: daprd delivers events and invocations to it. */
  appPort: number;
  resourcesPath?: string;
  /** A Dapr Configuration file (--config), e.g. for name resolution. */
  config?: string;
  /** daprd binary; default: $WASM_FN_DAPRD, `daprd` on PATH, else the newest ~/.cache/wasm-fn/daprd-* (scripts/build-daprd.sh). */
  daprd?: string;
  httpPort?: number;
  grpcPort?: number;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** How long to wait for daprd's /v1.0/healthz. Default 30 s. */
  readyTimeoutMs?: number;
  /** Lines of daprd's output, e.g. to a logger. */
  onLog?: (line: string) => void;
}

export interface Sidecar {
  pid: number;
  httpPort: number;
  grpcPort: number;
  /** SIGTERM, then SIGKILL after graceMs; resolves when daprd is gone. `pid` is its watchdog's. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines daprd printed (for error messages). */
  tail(): string;
}

/** Finds a daprd binary: $WASM_FN_DAPRD, `daprd` on PATH, then the newest cached build. Null when none. */
export function findDaprd(): string | null {
  if (process.env.WASM_FN_DAPRD) return process.env.WASM_FN_DAPRD;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const p = path.join(dir, "daprd");
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  const cache = process.env.WASM_FN_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "wasm-fn");
  let names: string[] = [];
  try { names = readdirSync(cache).filter((n) => /^daprd-v?\d/.test(n) && !n.endsWith(".tmp")); } catch { return null; }
  names.sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  for (const n of names) {
    const p = path.join(cache, n);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

/** A free TCP port on 127.0.0.1 (asks the kernel, then releases it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts daprd in self-hosted mode for one app, on loopback ports, and waits until it is healthy
 * (components loaded, app reachable). This is OpenFunction's "proxy mode": one sidecar serves
 * every function in the shim.
 *
 * @example const sc = await startSidecar({ appId: "orders", appPort: 8080, resourcesPath: "./components" });
 */
export async function startSidecar(opts: SidecarOptions): Promise<Sidecar> {
  const bin = opts.daprd ?? findDaprd();
  if (!bin) {
    throw new BackendError(BackendErrors.NOT_CONFIGURED, "daprd was not found: put it on PATH, run `bash scripts/build-daprd.sh` (builds and caches it), or start a sidecar yourself and set DAPR_HTTP_PORT and DAPR_GRPC_PORT");
  }
  const httpPort = opts.httpPort ?? await freePort();
  const grpcPort = opts.grpcPort ?? await freePort();
  const internalPort = await freePort();
  const args = [
    "--app-id", opts.appId, "--app-port", String(opts.appPort), "--app-protocol", "http", "--app-channel-address", "127.0.0.1",
    "--dapr-http-port", String(httpPort), "--dapr-grpc-port", String(grpcPort), "--dapr-internal-grpc-port", String(internalPort),
    "--dapr-listen-addresses", "127.0.0.1", "--enable-metrics=false", "--log-level", opts.logLevel ?? "warn",
    "--dapr-graceful-shutdown-seconds", "1", "--placement-host-address", "", "--scheduler-host-address", "",
  ];
  if (opts.resourcesPath) args.push("--resources-path", path.resolve(opts.resourcesPath));
  if (opts.config) args.push("--config", path.resolve(opts.config));
  // daprd runs under a small sh watchdog that holds a pipe from this process: if this process dies
  // without stopping it (even SIGKILL), the pipe closes and the watchdog stops daprd.
  const child = spawn("/bin/sh", ["-c", WATCHDOG, "daprd-watchdog", bin, ...args], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  const onData = (b: Buffer) => {
    for (const line of b.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      opts.onLog?.(line);
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const sidecar: Sidecar = { pid: child.pid!, httpPort, grpcPort, stop: (g) => stopChild(child, exited, g), tail: () => lines.join("\n") };
  try {
    await waitHealthy(httpPort, exited, opts.readyTimeoutMs ?? 30_000);
  } catch (e) {
    await sidecar.stop(500);
    throw new BackendError(BackendErrors.UNAVAILABLE, `daprd (${bin}) did not become healthy: ${(e as Error).message}\n${sidecar.tail()}`);
  }
  return sidecar;
}

const WATCHDOG = `exec 3<&0
"$@" </dev/null & pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT HUP
( cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null ) &
exec 3<&-
st=0
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; st=$?; done
exit "$st"`;

async function waitHealthy(port: number, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone: number | null | undefined;
  void exited.then((c) => { gone = c; });
  while (Date.now() < deadline) {
    if (gone !== undefined) throw new Error(`it exited with code ${gone}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/v1.0/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status >= 200 && res.status < 300) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no healthy answer on :${port}/v1.0/healthz within ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
