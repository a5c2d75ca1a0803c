import { createHash } from "node:crypto";
import path from "node:path";
import { isWfnError, WfnError } from "@wasm-fn/abi";
import { BuildErrors } from "@wasm-fn/build";
import { createLogger, type RunningShim, type Serving, startServing } from "@wasm-fn/runtime-shim";
import { CliErrors } from "../errors.js";
import { progress } from "../output.js";
import { watchSources } from "../source-watch.js";
import { buildAndPackage } from "./build.js";
import { announce, servingOptions, untilStopped } from "./run.js";

/** Quiet time after the last change before a rebuild: an editor's save is several events. */
const DEBOUNCE_MS = 80;

interface Built { name: string; namespace: string; key: string }

/**
 * `wasm-fn dev [dir]`: build (module only: no image, no WasmEdge form, no Binaryen optimisation
 * unless --optimize: a warm AssemblyScript rebuild then takes a few hundred ms), serve, and on every
 * change to the sources rebuild in-process and hot swap through the shim's own swap (the one behind
 * `run --watch` and the admin endpoint: in-flight requests finish on the old build). While the
 * last build failed, the function's requests get 500 with the compiler's message.
 */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const dir = path.resolve(String(args[0] ?? "."));
  const json = Boolean(global.json);
  const optimize = opts.optimize === true;
  const serveOpts = servingOptions(opts);
  const log = createLogger();
  const say = (event: Record<string, unknown>, human: string) => {
    if (json) process.stdout.write(JSON.stringify(event) + "\n");
    else process.stderr.write(human + "\n");
  };

  let failure: WfnError | null = null;
  let fail!: (e: unknown) => void;
  const fatal = new Promise<never>((_, reject) => { fail = reject; });
  fatal.catch(() => undefined); // raced below; no unhandled rejection before that
  let served: Built | null = null;

  const build = async (step: (s: string) => void): Promise<Built> => {
    const { result } = await buildAndPackage(dir, { image: false, wasmedge: false, optimize }, step);
    const key = createHash("sha256").update(JSON.stringify(result.metadata)).digest("hex");
    return { name: result.metadata.name, namespace: result.metadata.namespace, key };
  };

  // While the last build failed, the function's requests (every request, when none is loaded yet)
  // are answered by the gateway's own error path: the error body is the shim's, whatever its shape.
  const whileFailing = (shim: RunningShim): Parameters<RunningShim["gateway"]["use"]>[0] => (req, _res, ctx) => {
    if (failure === null) return false;
    if (shim.functions.length > 0 && !shim.gateway.router.match(req.headers.host, ctx.path)) return false;
    throw new WfnError(CliErrors.BUILD_FAILED, `the last build of ${dir} failed, so this function is not served until a build succeeds (fix it and save: wasm-fn dev rebuilds):\n${failure.code}: ${failure.message}`, { status: 500 });
  };

  /** A shim on `port` serving the function, or nothing when it cannot be loaded (its error then stands). */
  const start = async (port: number, withFunction: boolean): Promise<Serving> => {
    let s: Serving;
    try {
      s = await startServing({ ...serveOpts, port, log, functions: withFunction ? [{ kind: "dir", dir }] : [] });
    } catch (e) {
      if (!withFunction || !isWfnError(e) || e.code === "WFN_ADDRESS_IN_USE") throw e;
      failure = e;
      served = null;
      s = await startServing({ ...serveOpts, port, log, functions: [] });
    }
    s.shim.gateway.use(whileFailing(s.shim));
    return s;
  };

  const t0 = performance.now();
  let first: Built | null = null;
  try {
    first = await build((s) => progress(json, s));
  } catch (e) {
    // Not a function directory at all: nothing to wait for.
    if (isWfnError(e) && e.code === BuildErrors.CONFIG_MISSING) throw e;
    failure = asWfnError(e);
  }
  served = first;
  let serving = await start(serveOpts.port ?? 8080, first !== null);
  announce(serving.shim, json, { watching: dir, build: buildEvent(failure, performance.now() - t0) });
  if (failure) say(failedEvent(failure, performance.now() - t0), failedLine(failure, performance.now() - t0));
  else if (!json) process.stderr.write(`watching ${path.relative(process.cwd(), dir) || "."} for changes (built in ${seconds(performance.now() - t0)})\n`);

  const rebuild = async (): Promise<void> => {
    const t = performance.now();
    try {
      const b = await build(() => undefined);
      let outcome: string;
      if (served && !failure && b.key === served.key) outcome = "unchanged";
      else if (served && b.name === served.name && b.namespace === served.namespace) {
        await serving.shim.reload(served.namespace, served.name);
        outcome = "swapped";
      } else {
        // The first good build after a start without one, or a renamed function (a hot swap keeps
        // the name): a new shim on the same port, after the old one has finished its requests.
        outcome = served ? `restarted as ${b.namespace}/${b.name}` : "serving";
        const port = serving.shim.address.port;
        await serving.close();
        failure = null;
        try {
          serving = await start(port, true);
        } catch (e) {
          fail(e); // the port was taken meanwhile: nothing serves, so dev stops with the error
          return;
        }
        if (failure) throw failure;
      }
      served = b;
      failure = null;
      const ms = performance.now() - t;
      say({ event: "rebuilt", ms: Math.round(ms), outcome }, `rebuilt in ${seconds(ms)}, ${outcome}`);
    } catch (e) {
      failure = asWfnError(e);
      const ms = performance.now() - t;
      say(failedEvent(failure, ms), failedLine(failure, ms));
    }
  };

  // One build at a time; changes during a build make one more build after it.
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const kick = () => {
    if (stopped) return;
    if (running) { again = true; return; }
    running = rebuild().finally(() => {
      running = null;
      if (again) { again = false; kick(); }
    });
  };
  const watcher = await watchSources(dir, () => {
    clearTimeout(timer);
    timer = setTimeout(kick, DEBOUNCE_MS);
  }, (msg) => log.log("warn", msg));

  await Promise.race([fatal, untilStopped(log, async () => {
    // A build in progress finishes first: its files are written by rename, never left half-written.
    stopped = true;
    watcher.close();
    clearTimeout(timer);
    await running;
    await serving.close();
  })]).finally(() => { stopped = true; watcher.close(); clearTimeout(timer); });
  return 0;
}

function asWfnError(e: unknown): WfnError {
  return isWfnError(e) ? e : new WfnError("WFN_INTERNAL", `internal error: ${(e as Error).message}`);
}

function buildEvent(failure: WfnError | null, ms: number) {
  return failure ? { ok: false, ms: Math.round(ms), code: failure.code, message: failure.message } : { ok: true, ms: Math.round(ms) };
}

function failedEvent(failure: WfnError, ms: number) {
  return { event: "build-failed", ms: Math.round(ms), error: { code: failure.code, message: failure.message } };
}

function failedLine(failure: WfnError, ms: number): string {
  return `build failed in ${seconds(ms)}: error ${failure.code}: ${failure.message}\n  (requests get 500 with this message until a build succeeds)`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
