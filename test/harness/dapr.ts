import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { findDaprd } from "../../runtime-shim/dist/backends/dapr/sidecar.js";
import { ROOT } from "./cli.js";
import { freePort, startProcess, type Proc } from "./proc.js";

const run = promisify(execFile);

/** A Dapr component as the test writes it (JSON is YAML, so no serializer is needed). */
export interface Component {
  name: string;
  type: string;
  metadata?: Record<string, string>;
  scopes?: string[];
}

/** Writes component files into a fresh folder for `--resources-path`. */
export function writeResources(components: Component[], dir = mkdtempSync(path.join(os.tmpdir(), "wfn-dapr-"))): string {
  mkdirSync(dir, { recursive: true });
  for (const c of components) {
    const doc = {
      apiVersion: "dapr.io/v1alpha1", kind: "Component", metadata: { name: c.name },
      spec: { type: c.type, version: "v1", metadata: Object.entries(c.metadata ?? {}).map(([name, value]) => ({ name, value })) },
      ...(c.scopes ? { scopes: c.scopes } : {}),
    };
    writeFileSync(path.join(dir, `${c.name}.yaml`), JSON.stringify(doc, null, 2));
  }
  return dir;
}

/**
 * A Dapr Configuration for tests: Kubernetes-style name resolution with a fixed loopback template,
 * so daprd never sends mDNS multicast (its self-hosted default) and an unknown app id fails fast on
 * 127.0.0.1 instead of leaving the machine. Other apps are reached through HTTPEndpoint resources.
 */
export function writeTestConfig(dir: string): string {
  const file = path.join(dir, "dapr-config.json");
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify({
    apiVersion: "dapr.io/v1alpha1", kind: "Configuration", metadata: { name: "wfn-test" },
    spec: { nameResolution: { component: "kubernetes", configuration: { template: "127.0.0.1:1" } } },
  }, null, 2));
  return file;
}

/**
 * Makes app id `appId` reachable from the sidecars reading `resourcesDir`: an HTTPEndpoint whose base
 * URL is that app's own daprd, so a call goes app -> daprd -> daprd -> app without name resolution.
 */
export function writeAppEndpoint(resourcesDir: string, appId: string, daprHttpPort: number): void {
  writeFileSync(path.join(resourcesDir, `endpoint-${appId}.yaml`), JSON.stringify({
    apiVersion: "dapr.io/v1alpha1", kind: "HTTPEndpoint", metadata: { name: appId },
    spec: { baseUrl: `http://127.0.0.1:${daprHttpPort}/v1.0/invoke/${appId}/method` },
  }, null, 2));
}

/**
 * A Dapr Resiliency resource that retries deliveries to the app every 200 ms (daprd's built-in
 * policy backs off for many seconds), for the pubsub components named.
 */
export function writeResiliency(resourcesDir: string, pubsubs: string[]): void {
  writeFileSync(path.join(resourcesDir, "resiliency.yaml"), JSON.stringify({
    apiVersion: "dapr.io/v1alpha1", kind: "Resiliency", metadata: { name: "wfn-test" },
    spec: {
      policies: { retries: { fast: { policy: "constant", duration: "200ms", maxRetries: 50 } } },
      targets: { components: Object.fromEntries(pubsubs.map((p) => [p, { inbound: { retry: "fast" } }])) },
    },
  }, null, 2));
}

let cached: string | null = null;

/**
 * The daprd binary: $WASM_FN_DAPRD, `daprd` on PATH, the cached build, or (first time on a machine)
 * scripts/build-daprd.sh, which builds it from the Go module proxy. Fails with the install hint.
 */
export async function daprdBinary(): Promise<string> {
  if (cached) return cached;
  const found = findDaprd();
  if (found) return (cached = found);
  try {
    const { stdout } = await run("bash", [path.join(ROOT, "scripts", "build-daprd.sh")], { timeout: 20 * 60_000, maxBuffer: 1 << 20 });
    return (cached = stdout.trim().split("\n").pop()!);
  } catch (e) {
    throw new Error(`daprd is not available: run \`bash scripts/provision.sh\` (it builds daprd with scripts/build-daprd.sh; needs Go): ${(e as Error).message}`);
  }
}

export interface Daprd {
  proc: Proc;
  httpPort: number;
  grpcPort: number;
  appId: string;
  /** daprd's HTTP API base, e.g. http://127.0.0.1:3500/v1.0 */
  api: string;
  stop(): Promise<void>;
}

export interface DaprdOptions {
  appId: string;
  /** Where the app (the shim) listens; omit for a sidecar with no app. */
  appPort?: number;
  resourcesPath: string;
  /** Dapr Configuration file; default: writeTestConfig (no mDNS). */
  config?: string;
  logLevel?: string;
  /** Fixed ports (e.g. to restart a sidecar where clients expect it); default free ones. */
  httpPort?: number;
  grpcPort?: number;
  /** Wait for /v1.0/healthz (app reachable) rather than /v1.0/healthz/outbound. Default: when appPort is set. */
  waitForApp?: boolean;
}

/**
 * Starts a real daprd (self-hosted) on free loopback ports for one app id; stop() ends it by PID.
 *
 * @example const d = await startDaprd({ appId: "fns", appPort: shim.address.port, resourcesPath: dir });
 */
export async function startDaprd(opts: DaprdOptions): Promise<Daprd> {
  const bin = await daprdBinary();
  const [httpPort, grpcPort, internalPort] = [opts.httpPort ?? await freePort(), opts.grpcPort ?? await freePort(), await freePort()];
  const args = [
    "--app-id", opts.appId, "--dapr-http-port", String(httpPort), "--dapr-grpc-port", String(grpcPort),
    "--dapr-internal-grpc-port", String(internalPort), "--dapr-listen-addresses", "127.0.0.1", "--enable-metrics=false",
    "--resources-path", opts.resourcesPath, "--log-level", opts.logLevel ?? "warn", "--dapr-graceful-shutdown-seconds", "1",
    "--placement-host-address", "", "--scheduler-host-address", "",
  ];
  if (opts.appPort !== undefined) args.push("--app-port", String(opts.appPort), "--app-protocol", "http", "--app-channel-address", "127.0.0.1");
  args.push("--config", opts.config ?? writeTestConfig(path.join(opts.resourcesPath, "..", `${path.basename(opts.resourcesPath)}-cfg`)));
  const health = opts.waitForApp ?? opts.appPort !== undefined ? "/v1.0/healthz" : "/v1.0/healthz/outbound";
  const proc = await startProcess(bin, args, { readyPort: httpPort, timeoutMs: 60_000, installHint: "run `bash scripts/provision.sh` (builds daprd)" });
  const api = `http://127.0.0.1:${httpPort}/v1.0`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${httpPort}${health}`).then((r) => r.status < 300, () => false);
    if (ok) break;
    if (Date.now() > deadline) { const logs = proc.logs(); await proc.stop(); throw new Error(`daprd was not healthy in 60 s:\n${logs.slice(-4000)}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, httpPort, grpcPort, appId: opts.appId, api, stop: () => proc.stop() };
}
