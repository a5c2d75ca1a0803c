import type { AddressInfo } from "node:net";
import { WfnError } from "@wasm-fn/abi";
import { CapabilityRouter, type Capability } from "./capabilities/index.js";
import { compileFunction, readFunction, ServedFunction, type FunctionSource } from "./function.js";
import { Gateway, type RoutedFunction } from "./gateway/server.js";
import { createLogger, type Logger } from "./logger.js";

export interface ShimOptions {
  functions: FunctionSource[];
  host?: string;
  port?: number;
  domain?: string;
  log?: Logger;
  accessLog?: boolean;
  capabilities?: Capability[];
}

export interface RunningShim {
  url: string;
  address: AddressInfo;
  gateway: Gateway;
  functions: RoutedFunction[];
  /** The URL each function answers on (path-based route). */
  urls: { name: string; namespace: string; url: string; host: string }[];
  /** Targets that could not be loaded (the others are served): each with its clear error. */
  failed: { source: string; error: WfnError }[];
  /** Finishes in-flight requests, then stops. */
  close(): Promise<void>;
}

/**
 * Starts a shim serving the given functions. Each module is read, checked against the ABI and
 * compiled once before the port opens, so a bad module fails the start with a clear error.
 *
 * @example const shim = await startShim({ functions: [{ kind: "dir", dir: "examples/hello" }], port: 0 });
 */
export async function startShim(opts: ShimOptions): Promise<RunningShim> {
  const log = opts.log ?? createLogger();
  const host = opts.host ?? "127.0.0.1";
  const domain = opts.domain ?? "local";
  const caps = new CapabilityRouter(opts.capabilities ?? []);
  const gateway = new Gateway({ host, port: opts.port ?? 8080, domain, log, accessLog: opts.accessLog ?? false });
  const functions: RoutedFunction[] = [];
  const failed: RunningShim["failed"] = [];
  for (const src of opts.functions) {
    try {
      functions.push(await loadOne(src));
    } catch (e) {
      // One bad module must not take the others down: report it and serve the rest.
      if (!(e instanceof WfnError) || opts.functions.length === 1) throw e;
      failed.push({ source: describeSource(src), error: e });
      log.log("error", e.message, { code: e.code, source: describeSource(src) });
    }
  }
  if (functions.length === 0 && failed.length > 0) throw failed[0]!.error;
  async function loadOne(src: FunctionSource): Promise<RoutedFunction> {
    const code = await readFunction(src);
    const fnInfo = { name: code.config.name, namespace: code.config.namespace, appId: code.config.appId, permissions: code.config.permissions };
    const calls = caps.forFunction(fnInfo);
    const mod = await compileFunction(code, calls);
    const served = new ServedFunction(code.config, mod, calls, log, code.origin);
    const routed = Object.assign(served, {
      paths: code.config.triggers.http?.route?.paths ?? [],
      hostnames: code.config.triggers.http?.route?.hostnames ?? [],
    }) as RoutedFunction;
    if (functions.some((f) => f.name === routed.name && f.namespace === routed.namespace)) {
      throw new WfnError("WFN_DUPLICATE_FUNCTION", `two functions are named ${routed.namespace}/${routed.name}; give one another name or namespace in its wasm-fn.yaml`);
    }
    gateway.router.add(routed);
    return routed;
  }
  const address = await gateway.listen();
  gateway.ready = true;
  const hostForUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${hostForUrl}:${address.port}`;
  return {
    url,
    address,
    gateway,
    functions,
    failed,
    urls: functions.map((f) => ({ name: f.name, namespace: f.namespace, url: `${url}/${f.namespace}/${f.name}`, host: `${f.name}.${f.namespace}.${domain}` })),
    async close() {
      await gateway.drain();
      for (const f of functions) f.close();
    },
  };
}

function describeSource(src: FunctionSource): string {
  return src.kind === "dir" ? src.dir : src.kind === "file" ? src.file : src.origin;
}
