import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { availableParallelism } from "node:os";
import { assertWasmBytes, checkAbiVersion, isComponentBytes, validateModule, WfnError } from "@wasm-fn/abi";
import { loadConfig, normalizeConfig, type FunctionConfig } from "@wasm-fn/build/config";
import { ShimErrors } from "./errors.js";
import { chooseFresh, type FreshStrategy } from "./instance/fresh.js";
import { DEFAULT_LOG_LIMITS, FunctionLogBudget } from "./instance/guest-log.js";
import { Instance, Offload, type HostCalls, type Runner } from "./instance/instance.js";
import { DEFAULT_HOST_CALL_PACE, Invocation, type InvocationInput, type InvocationResult } from "./instance/invocation.js";
import { capMemory } from "@wasm-fn/abi";
import { moduleBytes, Placement, type OffloadPolicy, type Verdict } from "./instance/placement.js";
import { LostBeforeStart } from "./instance/worker/remote.js";
import { ComponentPlacement } from "./instance/component/runner.js";
import { compileComponent, type CompiledComponent } from "./instance/component/transpile.js";
import { DAPR_PORT } from "./instance/component/dapr-api.js";
import { exportMutableGlobals, snapshotPlan } from "./instance/snapshot.js";
import { Pool, type PoolStats } from "./pool/pool.js";
import { atTurnEnd } from "./pool/turn.js";
import type { Logger } from "./logger.js";

/** Where a function comes from: a built directory, a .wasm file (with its metadata JSON if present), or bytes pulled from a registry. */
export type FunctionSource =
  | { kind: "dir"; dir: string }
  | { kind: "file"; file: string }
  | { kind: "bytes"; wasm: Uint8Array; config: FunctionConfig; origin: string };

export interface LoadedCode {
  config: FunctionConfig;
  wasm: Uint8Array;
  origin: string;
  wasmPath?: string;
}

/** Reads a function's config and module bytes. Bad input gets a WfnError that says what to do. */
export async function readFunction(src: FunctionSource): Promise<LoadedCode> {
  if (src.kind === "bytes") return { config: src.config, wasm: src.wasm, origin: src.origin };
  if (src.kind === "dir") {
    const config = await loadConfig(src.dir);
    const wasmPath = path.join(src.dir, "dist", `${config.name}.wasm`);
    const wasm = await readFile(wasmPath).catch(() => {
      throw new WfnError(ShimErrors.LOAD, `${wasmPath} does not exist: build the function first with \`wasm-fn build ${src.dir}\``);
    });
    return { config, wasm, origin: wasmPath, wasmPath };
  }
  const wasm = await readFile(src.file).catch(() => {
    throw new WfnError(ShimErrors.LOAD, `cannot read ${src.file}: pass a function directory, a .wasm file or an OCI reference`);
  });
  const metaPath = src.file.replace(/\.wasm$/, ".json");
  let config: FunctionConfig;
  const meta = await stat(metaPath).then(() => readFile(metaPath, "utf8"), () => null);
  if (meta !== null) {
    try {
      config = normalizeConfig((JSON.parse(meta) as { config: unknown }).config, metaPath);
    } catch (e) {
      if (e instanceof WfnError) throw e;
      throw new WfnError(ShimErrors.LOAD, `${metaPath} is not valid JSON metadata (${(e as Error).message}); rebuild with \`wasm-fn build\``);
    }
  } else {
    const name = path.basename(src.file).replace(/\.wasm$/, "").toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "") || "fn";
    config = normalizeConfig({ name });
  }
  return { config, wasm, origin: src.file, wasmPath: src.file };
}

/**
 * Compiles and checks a module: Wasm magic, ABI imports/exports, memory cap, ABI version (by a first
 * instance). `keepBytes`: remember the bytes for child processes (`--runaways processes`, the default), which
 * cannot be handed a compiled module.
 */
export async function compileFunction(code: LoadedCode, host: HostCalls, opts: { keepBytes?: boolean } = {}): Promise<FunctionCode> {
  // A component (wasi:http/proxy) is transpiled with jco and runs on worker threads (instance/component/).
  if (isComponentBytes(code.wasm)) return compileComponent(code.wasm, code.origin, code.config.limits.memoryPages);
  assertWasmBytes(code.wasm, code.origin);
  // Fuel checks are trusted only in bytes this machine's toolchain instrumented (a module may import
  // wfn.interrupt and never call it): any other module gets them added here, once, cached by hash.
  // Memory forms the cap cannot hold are refused before anything else reads the module.
  capMemory(code.wasm, code.config.limits.memoryPages, code.origin);
  const { ensureInstrumented } = await import("@wasm-fn/build/instrumented");
  let bytes: Uint8Array;
  try {
    bytes = (await ensureInstrumented(code.wasm)).bytes;
  } catch (e) {
    throw new WfnError("WFN_NOT_WASM", `${code.origin} is not a valid WebAssembly module: ${(e as Error).message}`, { status: 400 });
  }
  const capped = capMemory(bytes, code.config.limits.memoryPages, code.origin);
  // Fresh isolation may reset instances: export the mutable globals so a reset can restore them (snapshot.ts).
  const forFresh = code.config.isolation === "fresh" ? exportMutableGlobals(capped) : null;
  let mod: WebAssembly.Module;
  try {
    mod = await WebAssembly.compile((forFresh?.bytes ?? capped) as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new WfnError("WFN_NOT_WASM", `${code.origin} is not a valid WebAssembly module: ${(e as Error).message}`, { status: 400 });
  }
  if (opts.keepBytes) moduleBytes.set(mod, forFresh?.bytes ?? capped);
  validateModule(mod, code.origin);
  const probe = new Instance(mod, host, { timeoutMs: code.config.limits.timeoutMs, maxMemoryPages: code.config.limits.memoryPages }, code.origin);
  checkAbiVersion(startProbe(probe), code.origin);
  return mod;
}

/**
 * The environment a component sees (wasi:cli/environment): the function's name and namespace and
 * Dapr's HTTP port as a sidecar would set it; never the shim's own environment.
 */
export function componentEnv(config: FunctionConfig): [string, string][] {
  return [["WASM_FN_FUNCTION", config.name], ["WASM_FN_NAMESPACE", config.namespace], ["DAPR_HTTP_PORT", String(DAPR_PORT)]];
}

/** The first instance's start-up, at load: a module that traps, exits or hangs there is bad input (4xx at upload). */
function startProbe(probe: Instance): number {
  try {
    return probe.init();
  } catch (e) {
    if (!(e instanceof WfnError) || e.status < 500) throw e;
    throw new WfnError(e.code, `${e.message}; it failed while starting, so it was not loaded`, { status: 400, cause: e });
  }
}

/** What a function runs: a core module (the wasm-fn ABI) or a component (wasi:http/proxy). */
export type FunctionCode = WebAssembly.Module | CompiledComponent;

/** How a shim runs its functions' instances (see docs/runtime.md). */
export interface RunOptions {
  /** Where instances run: adaptive (default), never (main thread only), always (worker threads). A function's `isolation: worker` overrides it. */
  offload?: OffloadPolicy;
  /**
   * Where a function moved off the main thread as a suspected runaway runs: child processes in
   * Linux's SCHED_IDLE class (default), or worker threads at nice 10 (docs/runtime.md, "Placement").
   */
  runaways?: "threads" | "processes";
  /** Main-thread slice under `adaptive`, in ms (default 50). */
  sliceMs?: number;
  /** Worker threads per offloaded function (default: cores - 1, at least 1). */
  threads?: number;
  /** Told about invocations and instance lifecycle (metrics). */
  observer?: FunctionObserver;
}

/** What the metrics (or any other observer) learn from a function. Called on the request path: keep it cheap. */
export interface FunctionObserver {
  invoked(fn: ServedFunction, seconds: number, error: WfnError | null): void;
  created(fn: ServedFunction, seconds: number, cold: boolean): void;
  offloaded(fn: ServedFunction, reason: string): void;
  swapped(fn: ServedFunction): void;
}

/** One version of a function: config, compiled module, where its instances run, and their pool. */
interface Version {
  config: FunctionConfig;
  host: HostCalls;
  module: FunctionCode;
  origin: string;
  placement: Placement | ComponentPlacement;
  pool: Pool<Runner>;
  fresh: FreshStrategy | null;
  loadedAt: number;
}

const DEFAULT_SLICE_MS = 50;
/** Answers released once per event-loop turn (pool/turn.ts); WFN_BATCH_ANSWERS=0 turns it off, for measuring. */
const BATCH_ANSWERS = process.env.WFN_BATCH_ANSWERS !== "0";

/**
 * A function being served: its compiled module (compiled once per process) and its instance pool.
 * `invoke` is the pool -> instance step of the request's straight line. `swap` replaces the code
 * in place (hot swap): new invocations get the new version, the old one drains.
 */
export class ServedFunction {
  private v: Version;
  private readonly draining = new Set<Version>();
  /** Invocations run again after their worker was lost before they started (once each). */
  private readonly rerun = new WeakSet<InvocationInput>();
  private readonly observer: FunctionObserver | undefined;
  /** The guest log budget its invocations share (limits.log), kept across hot swaps like its metrics. */
  readonly logs: FunctionLogBudget;
  /** Its invocations (all versions), beside Placement.served: whether others were served between its long runs. */
  private invocations = 0;
  /** Times a worker process of it, starved in SCHED_IDLE, was raised to pick up a job (all versions). */
  private raised = 0;

  constructor(
    config: FunctionConfig,
    module: FunctionCode,
    host: HostCalls,
    private readonly log: Logger,
    origin: string,
    private readonly opts: RunOptions = {},
  ) {
    this.observer = opts.observer;
    this.logs = new FunctionLogBudget(config.limits.log ?? { ...DEFAULT_LOG_LIMITS }, log, config.name);
    this.v = this.makeVersion(config, module, origin, host);
    this.v.pool.prewarm();
  }

  get config(): FunctionConfig { return this.v.config; }
  get module(): FunctionCode { return this.v.module; }
  get origin(): string { return this.v.origin; }
  get pool(): Pool<Runner> { return this.v.pool; }
  get name(): string { return this.v.config.name; }
  get namespace(): string { return this.v.config.namespace; }

  /** Runs one invocation. A guest that makes no host I/O completes synchronously inside (one resolved promise out). */
  invoke(input: InvocationInput): Promise<InvocationResult> {
    const v = this.v;
    const t0 = performance.now();
    this.invocations++;
    Placement.served++;
    let r: InvocationResult | Promise<InvocationResult>;
    try {
      r = this.run(v, input, v.config.limits.timeoutMs, t0);
    } catch (e) {
      return Promise.reject(this.observed(t0, e));
    }
    if (r instanceof Promise) return r.then((ok) => { this.observed(t0, null); return ok; }, (e: unknown) => { throw this.observed(t0, e); });
    this.observed(t0, null);
    return BATCH_ANSWERS ? atTurnEnd(r) : Promise.resolve(r);
  }

  private observed(t0: number, e: unknown): unknown {
    if (this.observer) this.observer.invoked(this, (performance.now() - t0) / 1000, e === null ? null : e instanceof WfnError ? e : new WfnError("WFN_INTERNAL", String(e)));
    return e;
  }

  /**
   * Serves a new build: new invocations go to it at once; invocations in flight or queued on the
   * old version finish there, then its instances are dropped. Resolves when the old one has drained.
   */
  swap(config: FunctionConfig, module: FunctionCode, origin: string, host: HostCalls = this.v.host): Promise<void> {
    if (config.name !== this.name || config.namespace !== this.namespace) {
      throw new WfnError("WFN_SWAP_RENAME", `a hot swap cannot rename ${this.namespace}/${this.name} to ${config.namespace}/${config.name}; restart the shim instead`, { status: 400 });
    }
    const old = this.v;
    this.logs.limits = config.limits.log ?? { ...DEFAULT_LOG_LIMITS };
    this.v = this.makeVersion(config, module, origin, host);
    this.v.pool.prewarm();
    this.observer?.swapped(this);
    return this.retire(old);
  }

  private async retire(old: Version): Promise<void> {
    this.draining.add(old);
    await old.pool.drain();
    old.pool.close();
    old.placement.close();
    this.draining.delete(old);
  }

  /** Pool counts, summed over the current version and any still draining. */
  stats(): PoolStats & { placement: string; verdict: Verdict; fresh: FreshStrategy | null; draining: number; loadedAt: number; raised: number } {
    const all = [this.v, ...this.draining].map((v) => v.pool.stats());
    const sum = (k: keyof PoolStats) => all.reduce((n, s) => n + s[k], 0);
    return {
      live: sum("live"), idle: sum("idle"), busy: sum("busy"), queued: sum("queued"), created: sum("created"), coldStarts: sum("coldStarts"),
      placement: this.v.placement.mode, verdict: this.v.placement instanceof Placement ? this.v.placement.verdict : "chosen", fresh: this.v.fresh, draining: this.draining.size, loadedAt: this.v.loadedAt,
      raised: this.raised,
    };
  }

  close(): void {
    for (const v of [this.v, ...this.draining]) { v.pool.close(); v.placement.close(); }
  }

  private makeVersion(config: FunctionConfig, module: FunctionCode, origin: string, host: HostCalls): Version {
    if (!(module instanceof WebAssembly.Module)) return this.makeComponentVersion(config, module, origin, host);
    const limits = { timeoutMs: config.limits.timeoutMs, maxMemoryPages: config.limits.memoryPages };
    const fresh = config.isolation === "fresh" ? chooseFresh(module, snapshotPlan(module), host, limits, config.name) : null;
    if (fresh) this.log.log("debug", "fresh isolation strategy", { fn: config.name, kind: fresh.kind, newUs: fresh.newUs, resetUs: fresh.resetUs });
    const placement = new Placement({
      module, host, log: this.log, source: origin, functionName: config.name,
      timeoutMs: config.limits.timeoutMs, maxMemoryPages: config.limits.memoryPages, maxResponseBytes: config.limits.responseBytes,
      // The function's own config wins over the shim's policy: it asked for workers, and pays only the hop.
      policy: config.isolation === "worker" ? "always" : this.opts.offload ?? "adaptive",
      chosenReason: config.isolation === "worker" ? "isolation: worker" : undefined,
      runawayProcesses: this.opts.runaways !== "threads",
      sliceMs: this.opts.sliceMs ?? DEFAULT_SLICE_MS,
      threads: this.opts.threads ?? Math.max(1, availableParallelism() - 1),
      instrumented: validateModule(module, origin).instrumented,
      fresh,
      onRaise: () => { this.raised++; },
    });
    const pool = this.makePool(config, () => placement.create(), fresh);
    return { config, host, module, origin, placement, pool, fresh, loadedAt: Date.now() };
  }

  /** A component's version: one worker thread per instance, no fresh isolation by reset (docs/runtime.md, "Components"). */
  private makeComponentVersion(config: FunctionConfig, component: CompiledComponent, origin: string, host: HostCalls): Version {
    const placement = new ComponentPlacement({
      component, host, log: this.log, functionName: config.name,
      timeoutMs: config.limits.timeoutMs, maxResponseBytes: config.limits.responseBytes,
      maxMemoryBytes: config.limits.memoryPages * 65536,
      env: componentEnv(config),
      // One instance per thread; beyond the cores more threads only help requests that wait on I/O.
      workers: Math.max(2, this.opts.threads ?? availableParallelism()),
    });
    const pool = this.makePool(config, () => placement.create(), null);
    return { config, host, module: component, origin, placement, pool, fresh: null, loadedAt: Date.now() };
  }

  private makePool(config: FunctionConfig, create: () => Runner, fresh: FreshStrategy | null): Pool<Runner> {
    const pool: Pool<Runner> = new Pool<Runner>({
      create,
      minReplicas: config.scaleOptions.minReplicas,
      maxReplicas: config.scaleOptions.maxReplicas,
      maxQueue: config.scaleOptions.maxQueue,
      idleTimeoutMs: config.scaleOptions.idleTimeoutMs,
      queueTimeoutMs: config.limits.timeoutMs,
      // fresh: reset in place, or drop (and replace off the request path) when the module is re-instantiated per request.
      recycle: fresh ? (r) => r.reset?.() ?? false : undefined,
      replaceDropped: fresh !== null,
      dispose: (r) => r.dispose?.(),
      onCreate: (ms, cold) => {
        this.observer?.created(this, ms / 1000, cold);
        // One line per transition, so scaling from and to zero can be watched in the log.
        if (cold && pool.stats().live === 1) this.log.log("info", `${config.name} scaled up from zero (instance ready in ${ms.toFixed(2)} ms)`, { fn: config.name, ms });
      },
      onReap: (dropped, live) => {
        if (live === 0) this.log.log("info", `${config.name} scaled to zero after ${config.scaleOptions.idleTimeoutMs} ms idle`, { fn: config.name, dropped });
      },
      prewarm: false, // by the caller, once this version is current (the observer reads it)
    });
    return pool;
  }

  /** `t0`: when the invocation arrived; a replay on a worker gets what is left of the budget since then. */
  private run(v: Version, input: InvocationInput, budgetMs: number, t0: number): InvocationResult | Promise<InvocationResult> {
    const a = v.pool.acquire();
    if (a instanceof Promise) return a.then((r) => this.runOn(v, r, input, budgetMs, t0));
    return this.runOn(v, a, input, budgetMs, t0);
  }

  private runOn(v: Version, r: Runner, input: InvocationInput, budgetMs: number, t0: number): InvocationResult | Promise<InvocationResult> {
    const inv = new Invocation(input, v.config.name, this.log, v.config.limits.responseBytes);
    inv.logBudget = this.logs;
    inv.pace = v.config.limits.hostCalls ?? DEFAULT_HOST_CALL_PACE;
    let out: InvocationResult | Promise<InvocationResult>;
    try {
      out = r.invoke(inv, budgetMs);
    } catch (e) {
      v.pool.release(r);
      return this.failed(v, r, e, input, budgetMs - (performance.now() - t0), t0);
    }
    if (out instanceof Promise) {
      return out.then(
        (ok) => { this.done(v, r, t0); return ok; },
        (e: unknown) => { v.pool.release(r); return this.failed(v, r, e, input, budgetMs - (performance.now() - t0), t0); },
      );
    }
    this.done(v, r, t0);
    return out;
  }

  private done(v: Version, r: Runner, t0: number): void {
    v.pool.release(r);
    this.ended(v, t0);
    if (!(r instanceof Instance)) return;
    // It answered within its deadline after holding the main thread past its slice (it had made a
    // host call, so it could not be replayed): heavy, not a runaway.
    if (r.overran) this.heavy(v, r.ranMs);
    this.charge(v, r, false);
  }

  /** Counts a main-thread run toward the hog rule (placement.ts) and moves the function when its long runs add up. */
  private charge(v: Version, r: Instance, failed: boolean): void {
    const hog = v.placement instanceof Placement ? v.placement.charge(r.ranMs, failed, this.invocations) : null;
    if (hog) this.move(v, hog.reason, hog.below);
  }

  /** An invocation that passed its slice ended within its deadline: the function stays on (or comes back to) the main thread. */
  private heavy(v: Version, ms: number): void {
    if (v.placement instanceof Placement && v.placement.heavy(ms)) v.pool.renew();
  }

  /** Moves the function to workers for good: a runaway (past its deadline), or long runs that added up (below: not only heavy). */
  private move(v: Version, reason: string, below = true): void {
    if (!(v.placement instanceof Placement)) return;
    const wasMain = v.placement.mode === "main";
    if (!v.placement.move(reason, below)) return;
    if (wasMain) v.pool.renew();
    this.observer?.offloaded(this, reason);
  }

  /**
   * While the function is a suspect (on workers since an invocation passed its main-thread slice),
   * an invocation that ended within its deadline after a slice or more since it arrived (the replay
   * itself, first) shows it is heavy: it comes back. Past its deadline, failed() moves it for good.
   */
  private ended(v: Version, t0: number): void {
    if (v.placement instanceof Placement && v.placement.verdict === "suspect" && v.placement.cleared(performance.now() - t0)) v.pool.renew();
  }

  /** A runaway moves the function to workers for good; a suspect (past its slice, no host call yet) is replayed there. */
  private failed(v: Version, r: Runner, e: unknown, input: InvocationInput, leftMs: number, t0: number): Promise<InvocationResult> | InvocationResult {
    // Its worker was lost before the guest started (a child killed, or dying as it was handed the
    // job): nothing ran, so it runs once more on another worker.
    if (e instanceof LostBeforeStart && !this.rerun.has(input) && leftMs > 0) {
      this.rerun.add(input);
      return this.run(v, input, leftMs, t0);
    }
    if (e instanceof Offload) {
      if (v.placement instanceof Placement && v.placement.suspect()) v.pool.renew();
      if (v.placement.mode === "workers") return this.run(v, input, Math.max(1, leftMs), t0);
      throw new WfnError(ShimErrors.TIMEOUT, e.message, { status: 504 });
    }
    if (e instanceof WfnError && e.code === ShimErrors.TIMEOUT) {
      // Past its deadline, on whichever side: a runaway.
      this.move(v, `an invocation ran past its ${v.config.limits.timeoutMs} ms deadline (limits.timeout) and was stopped: a runaway`);
    } else if (r instanceof Instance) {
      // A trap or a memory-limit failure after a long run: such runs add up (placement.ts, HOG_MS).
      this.charge(v, r, true);
    } else if (!(e instanceof WfnError && e.status === 503)) {
      // The guest ended (a trap, the memory limit) within its deadline; a 503 (not started, worker
      // lost) tells nothing, and the function stays a suspect.
      this.ended(v, t0);
    }
    throw e;
  }
}
