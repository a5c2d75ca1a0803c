/**
 * Starts real services for tests (a registry, containerd, Redis, daprd...) on free loopback
 * ports, waits until they answer, and stops them by PID. Shared by every e2e suite.
 *
 * @example
 *   const port = await freePort();
 *   const redis = await startProcess("redis-server", ["--port", String(port)], { readyPort: port });
 *   ... await redis.stop();
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createServer, connect } from "node:net";
import { delimiter, isAbsolute, join } from "node:path";

export interface StartOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Ready when a TCP connect to 127.0.0.1:readyPort succeeds. */
  readyPort?: number;
  /** Ready when this URL answers HTTP at all (any status: a 401 from a registry counts). */
  readyUrl?: string;
  /** Ready when stdout or stderr contains this text (or matches this pattern). */
  readyLine?: string | RegExp;
  /** How long to wait for readiness (default 20 s). */
  timeoutMs?: number;
  /** Printed when the binary is missing; default names scripts/provision.sh and the Debian package. */
  installHint?: string;
}

export interface Proc {
  pid: number;
  port?: number;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
  stop(): Promise<void>;
  /** The last 64 KiB of stdout and stderr, for failure messages. */
  logs(): string;
  /** Resolves when the process exits, with its exit code (or the signal that ended it). */
  exitStatus(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Debian packages that provide binaries the suites start (what scripts/provision.sh installs). */
const PACKAGES: Record<string, string> = {
  "redis-server": "redis-server", mosquitto: "mosquitto", "mosquitto_pub": "mosquitto-clients",
  "docker-registry": "docker-registry", containerd: "containerd", ctr: "containerd", skopeo: "skopeo",
  umoci: "umoci", htpasswd: "apache2-utils", openssl: "openssl", "prometheus-pushgateway": "prometheus-pushgateway", clang: "clang", wrk: "wrk",
};

const LOG_LIMIT = 64 * 1024;
const running = new Set<ChildProcess>();

// A crashed test run must not leave services behind: kill what is still running, by PID.
process.once("exit", () => {
  for (const child of running) if (child.pid && child.exitCode === null) try { process.kill(child.pid, "SIGKILL"); } catch { /* gone */ }
});

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Whether `cmd` can be executed (absolute path or found on PATH). */
export function hasBinary(cmd: string): boolean {
  const candidates = isAbsolute(cmd) || cmd.includes("/") ? [cmd] : (process.env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, cmd));
  return candidates.some((p) => { try { accessSync(p, constants.X_OK); return true; } catch { return false; } });
}

/** Throws the standard "not found: run provision.sh" error unless `cmd` is installed. */
export function requireBinary(cmd: string, installHint?: string): void {
  if (hasBinary(cmd)) return;
  const pkg = PACKAGES[cmd.split("/").pop() ?? cmd];
  const hint = installHint ?? `run \`bash scripts/provision.sh\`${pkg ? ` (apt-get install ${pkg})` : ""}`;
  throw new Error(`${cmd} not found: ${hint}`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: "127.0.0.1" });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

async function httpAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawns `cmd args`, waits until it is ready (port, URL or log line), and returns a handle.
 * If it exits or times out first, it is killed and the error carries its last log lines.
 */
export async function startProcess(cmd: string, args: string[], opts: StartOptions = {}): Promise<Proc> {
  requireBinary(cmd, opts.installHint);
  const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let log = "";
  const append = (chunk: Buffer): void => { log = (log + chunk.toString("utf8")).slice(-LOG_LIMIT); };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => { running.delete(child); resolve({ code, signal }); }));
  let spawnError: Error | undefined;
  child.once("error", (e) => { spawnError = e; });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    try { process.kill(child.pid, "SIGTERM"); } catch { return; } // exited just now
    const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
    if (!killed && child.exitCode === null) { try { process.kill(child.pid, "SIGKILL"); } catch { /* gone */ } await exited; }
  };

  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  const line = opts.readyLine;
  for (;;) {
    if (spawnError) throw new Error(`${cmd} failed to start: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${cmd} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log.slice(-4000)}`);
    const ready =
      (opts.readyPort === undefined || (await tcpOpen(opts.readyPort))) &&
      (opts.readyUrl === undefined || (await httpAnswers(opts.readyUrl))) &&
      (line === undefined || (typeof line === "string" ? log.includes(line) : line.test(log)));
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${cmd} was not ready after ${opts.timeoutMs ?? 20_000} ms:\n${log.slice(-4000)}`);
    }
    await sleep(50);
  }
  const proc: Proc = { pid: child.pid!, stop, logs: () => log, exitStatus: () => exited };
  if (opts.readyPort !== undefined) proc.port = opts.readyPort;
  return proc;
}
