import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, requireBinary, startProcess, type Proc } from "./proc.js";

export interface Pushgateway {
  port: number;
  url: string;
  proc: Proc;
  /** The exposition text of GET /metrics. */
  metrics(): Promise<string>;
  /** The value of one sample, e.g. sample('vehicle_speed_kmh', { vehicle: "car-1" }); undefined when absent. */
  sample(name: string, labels: Record<string, string>): Promise<number | undefined>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port.
 *
 * @example const pg = await startPushgateway(); await pg.sample("up", {});
 */
export async function startPushgateway(): Promise<Pushgateway> {
  requireBinary("prometheus-pushgateway");
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-pgw-"));
  const proc = await startProcess("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${path.join(dir, "metrics")}`], { readyUrl: `http://127.0.0.1:${port}/-/ready` });
  const url = `http://127.0.0.1:${port}`;
  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  return {
    port, url, proc, metrics,
    async sample(name, labels) {
      for (const line of (await metrics()).split("\n")) {
        const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
        if (!m || m[1] !== name) continue;
        const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
      }
      return undefined;
    },
    stop: () => proc.stop(),
  };
}
