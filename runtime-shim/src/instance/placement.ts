/**
 * Where a function's instances run. The main thread is the fast path (no thread hop; a guest
 * without host I/O runs synchronously inside the request). Heavy is told from runaway by the
 * deadline: an invocation that passes the main-thread slice before any host call is replayed on
 * workers (so other functions keep answering while it runs); if it ends within its deadline the
 * function is heavy and comes back to the main thread for good, with no slice; if it runs past its
 * deadline it is a runaway, stopped (504), and the function stays on workers. `isolation: worker`
 * (or `--offload always`) puts a function on worker threads from the start. See docs/runtime.md,
 * "Heavy, runaway, or `isolation: worker`".
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
 * Long runs on the main thread add up: runs of LONG_RUN_MS or more are summed with a one-second
 * decay, and past HOG_MS (a tenth of the thread) the function moves. Failed runs (trap, memory
 * limit: a memory bomb, ~45 ms a run, each a 500) always count, and move the function below the
 * main thread. Runs that answer count only while other functions are being served: heavy work
 * alone on a shim stays on the main thread however long it takes, but neighbours must not wait
 * behind it (hello's median 0.43 -> 208 ms while one client posted 500 KB word counts back to back
 * to a counter held there, test/bench/heavy.js), so it then moves to worker threads at normal priority, as `isolation:
 * worker` would have put it (issue 13; docs/runtime.md, "Heavy, runaway, or `isolation: worker`").
 */
export const LONG_RUN_MS = 1;
export const HOG_MS = 100;

/**
 * - adaptive (default): main thread; a suspect (an invocation past the main-thread slice before any
 *   host call) is replayed on workers; past its deadline there it is a runaway and stays, else the
 *   function comes back, cleared as heavy;
 * - never: always the main thread (fuel stops a runaway at its deadline, blocking the loop until then);
 * - always: always worker threads (every invocation pays the thread hop). `isolation: worker` asks
 *   for this per function.
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
  /** Why the function is on workers under `always` (default "policy"; "isolation: worker" when its config asks). */
  chosenReason?: string;
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

/** Where a function stands and why (see Placement.verdict). */
export type Verdict = "none" | "suspect" | "heavy" | "moved" | "shared" | "chosen";

export class Placement {
  mode: "main" | "workers";
  /** Why the function runs on workers (policy, isolation: worker, suspect, runaway, uninstrumented, failures). */
  reason = "";
  /**
   * none: on the main thread, with the slice; suspect: on workers until an invocation that passed its
   * slice ends (past its deadline: runaway; else back, heavy); heavy: on the main thread, no slice
   * (its long runs are work, not a hang); moved: on workers for good, below the main thread (a
   * runaway, or failed runs that added up); shared: on worker threads at normal priority (heavy runs
   * added up while other functions were served); chosen: workers from the start (config, policy, or
   * a module without fuel checks).
   */
  verdict: Verdict = "none";
  private group: WorkerGroup | null = null;
  /** Main-thread ms of this function's long runs that count (charge), decayed with a 1 s time constant, as of `hogAt`. */
  private hog = 0;
  private hogAt = 0;
  /** Placement.served and this function's own invocations as of its last long run: who else was served since. */
  private servedAt = 0;
  private mineAt = 0;
  /** Invocations of every function in this process (function.ts counts them): a neighbour served means one may wait. */
  static served = 0;

  constructor(private readonly opts: PlacementOptions) {
    this.mode = "main";
    // A function that may move to a child process finds one already started (a fork costs ~100-300 ms).
    if (opts.runawayProcesses && opts.policy === "adaptive") keepSpareProcess();
    if (opts.policy === "always") this.toWorkers(opts.chosenReason ?? "policy", true);
    else if (!opts.instrumented) this.toWorkers("uninstrumented", false);
    if (this.group) this.verdict = "chosen";
  }

  /** A new pool member on the current side. */
  create(): Runner {
    if (this.group) return this.group.slot();
    const o = this.opts;
    const inst = new Instance(o.module, o.host, {
      timeoutMs: o.timeoutMs,
      maxMemoryPages: o.maxMemoryPages,
      // A function cleared as heavy runs to its deadline here: its long runs are not suspect any more.
      sliceMs: o.policy === "adaptive" && this.verdict !== "heavy" ? o.sliceMs : Infinity,
      snapshot: o.fresh?.kind === "reset" && o.fresh.plan ? o.fresh.plan : undefined,
    }, o.functionName);
    inst.init();
    return inst;
  }

  /**
   * Counts one invocation's main-thread time (Instance.ranMs) under `adaptive`: a failed run always,
   * one that answered only if other functions were served since this one's last long run (`mine`:
   * this function's invocations so far). Returns why the function should move when they add up
   * past HOG_MS a second, and whether below the main thread (failures) or beside it (heavy), else null.
   */
  charge(ms: number, failed: boolean, mine: number): { reason: string; below: boolean } | null {
    if (ms < LONG_RUN_MS || this.group || this.opts.policy !== "adaptive") return null;
    const others = Placement.served - this.servedAt - (mine - this.mineAt);
    this.servedAt = Placement.served;
    this.mineAt = mine;
    if (!failed && others <= 0) return null;
    const now = performance.now();
    this.hog = this.hog * Math.exp(-(now - this.hogAt) / 1000) + ms;
    this.hogAt = now;
    if (this.hog <= HOG_MS) return null;
    const held = `held the main thread for ${Math.round(this.hog)} ms in about the last second (runs of ${LONG_RUN_MS} ms or more count; ${HOG_MS} ms moves a function)`;
    return failed
      ? { reason: `its failed invocations (traps, memory limit) ${held}`, below: true }
      : { reason: `heavy, not a runaway: its invocations ${held} while other functions were served; moved to worker threads at normal priority so they do not wait (isolation: worker starts it there)`, below: false };
  }

  /**
   * An invocation passed its main-thread slice before any host call: heavy or runaway, it cannot
   * tell yet. The function goes to workers (below the main thread) so the caller can replay it
   * there, and stays until an invocation ends within its deadline after a slice or more (cleared)
   * or runs past it (move); false when it cannot (already there, or `never`).
   */
  suspect(): boolean {
    if (this.group || this.opts.policy !== "adaptive") return false;
    this.verdict = "suspect";
    this.toWorkers(`an invocation ran past its ${this.opts.sliceMs} ms main-thread slice: replayed on workers until it ends within its deadline (heavy) or past it (runaway)`, false);
    this.opts.log.log("info", `${this.opts.functionName} ran past its main-thread slice; replaying it on workers to tell heavy from runaway`, { fn: this.opts.functionName });
    return true;
  }

  /**
   * An invocation that passed its slice ended within its deadline: the function is heavy, not a
   * runaway. A suspect comes back to the main thread; either way its slice is lifted. True when
   * the pool must renew its members (they were made on the other side or with the slice).
   */
  heavy(ms: number): boolean {
    if (this.opts.policy !== "adaptive" || (this.verdict !== "none" && this.verdict !== "suspect")) return false;
    if (this.verdict === "suspect") this.toMain();
    this.verdict = "heavy";
    this.opts.log.log("info", `${this.opts.functionName} is heavy, not a runaway: an invocation past its main-thread slice answered in ${Math.round(ms)} ms, within its ${this.opts.timeoutMs} ms timeout; it stays on the main thread (set isolation: worker to keep it off)`, { fn: this.opts.functionName, ms });
    return true;
  }

  /**
   * While a suspect: an invocation that ended within its deadline `ms` after it arrived, a slice or
   * more, clears it (heavy); a quicker one tells nothing (a function may have fast and slow paths).
   * True when the pool must renew its members.
   */
  cleared(ms: number): boolean {
    return this.verdict === "suspect" && ms >= this.opts.sliceMs && this.heavy(ms);
  }

  /**
   * An invocation ran past its deadline, or long runs added up (charge): the function moves to
   * workers for good (a suspect stays there), below the main thread unless it is only heavy.
   * False when nothing changed (already moved, or `never`).
   */
  move(reason: string, below = true): boolean {
    if (this.opts.policy === "never" || this.verdict === "moved" || this.verdict === "shared" || this.verdict === "chosen") return false;
    if (!this.group) this.toWorkers(reason, !below);
    this.verdict = below ? "moved" : "shared";
    this.reason = reason;
    this.opts.log.log(below ? "warn" : "info", `${this.opts.functionName} moved to worker threads: ${reason}`, { fn: this.opts.functionName, reason });
    return true;
  }

  stats(): { mode: "main" | "workers"; reason: string; verdict: Verdict; threads: number } {
    return { mode: this.mode, reason: this.reason, verdict: this.verdict, threads: this.group?.stats().threads ?? 0 };
  }

  close(): void {
    this.group?.close();
  }

  /** Back from workers: new members are made here; the workers stop once the invocations they hold have ended. */
  private toMain(): void {
    const g = this.group!;
    this.group = null;
    this.mode = "main";
    this.reason = "";
    const idle = (): boolean => {
      if (g.stats().jobs > 0) return false;
      g.close();
      return true;
    };
    if (idle()) return;
    const t = setInterval(() => { if (idle()) clearInterval(t); }, 50);
    t.unref();
  }

  /** `chosen`: by config, policy or heaviness (normal priority, threads); else a suspect or runaway (below the main thread). */
  private toWorkers(reason: string, chosen: boolean): void {
    const o = this.opts;
    this.mode = "workers";
    this.reason = reason;
    // A suspect goes to child processes (unless `--runaways threads`); chosen and heavy functions go
    // to threads, whose hop is cheaper.
    const bytes = moduleBytes.get(o.module);
    const processes = o.runawayProcesses === true && !chosen && bytes !== undefined;
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
        // A suspect or runaway runs below the main thread; workers chosen by config keep its priority.
        nice: chosen ? 0 : RUNAWAY_NICE,
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
