import path from "node:path";
import { isWfnError, WfnError } from "@wasm-fn/abi";
import { createLogger, type Logger, type RunningShim, type ServeOptions, type Serving, startServing } from "@wasm-fn/runtime-shim";
import { BuildWorker, type Built } from "../build-worker.js";
import { asWfnError, CliErrors } from "../errors.js";
import { progress } from "../output.js";
import { watchSources } from "../source-watch.js";
import { announce, servingOptions, untilStopped } from "./run.js";

/** Quiet time after the last change before a rebuild: an editor's save is several events. */
const DEBOUNCE_MS = 80;

/**
 * `wasm-fn dev [dir]`: build (module only: no image, no WasmEdge form, no Binaryen optimisation
 * unless --optimize: a warm AssemblyScript rebuild then takes a few hundred ms), serve, and on every
 * change to the sources rebuild in-process and hot swap through the shim's own swap (the one behind
 * `run --watch` and the admin endpoint: in-flight requests finish on the old build). While the
 * last build failed, the function's requests get 500 with the compiler's message.
 */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const json = Boolean(global.json);
  const loop = new DevLoop(path.resolve(String(args[0] ?? ".")), servingOptions(opts), opts.optimize === true, json, createLogger());
  // Watching starts before the first build reads the sources: an edit meanwhile is not missed.
  const watcher = await watchSources(loop.dir, () => loop.changed(), (msg) => loop.log.log("warn", msg));
  const stop = async () => { watcher.close(); await loop.stop(); };
  try {
    await loop.start();
  } catch (e) {
    await stop();
    throw e;
  }
  try {
    await Promise.race([loop.fatal, untilStopped(loop.log, async () => { watcher.close(); await loop.close(); })]);
  } finally {
    await stop();
  }
  return 0;
}

/** The state of one `wasm-fn dev`: what is served, the last build's error, the rebuild queue. */
class DevLoop {
  private failure: WfnError | null = null;
  private served: Built | null = null;
  private serving!: Serving;
  private readonly builder = new BuildWorker();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private ready = false;
  private stopped = false;
  private fail!: (e: unknown) => void;
  /** Rejects when dev cannot go on (the port was taken while the shim restarted). */
  readonly fatal = new Promise<never>((_, reject) => { this.fail = reject; });

  constructor(readonly dir: string, private readonly serve: Omit<ServeOptions, "functions" | "log">, private readonly optimize: boolean, private readonly json: boolean, readonly log: Logger) {
    this.fatal.catch(() => undefined); // raced by the caller; no unhandled rejection before that
  }

  /** The first build and the shim: serving the function, or answering its build error. */
  async start(): Promise<void> {
    const t0 = performance.now();
    try {
      this.served = await this.build((s) => progress(this.json, s));
    } catch (e) {
      // Not a function directory at all (@wasm-fn/build's CONFIG_MISSING): nothing to wait for.
      if (isWfnError(e) && e.code === "WFN_CONFIG_MISSING") throw e;
      this.failure = asWfnError(e);
    }
    this.serving = await this.listen(this.serve.port ?? 8080, this.served !== null);
    const ms = performance.now() - t0;
    announce(this.serving.shim, this.json, { watching: this.dir, build: this.failure ? { ok: false, ms: Math.round(ms), code: this.failure.code, message: this.failure.message } : { ok: true, ms: Math.round(ms) } });
    if (this.failure) this.reportFailure(ms);
    else if (!this.json) process.stderr.write(`watching ${path.relative(process.cwd(), this.dir) || "."} for changes (built in ${seconds(ms)})\n`);
    this.ready = true;
    if (this.again) this.kick();
  }

  /** A source changed: rebuild once the saves have settled. */
  changed(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), DEBOUNCE_MS);
  }

  /** No more builds; one in progress still finishes (its files are written by rename, never left half-written). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.builder.close();
  }

  /** Stops building, then the shim drains. */
  async close(): Promise<void> {
    await this.stop();
    await this.serving?.close();
  }

  /** One build at a time; a change during a build (or during the first) makes one more after it. */
  private kick(): void {
    this.again = false;
    if (this.stopped) return;
    if (this.running || !this.ready) { this.again = true; return; }
    this.running = this.rebuild().finally(() => {
      this.running = null;
      if (this.again) this.kick();
    });
  }

  private async rebuild(): Promise<void> {
    const t = performance.now();
    try {
      const b = await this.build(() => undefined);
      let outcome = "swapped";
      if (this.served && !this.failure && b.key === this.served.key) outcome = "unchanged";
      else if (this.served && b.name === this.served.name && b.namespace === this.served.namespace) await this.serving.shim.reload(b.namespace, b.name);
      else {
        // The first good build after a start without one, or a renamed function (a hot swap keeps
        // the name): a new shim on the same port, after the old one has finished its requests.
        outcome = this.served ? `restarted as ${b.namespace}/${b.name}` : "serving";
        if (!(await this.restart())) return;
      }
      this.served = b;
      this.failure = null;
      const ms = performance.now() - t;
      this.say({ event: "rebuilt", ms: Math.round(ms), outcome }, `rebuilt in ${seconds(ms)}, ${outcome}`);
    } catch (e) {
      this.failure = asWfnError(e);
      this.reportFailure(performance.now() - t);
    }
  }

  /** Replaces the shim by one serving the new build; false when nothing could listen (dev then stops). */
  private async restart(): Promise<boolean> {
    const port = this.serving.shim.address.port;
    await this.serving.close();
    this.failure = null;
    try {
      this.serving = await this.listen(port, true);
    } catch (e) {
      this.fail(e);
      return false;
    }
    if (this.failure) throw this.failure;
    return true;
  }

  private build(step: (s: string) => void): Promise<Built> {
    return this.builder.build({ dir: this.dir, optimize: this.optimize }, step);
  }

  /** A shim on `port` serving the function, or nothing when it cannot be loaded (its error then stands). */
  private async listen(port: number, withFunction: boolean): Promise<Serving> {
    let s: Serving;
    try {
      s = await startServing({ ...this.serve, port, log: this.log, functions: withFunction ? [{ kind: "dir", dir: this.dir }] : [] });
    } catch (e) {
      if (!withFunction || !isWfnError(e) || e.code === "WFN_ADDRESS_IN_USE") throw e;
      this.failure = e;
      this.served = null;
      s = await startServing({ ...this.serve, port, log: this.log, functions: [] });
    }
    s.shim.gateway.use(this.whileFailing(s.shim));
    return s;
  }

  /**
   * While the last build failed, the function's requests (every request, when none is loaded yet)
   * are answered by the gateway's own error path: the error body is the shim's, whatever its shape.
   */
  private whileFailing(shim: RunningShim): Parameters<RunningShim["gateway"]["use"]>[0] {
    return (req, _res, ctx) => {
      const failure = this.failure;
      if (failure === null) return false;
      if (shim.functions.length > 0 && !shim.gateway.router.match(req.headers.host, ctx.path)) return false;
      throw new WfnError(CliErrors.BUILD_FAILED, `the last build of ${this.dir} failed, so this function is not served until a build succeeds (fix it and save: wasm-fn dev rebuilds):\n${failure.code}: ${failure.message}`, { status: 500 });
    };
  }

  private reportFailure(ms: number): void {
    const f = this.failure!;
    this.say({ event: "build-failed", ms: Math.round(ms), error: { code: f.code, message: f.message } },
      `build failed in ${seconds(ms)}: error ${f.code}: ${f.message}\n  (requests get 500 with this message until a build succeeds)`);
  }

  /** One line per event: JSON on stdout with --json, else words on stderr (stdout carries the shim's logs). */
  private say(event: Record<string, unknown>, human: string): void {
    if (this.json) process.stdout.write(JSON.stringify(event) + "\n");
    else process.stderr.write(human + "\n");
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
