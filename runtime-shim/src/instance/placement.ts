/**
 * Where a function's instances run. The main thread is the fast path (no thread hop; a guest
 * without host I/O runs synchronously inside the request). A function that shows it can hog the
 * thread (an invocation ran past the main-thread slice, or timed out there) moves to worker
 * threads for good, so other functions keep answering while it spins. See docs/runtime.md.
 */
import type { Logger } from "../logger.js";
import type { FreshStrategy } from "./fresh.js";
import { Instance, type HostCalls, type Runner } from "./instance.js";
import { keepSpareProcess, WorkerGroup } from "./worker/remote.js";

/**
 * The niceness of worker threads that run a function moved off the main thread as a suspected
 * runaway: with more busy threads than cores, the main thread (the gateway and every well-behaved
 * function) is scheduled first (~10:1 under Linux CFS), while the moved function still progresses
 * on a machine other processes keep busy (nice 19, ~70:1, starved it under stress-ng).
 */
export const RUNAWAY_NICE = 10;

/**
 * The bytes each compiled module came from (function.ts records them): a child process cannot be
 * handed a WebAssembly.Module, only its bytes.
 */
export const moduleBytes = new WeakMap<WebAssembly.Module, Uint8Array>();

/**
 * A function that holds the main thread in many long runs, each under the slice (one that allocates
 * its whole memory in every request: ~45 ms each), moves to workers too: runs of LONG_RUN_MS or more
 * are summed with a one-second decay, and past HOG_MS (a tenth of the thread) the function moves.
 * Short runs never count: a hello answers in microseconds, however many a second.
 */
export const LONG_RUN_MS = 1;
export const HOG_MS = 100;

/**
 * - adaptive (default): main thread, moved to workers on the first sign of a runaway;
 * - never: always the main thread (fuel stops a runaway at its deadline, blocking the loop until then);
 * - always: always worker threads (every invocation pays the thread hop).
 */
export type OffloadPolicy = "adaptive" | "never" | "always";

export interface PlacementOptions {
  module: WebAssembly.Module;
  host: HostCalls;
  log: Logger;
  source: string;
  functionName: string;
  timeoutMs: number;
  maxMemoryPages: number;
  maxResponseBytes: number;
  policy: OffloadPolicy;
  /** Suspected runaways in child processes (SCHED_IDLE), the default, instead of worker threads (`--runaways threads`). */
  runawayProcesses?: boolean;
  /** Main-thread slice (ms) an invocation may run without yielding, under `adaptive`. */
  sliceMs: number;
  /** Worker threads for the function once offloaded. */
  threads: number;
  /** False for a module without fuel checks: only terminating a worker can stop it, so it starts there. */
  instrumented: boolean;
  fresh: FreshStrategy | null;
  /** Told when a worker process of the function, starved in SCHED_IDLE, is raised to pick up a job. */
  onRaise?: () => void;
}

export class Placement {
  mode: "main" | "workers";
  /** Why the function runs on workers (policy, slice, timeout, uninstrumented). */
  reason = "";
  private group: WorkerGroup | null = null;
  /** Main-thread ms of this function's long runs, decayed with a 1 s time constant, as of `hogAt`. */
  private hog = 0;
  private hogAt = 0;

  constructor(private readonly opts: PlacementOptions) {
    this.mode = "main";
    // A function that may move to a child process finds one already started (a fork costs ~100-300 ms).
    if (opts.runawayProcesses && opts.policy === "adaptive") keepSpareProcess();
    if (opts.policy === "always") this.toWorkers("policy");
    else if (!opts.instrumented) this.toWorkers("uninstrumented");
  }

  /** A new pool member on the current side. */
  create(): Runner {
    if (this.group) return this.group.slot();
    const o = this.opts;
    const inst = new Instance(o.module, o.host, {
      timeoutMs: o.timeoutMs,
      maxMemoryPages: o.maxMemoryPages,
      sliceMs: o.policy === "adaptive" ? o.sliceMs : Infinity,
      snapshot: o.fresh?.kind === "reset" && o.fresh.plan ? o.fresh.plan : undefined,
    }, o.functionName);
    inst.init();
    return inst;
  }

  /**
   * Counts one invocation's main-thread time (Instance.ranMs) under `adaptive`; returns why the
   * function should move to workers when its long runs add up past HOG_MS a second, else null.
   */
  charge(ms: number): string | null {
    if (ms < LONG_RUN_MS || this.group || this.opts.policy !== "adaptive") return null;
    const now = performance.now();
    this.hog = this.hog * Math.exp(-(now - this.hogAt) / 1000) + ms;
    this.hogAt = now;
    return this.hog > HOG_MS ? `its invocations held the main thread for ${Math.round(this.hog)} ms in about the last second (runs of ${LONG_RUN_MS} ms or more count; ${HOG_MS} ms moves a function)` : null;
  }

  /** Moves the function to worker threads; false when it is already there or the policy forbids it. */
  offload(reason: string): boolean {
    if (this.group || this.opts.policy === "never") return false;
    this.toWorkers(reason);
    this.opts.log.log("warn", `${this.opts.functionName} moved to worker threads: ${reason}`, { fn: this.opts.functionName, reason });
    return true;
  }

  stats(): { mode: "main" | "workers"; reason: string; threads: number } {
    return { mode: this.mode, reason: this.reason, threads: this.group?.stats().threads ?? 0 };
  }

  close(): void {
    this.group?.close();
  }

  private toWorkers(reason: string): void {
    const o = this.opts;
    this.mode = "workers";
    this.reason = reason;
    // A suspected runaway goes to child processes (unless `--runaways threads`); `--offload always`
    // keeps threads, whose hop is cheaper.
    const bytes = moduleBytes.get(o.module);
    const processes = o.runawayProcesses === true && reason !== "policy" && bytes !== undefined;
    this.group = new WorkerGroup({
      processes,
      init: {
        module: o.module,
        ...(processes ? { bytes } : {}),
        source: o.functionName,
        functionName: o.functionName,
        timeoutMs: o.timeoutMs,
        maxMemoryPages: o.maxMemoryPages,
        maxResponseBytes: o.maxResponseBytes,
        fresh: o.fresh ? { plan: o.fresh.kind === "reset" ? o.fresh.plan : null } : null,
        // Moved here as a suspected runaway (not by --offload always): below the main thread.
        nice: reason === "policy" ? 0 : RUNAWAY_NICE,
      },
      host: o.host,
      log: o.log,
      threads: o.threads,
      graceMs: o.instrumented ? Math.min(2000, Math.max(250, o.timeoutMs / 4)) : 0,
      onRaise: o.onRaise,
    });
    this.group.warm();
  }
}
