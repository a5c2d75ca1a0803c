// The backend conformance suite (test/harness/conformance.ts) against the embedded backend and
// against a real daprd with real Redis; the daprd run is the one that counts.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { EmbeddedBackend, readComponents } from "../runtime-shim/dist/backends/embedded/index.js";
import { DaprBackend } from "../runtime-shim/dist/backends/dapr/index.js";
import { backendConformance, NAMES, SECRETS, type ConformanceEnv } from "./harness/conformance.js";
import { startDaprd, writeAppEndpoint, writeResources, type Component } from "./harness/dapr.js";
import { startRedis } from "./harness/redis.js";
import { startRecorder } from "./harness/services.js";

function secretsFile(dir: string): string {
  const file = path.join(dir, "secrets.json");
  writeFileSync(file, JSON.stringify(SECRETS));
  return file;
}

function components(redisAddress: string, sinkUrl: string, secrets: string): Component[] {
  return [
    { name: NAMES.state, type: "state.redis", metadata: { redisHost: redisAddress } },
    { name: NAMES.pubsub, type: "pubsub.redis", metadata: { redisHost: redisAddress, processingTimeout: "2s", redeliverInterval: "1s" } },
    { name: NAMES.binding, type: "bindings.http", metadata: { url: sinkUrl } },
    { name: NAMES.secrets, type: "secretstores.local.file", metadata: { secretsFile: secrets, nestedSeparator: ":" } },
    { name: NAMES.config, type: "configuration.redis", metadata: { redisHost: redisAddress } },
  ];
}

backendConformance("embedded", async (): Promise<ConformanceEnv> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-conf-"));
  const sink = await startRecorder();
  const resources = writeResources(components("unused:0", sink.url, secretsFile(dir)), path.join(dir));
  const backend = new EmbeddedBackend({ file: path.join(dir, "state.json"), components: await readComponents(resources) });
  const events: ((e: import("../runtime-shim/dist/capabilities/backend.js").DeliveredEvent) => void)[] = [];
  backend.bus.subscribe(NAMES.pubsub, NAMES.topic, async (ev) => { events.shift()?.(ev); return "SUCCESS"; });
  return {
    backend, sink: sink.requests,
    nextEvent: () => new Promise((r) => events.push(r)),
    seedConfig: async (key, value) => backend.setConfig(NAMES.config, key, value, "1"),
    close: async () => { await backend.close(); await sink.close(); },
  };
});

backendConformance("dapr (real daprd + Redis)", async (): Promise<ConformanceEnv> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-conf-dapr-"));
  const stops: (() => Promise<void>)[] = [];
  const closeAll = async () => { for (const s of stops.reverse()) await s().catch(() => undefined); };
  try {
    const redis = await startRedis();
    stops.push(() => redis.stop());
    // The recorder is the Dapr app (subscriptions, deliveries) and the HTTP binding's target.
    const rec = await startRecorder({ subscriptions: [{ pubsubname: NAMES.pubsub, topic: NAMES.topic, route: "/events" }] });
    stops.push(() => rec.close());
    const echo = await startRecorder();
    stops.push(() => echo.close());
    // "Another Dapr app": echo-app behind its own daprd, reached from ours through an HTTPEndpoint.
    const remote = await startDaprd({ appId: "echo-app", appPort: echo.port, resourcesPath: writeResources([], path.join(dir, "empty")) });
    stops.push(() => remote.stop());
    const resources = writeResources(components(redis.address, rec.url, secretsFile(dir)), path.join(dir, "resources"));
    writeAppEndpoint(resources, "echo-app", remote.httpPort);
    const daprd = await startDaprd({ appId: "conformance", appPort: rec.port, resourcesPath: resources });
    stops.push(() => daprd.stop());
    const backend = new DaprBackend({ httpPort: daprd.httpPort, grpcPort: daprd.grpcPort, timeoutMs: 5000 });
    stops.push(() => backend.close());
    return {
      backend, sink: rec.requests, remoteAppId: "echo-app",
      nextEvent: () => rec.nextEvent(),
      seedConfig: async (key, value) => { await redis.cli("SET", key, `${value}||1`); },
      close: closeAll,
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
});
