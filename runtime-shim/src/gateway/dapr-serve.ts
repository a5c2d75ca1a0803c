import { WfnError } from "@wasm-fn/abi";
import type { Backend } from "../capabilities/backend.js";
import { createCapabilities } from "../capabilities/index.js";
import { LocalApps } from "../capabilities/invoke/index.js";
import { createLogger, type Logger } from "../logger.js";
import { startShim, type RunningShim, type ShimOptions } from "../shim.js";
import { DaprApp, registerLocalApps } from "./dapr-app.js";

export type BackendChoice =
  | {
      kind: "embedded";
      /** Default .wasm-fn/state.json; null = memory only. */
      stateFile?: string | null;
      /** Dapr component YAML folder: names and bindings.http / local secret stores are read from it. */
      resourcesPath?: string;
    }
  | {
      kind: "dapr";
      /** A running sidecar's ports (DAPR_HTTP_PORT, DAPR_GRPC_PORT); when absent, daprd is started for this shim. */
      sidecar?: { httpPort: number; grpcPort: number };
      /** Per-call deadline to daprd. Default 5 s. */
      timeoutMs?: number;
      /** Passed to the daprd this starts; appId defaults to the function's when it serves one, else "wasm-fn". */
      resourcesPath?: string;
      config?: string;
      appId?: string;
      daprd?: string;
      logLevel?: "debug" | "info" | "warn" | "error";
    };

export interface ServeOptions extends Omit<ShimOptions, "capabilities"> {
  backend: BackendChoice;
}

export interface Serving {
  shim: RunningShim;
  backend: Backend;
  app: DaprApp;
  /** The daprd this started, if it started one. */
  sidecar?: { pid: number; httpPort: number; grpcPort: number };
  /** Drains the shim, then stops the sidecar it started and closes the backend. */
  close(): Promise<void>;
}

/**
 * Serves functions with a backend behind every capability: the embedded one (local work) or Dapr
 * (a running sidecar, or one it starts with --app-port = the shim's port and stops on close).
 * Async functions get their events from daprd's deliveries or the embedded bus.
 *
 * @example const s = await startServing({ functions: [{ kind: "dir", dir: "examples/counter" }], port: 0, backend: { kind: "embedded" } });
 */
export async function startServing(opts: ServeOptions): Promise<Serving> {
  const log = opts.log ?? createLogger();
  const local = new LocalApps();
  const choice = opts.backend;
  let backend: Backend;
  let unclaimed: (() => Record<string, number>) | null = null;
  let startSidecar: ((appPort: number, appId: string) => Promise<{ pid: number; httpPort: number; grpcPort: number; stop(): Promise<void> }>) | null = null;
  if (choice.kind === "embedded") {
    const { EmbeddedBackend, readComponents } = await import("../backends/embedded/index.js");
    const components = choice.resourcesPath ? await readComponents(choice.resourcesPath) : undefined;
    const embedded = new EmbeddedBackend({
      file: choice.stateFile === undefined ? ".wasm-fn/state.json" : choice.stateFile,
      ...(components ? { components } : {}),
      bus: { log: (level, msg, fields) => log.log(level, msg, fields) },
    });
    unclaimed = () => embedded.bus.unclaimedBySubscription();
    backend = embedded;
  } else {
    // Loaded only here: @dapr/dapr costs most of a second to import, which `wasm-fn run` alone should not pay.
    const dapr = await import("../backends/dapr/index.js");
    let ports = choice.sidecar;
    if (ports === undefined) {
      const [g, h] = [await dapr.freePort(), await dapr.freePort()];
      ports = { grpcPort: g, httpPort: h };
      startSidecar = (appPort, appId) => dapr.startSidecar({
        appId, appPort, grpcPort: g, httpPort: h, logLevel: choice.logLevel ?? "warn",
        ...(choice.resourcesPath ? { resourcesPath: choice.resourcesPath } : {}), ...(choice.config ? { config: choice.config } : {}), ...(choice.daprd ? { daprd: choice.daprd } : {}),
        onLog: (line) => logDaprdLine(log, line),
      });
    }
    backend = new dapr.DaprBackend({ ...ports, ...(choice.timeoutMs ? { timeoutMs: choice.timeoutMs } : {}) });
  }
  let shim: RunningShim;
  try {
    shim = await startShim({ ...opts, log, capabilities: createCapabilities(backend, { local }) });
  } catch (e) {
    await backend.close();
    throw e;
  }
  let app: DaprApp;
  try {
    app = new DaprApp(shim.functions, backend, log);
  } catch (e) {
    await shim.close();
    await backend.close();
    throw new WfnError("WFN_CONFIG_INVALID", (e as Error).message);
  }
  // Attached before any await: daprd reads /dapr/subscribe only once, when it starts.
  shim.gateway.use(app.route);
  registerLocalApps(local, shim.functions);
  const offBus = backend.bus ? app.attachBus(backend.bus) : () => undefined;
  if (unclaimed) {
    // Events of the last run for a topic no function served now reads: kept, not lost, but say so.
    for (const [sub, n] of Object.entries(unclaimed())) {
      log.log("warn", `${n} event(s) from the last run wait for subscription ${sub}, which no function served now has; they stay in the journal until one subscribes again`, { subscription: sub });
    }
  }
  let sidecar: Awaited<ReturnType<NonNullable<typeof startSidecar>>> | undefined;
  if (startSidecar) {
    try {
      // One sidecar for the whole shim (OpenFunction's proxy mode); a lone function lends it its app id.
      const appId = (choice.kind === "dapr" ? choice.appId : undefined) ?? (shim.functions.length === 1 ? shim.functions[0]!.config.appId : "wasm-fn");
      sidecar = await startSidecar(shim.address.port, appId);
    } catch (e) {
      await shim.close();
      await backend.close();
      throw new WfnError("WFN_DAPR_UNAVAILABLE", (e as Error).message);
    }
    log.log("info", "daprd started", { pid: sidecar.pid, httpPort: sidecar.httpPort, grpcPort: sidecar.grpcPort });
  }
  return {
    shim, backend, app,
    ...(sidecar ? { sidecar: { pid: sidecar.pid, httpPort: sidecar.httpPort, grpcPort: sidecar.grpcPort } } : {}),
    async close() {
      offBus();
      // A failed drain must not leave daprd running or the state file unflushed.
      try {
        await shim.close();
      } finally {
        try { await sidecar?.stop(); } finally { await backend.close(); }
      }
    },
  };
}

/** `wasm-fn run`'s backend options as the CLI passes them. */
export interface BackendFlags {
  dapr?: boolean;
  stateFile?: string;
  resourcesPath?: string;
  appId?: string;
  /** "5s", "500ms" or milliseconds. */
  daprTimeout?: string;
  /** Dapr Configuration file for the daprd it starts. */
  daprConfig?: string;
}

/**
 * Turns `wasm-fn run` flags and the environment into a backend choice: `--dapr` uses the sidecar
 * named by DAPR_HTTP_PORT and DAPR_GRPC_PORT (as `dapr run` sets them) or starts one; otherwise
 * the embedded backend.
 *
 * @example startServing({ ...shimOpts, backend: backendFromFlags({ dapr: true }, process.env) })
 */
export function backendFromFlags(flags: BackendFlags, env: NodeJS.ProcessEnv): BackendChoice {
  if (!flags.dapr) {
    return { kind: "embedded", stateFile: flags.stateFile ?? ".wasm-fn/state.json", ...(flags.resourcesPath ? { resourcesPath: flags.resourcesPath } : {}) };
  }
  const timeoutMs = parseDuration(flags.daprTimeout ?? "5s");
  const http = env.DAPR_HTTP_PORT || undefined;
  const grpc = env.DAPR_GRPC_PORT || undefined;
  if (http !== undefined || grpc !== undefined) {
    if (http === undefined || grpc === undefined) {
      throw new WfnError("WFN_USAGE", `${http ? "DAPR_HTTP_PORT" : "DAPR_GRPC_PORT"} is set but ${http ? "DAPR_GRPC_PORT" : "DAPR_HTTP_PORT"} is not: wasm-fn uses both of the sidecar's ports; set both (\`dapr run\` does), or neither to let wasm-fn start daprd`);
    }
    return { kind: "dapr", sidecar: { httpPort: port(http, "DAPR_HTTP_PORT"), grpcPort: port(grpc, "DAPR_GRPC_PORT") }, timeoutMs };
  }
  return {
    kind: "dapr", timeoutMs, ...(flags.appId ? { appId: flags.appId } : {}),
    ...(flags.resourcesPath ? { resourcesPath: flags.resourcesPath } : {}), ...(flags.daprConfig ? { config: flags.daprConfig } : {}),
  };
}

function port(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new WfnError("WFN_USAGE", `${name} must be a port number, got '${v}'`);
  return n;
}

function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new WfnError("WFN_USAGE", `--dapr-timeout must be a duration like 2s or 500ms, got '${v}'`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : m[2] === "ms" ? 1 : 1000);
}

// daprd's own warnings that say nothing about this setup (no mTLS, actors or scheduler in self-hosted mode).
const DAPRD_NOISE = /mTLS is disabled|increasedCardinality|Actor runtime disabled|Scheduler disabled|placement service is not configured|App channel is not initialized/;

/** One daprd log line (logfmt) as a JSON log line at daprd's own level. */
function logDaprdLine(log: Logger, line: string): void {
  const level = /\blevel=(\w+)/.exec(line)?.[1] ?? "info";
  const msg = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1]?.replace(/\\"/g, '"') ?? line;
  const mapped = DAPRD_NOISE.test(msg) ? "debug" : level === "error" || level === "fatal" ? "error" : level === "warning" ? "warn" : level === "debug" ? "debug" : "info";
  log.log(mapped, msg, { source: "daprd" });
}
