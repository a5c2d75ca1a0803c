import { stat } from "node:fs/promises";
import path from "node:path";
import { startServing, backendFromFlags, createLogger, flushLogs, type FunctionSource, type Logger, type RunningShim, type ServeOptions } from "@wasm-fn/runtime-shim";
import { normalizeConfig } from "@wasm-fn/build/config";
import { WfnError } from "@wasm-fn/abi";

/** `wasm-fn run [targets...]`: serve directories, .wasm files or OCI references until SIGTERM/SIGINT. */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const targets = (args[0] as string[] | undefined)?.length ? (args[0] as string[]) : ["."];
  const log = createLogger();
  const functions: FunctionSource[] = [];
  for (const t of targets) functions.push(await resolveTarget(t, Boolean(opts.insecure)));
  const serving = await startServing({ functions, log, ...servingOptions(opts) });
  const shim = serving.shim;
  const watcher = opts.watch ? shim.watch() : null;
  for (const f of shim.failed) process.stderr.write(`error ${f.error.code}: ${f.error.message}\n  (not serving ${f.source}; the other functions are served)\n`);
  announce(shim, Boolean(global.json));
  log.log("info", "listening", { url: shim.url, functions: shim.urls.map((u) => `${u.namespace}/${u.name}`) });
  await untilStopped(log, async () => {
    watcher?.close();
    await serving.close();
  });
  return 0;
}

/** The start-up banner: one JSON line on stdout with --json (`extra` merged in), else the URLs on stderr. */
export function announce(shim: RunningShim, json: boolean, extra: Record<string, unknown> = {}): void {
  if (json) {
    // The log lines of start-up (e.g. "daprd started") are buffered: out first, so stdout keeps its order.
    flushLogs();
    process.stdout.write(JSON.stringify({ url: shim.url, functions: shim.urls, failed: shim.failed.map((f) => ({ source: f.source, code: f.error.code, message: f.error.message })), ...extra }) + "\n");
  } else {
    process.stderr.write(`wasm-fn listening on ${shim.url}  (/healthz, /readyz; Ctrl-C to stop)\n`);
    for (const u of shim.urls) process.stderr.write(`  ${u.namespace}/${u.name}  ${u.url}  (or Host: ${u.host})\n`);
    if (shim.urls[0]) process.stderr.write(`try: curl ${shim.urls[0].url}\n`);
  }
}

/** `run`'s serving flags (shared with `dev`), checked: listen address, backend, placement policy. */
export function servingOptions(opts: Record<string, unknown>): Omit<ServeOptions, "functions" | "log"> {
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new WfnError("WFN_USAGE", `--port must be a number from 0 to 65535, got '${String(opts.port)}'`);
  const backend = backendFromFlags({ dapr: Boolean(opts.dapr), stateFile: opts.stateFile as string | undefined, resourcesPath: opts.resourcesPath as string | undefined, appId: opts.appId as string | undefined, daprTimeout: opts.daprTimeout as string | undefined, daprConfig: opts.daprConfig as string | undefined }, process.env);
  const offload = String(opts.offload ?? "adaptive");
  if (offload !== "adaptive" && offload !== "never" && offload !== "always") throw new WfnError("WFN_USAGE", `--offload must be adaptive, never or always, got '${offload}'`);
  const runaways = String(opts.runaways ?? "processes");
  if (runaways !== "threads" && runaways !== "processes") throw new WfnError("WFN_USAGE", `--runaways must be threads or processes, got '${runaways}'`);
  return { host: String(opts.host), port, domain: String(opts.domain), accessLog: opts.accessLog !== false, backend, offload, runaways };
}

/**
 * Resolves once SIGTERM or SIGINT has been handled: `stop` drains (in-flight requests finish) and
 * releases what the command holds. A second signal while stopping exits at once (130).
 */
export function untilStopped(log: Logger, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) { process.exit(130); }
      stopping = true;
      log.log("info", "draining: finishing in-flight requests", { signal });
      stop().then(() => { log.log("info", "stopped", { signal }); resolve(); }, () => resolve());
    };
    process.once("SIGTERM", () => onSignal("SIGTERM"));
    process.once("SIGINT", () => onSignal("SIGINT"));
  });
}

async function resolveTarget(target: string, insecure: boolean): Promise<FunctionSource> {
  const st = await stat(target).catch(() => null);
  if (st?.isDirectory()) return { kind: "dir", dir: path.resolve(target) };
  if (st?.isFile()) return { kind: "file", file: path.resolve(target) };
  const oci = await import("@wasm-fn/oci");
  if (oci.isImageReference(target)) {
    const pulled = await oci.pullToCache(target, { insecure });
    const meta = (pulled.metadata ?? {}) as { config?: unknown; name?: string };
    const config = normalizeConfig(meta.config ?? { name: meta.name ?? path.basename(pulled.wasmPath, ".wasm") }, `${target} (image metadata)`);
    const { readFile } = await import("node:fs/promises");
    return { kind: "bytes", wasm: await readFile(pulled.wasmPath), config, origin: `${target}@${pulled.manifestDigest}` };
  }
  throw new WfnError("WFN_TARGET_NOT_FOUND", `'${target}' is not a function directory, a .wasm file, or an OCI reference (like localhost:5000/hello:0.1.0)`);
}
