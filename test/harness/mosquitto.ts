import { execFile } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, requireBinary, startProcess, type Proc } from "./proc.js";

const run = promisify(execFile);

export interface Mosquitto {
  port: number;
  /** tcp://127.0.0.1:port, for the pubsub.mqtt3 component's url. */
  url: string;
  proc: Proc;
  /** Publishes with the real mosquitto_pub client (QoS 1). */
  publish(topic: string, message: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A real Mosquitto broker on a free loopback port (anonymous, no persistence), stopped by PID.
 *
 * @example const mq = await startMosquitto(); await mq.publish("vehicles/car-1/telemetry", "{}");
 */
export async function startMosquitto(): Promise<Mosquitto> {
  requireBinary("mosquitto");
  requireBinary("mosquitto_pub");
  const port = await freePort();
  const conf = path.join(mkdtempSync(path.join(os.tmpdir(), "wfn-mqtt-")), "mosquitto.conf");
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const proc = await startProcess("mosquitto", ["-c", conf], { readyPort: port });
  return {
    port, url: `tcp://127.0.0.1:${port}`, proc,
    async publish(topic, message) {
      await run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(port), "-q", "1", "-t", topic, "-m", message]);
    },
    stop: () => proc.stop(),
  };
}
