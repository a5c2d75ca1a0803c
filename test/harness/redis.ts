import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePort, requireBinary, startProcess, type Proc } from "./proc.js";

const run = promisify(execFile);

export interface Redis {
  port: number;
  /** host:port for Dapr component metadata (redisHost). */
  address: string;
  proc: Proc;
  /** Runs one command through redis-cli and returns its raw output. */
  cli(...args: string[]): Promise<string>;
  stop(): Promise<void>;
  /** Starts redis-server again on the same port (for outage tests). */
  restart(): Promise<void>;
}

/**
 * A real redis-server on a free loopback port, without persistence, stopped by PID.
 *
 * @example const redis = await startRedis(); await redis.cli("SET", "k", "v"); await redis.stop();
 */
export async function startRedis(): Promise<Redis> {
  requireBinary("redis-server");
  requireBinary("redis-cli", "run `bash scripts/provision.sh` (apt-get install redis-tools)");
  const port = await freePort();
  const start = () => startProcess("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"], { readyPort: port });
  const r: Redis = {
    port,
    address: `127.0.0.1:${port}`,
    proc: await start(),
    async cli(...args) {
      const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);
      return stdout.trim();
    },
    stop: () => r.proc.stop(),
    async restart() { r.proc = await start(); },
  };
  return r;
}
