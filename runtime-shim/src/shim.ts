import type { AddressInfo } from "node:net";
import { WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "./errors.js";
import { CapabilityRouter, type Capability } from "./capabilities/index.js";
import path from "node:path";
import { adminRoute, type SwapReport } from "./admin/admin.js";
import { watchFunctions } from "./admin/watch.js";
import { compileFunction, readFunction, ServedFunction, type FunctionSource, type RunOptions } from "./function.js";
import { Gateway, type RoutedFunction } from "./gateway/server.js";
import { createLogger, type Logger } from "./logger.js";
import { ShimMetrics } from "./metrics/metrics.js";

export interface ShimOptions {
  functions: FunctionSource[];
  host?: string;
  port?: number;
  domain?: string;
  log?: Logger;
  accessLog?: boolean;
  capabilities?: Capability[];
  /** Where instances run and how runaways are contained (docs/runtime.md). */
  offload?: RunOptions["offload"];
  /** Where a function moved off the main thread as a suspected runaway runs: threads (default) or processes. */
  runaways?: RunOptions["runaways"];
  sliceMs?: number;
  threads?: number;
  /** Prometheus metrics on GET /metrics (default true). */
  metrics?: boolean;
  /** The loopback-only admin endpoint under /admin/ for hot swap (default true). */
  admin?: boolean;
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
  /** Per-function Prometheus metrics (null when disabled). */
  metrics: ShimMetrics | null;
  /**
   * Hot swap: re-reads a function from where it was loaded (or takes the given module bytes, same
   * config), checks and compiles it, then routes new requests to it while the old version drains.
   * A bad build is refused with a clear error and the old version keeps serving.
   */
  reload(namespace: string, name: string, wasm?: Uint8Array): Promise<SwapReport>;
  /** `--watch`: hot swaps each function loaded from a directory or file when its module file changes. */
  watch(): { close(): void };
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
  const metrics = opts.metrics === false ? null : new ShimMetrics();
  const serve: RunOptions = { offload: opts.offload, runaways: opts.runaways, sliceMs: opts.sliceMs, threads: opts.threads, observer: metrics ?? undefined };
  // Child processes (the default for suspected runaways) are handed a module's bytes, not the module.
  const keepBytes = serve.runaways !== "threads";
  const sources = new Map<RoutedFunction, FunctionSource>();
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
    const mod = await compileFunction(code, calls, { keepBytes });
    const served = new ServedFunction(code.config, mod, calls, log, code.origin, serve);
    const routed = Object.assign(served, {
      paths: code.config.triggers.http?.route?.paths ?? [],
      hostnames: code.config.triggers.http?.route?.hostnames ?? [],
    }) as RoutedFunction;
    if (functions.some((f) => f.name === routed.name && f.namespace === routed.namespace)) {
      throw new WfnError("WFN_DUPLICATE_FUNCTION", `two functions are named ${routed.namespace}/${routed.name}; give one another name or namespace in its wasm-fn.yaml`);
    }
    const clash = gateway.router.conflict(routed);
    if (clash) { served.close(); throw routeConflict(clash); }
    gateway.router.add(routed);
    sources.set(routed, src);
    metrics?.track(routed);
    return routed;
  }
  async function reload(namespace: string, name: string, wasm?: Uint8Array): Promise<SwapReport> {
    const fn = functions.find((f) => f.namespace === namespace && f.name === name);
    if (!fn) throw new WfnError(ShimErrors.NOT_FOUND, `no function ${namespace}/${name} here; loaded: ${functions.map((f) => `${f.namespace}/${f.name}`).join(", ")}`, { status: 404 });
    const t0 = performance.now();
    const src = sources.get(fn)!;
    if (!wasm && src.kind === "bytes") throw new WfnError("WFN_SWAP_SOURCE", `${namespace}/${name} was pulled from ${src.origin}; PUT the new module to /admin/functions/${namespace}/${name}, or restart with the new reference`, { status: 409 });
    const code = wasm ? { config: fn.config, wasm, origin: `${fn.origin.replace(/ \(uploaded\)$/, "")} (uploaded)` } : await readFunction(src);
    // Checked before anything changes: a refused swap leaves the old version serving on its routes.
    const clash = gateway.router.conflict({ name: code.config.name, namespace: code.config.namespace, paths: code.config.triggers.http?.route?.paths ?? [], hostnames: code.config.triggers.http?.route?.hostnames ?? [] }, fn);
    if (clash) throw routeConflict(clash);
    const calls = caps.forFunction({ name: code.config.name, namespace: code.config.namespace, appId: code.config.appId, permissions: code.config.permissions });
    const mod = await compileFunction(code, calls, { keepBytes });
    const drained = fn.swap(code.config, mod, code.origin, calls);
    // Routes come from the config, which may have changed: index the function again.
    Object.assign(fn, { paths: code.config.triggers.http?.route?.paths ?? [], hostnames: code.config.triggers.http?.route?.hostnames ?? [] });
    gateway.router.replace(fn, fn);
    return { namespace, name, version: code.config.version, origin: code.origin, compileMs: Math.round((performance.now() - t0) * 10) / 10, drained };
  }
  // One extra route for /metrics and /admin/: other paths fall through synchronously.
  const admin = opts.admin === false ? null : adminRoute({ functions: () => functions, reload }, log);
  if (metrics || admin) {
    gateway.use((req, res, ctx) => {
      if (metrics && ctx.path === "/metrics") return metrics.route(req, res, ctx);
      if (admin && ctx.path.startsWith("/admin/")) return admin(req, res, ctx);
      return false;
    });
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
    metrics,
    reload,
    watch() {
      const targets = functions.flatMap((f) => {
        const src = sources.get(f)!;
        if (src.kind === "bytes") { log.log("warn", `not watching ${f.namespace}/${f.name}: it was pulled from a registry`); return []; }
        return [{ namespace: f.namespace, name: f.name, file: src.kind === "dir" ? path.join(src.dir, "dist", `${f.name}.wasm`) : src.file }];
      });
      return watchFunctions(targets, reload, log);
    },
    urls: functions.map((f) => ({ name: f.name, namespace: f.namespace, url: `${url}/${f.namespace}/${f.name}`, host: `${f.name}.${f.namespace}.${domain}` })),
    async close() {
      await gateway.drain();
      for (const f of functions) f.close();
    },
  };
}

function routeConflict(clash: string): WfnError {
  return new WfnError("WFN_ROUTE_CONFLICT", `${clash}: a function may not take another's traffic; change triggers.http.route in its wasm-fn.yaml`, { status: 409 });
}

function describeSource(src: FunctionSource): string {
  return src.kind === "dir" ? src.dir : src.kind === "file" ? src.file : src.origin;
}
