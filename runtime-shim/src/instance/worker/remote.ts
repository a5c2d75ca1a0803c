/**
 * The main-thread side of running a function's instances on worker threads (entry.ts is the
 * other side). A worker holds any number of instances ("slots"); the pool sees each slot as one
 * member, so maxReplicas, the queue, idle reaping and `fresh` isolation work as on the main thread.
 *
 * Costs: one postMessage each way per invocation (plus one round trip per host call) and ~40 ms to
 * start a worker. Gains: a runaway blocks only its worker; past its deadline plus a grace the
 * worker is terminated, which stops even a module built without fuel checks.
 */
import { execFile, fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance as perf } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ErrorCode, WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { withCallSignal } from "../host-call.js";
import { CapabilityError, type HostCalls, type Runner } from "../instance.js";
import type { Invocation, InvocationResult } from "../invocation.js";
import type { FromWorker, ToWorker, WorkerInit } from "./protocol.js";

export interface WorkerGroupOptions {
  init: WorkerInit;
  host: HostCalls;
  log: Logger;
  /** Worker threads for this function (each runs many instances, one at a time while it computes). */
  threads: number;
  /** How long past an invocation's budget before its worker is terminated (0 for modules without fuel checks). */
  graceMs: number;
  /**
   * Child processes instead of threads (init.bytes set): a suspected runaway then shares no memory
   * map, allocator or V8 heap with the shim, only the machine (docs/runtime.md, "Placement").
   */
  processes?: boolean;
  /** Told when one of its processes, starved in SCHED_IDLE, is raised to pick up a job (a metric). */
  onRaise?: () => void;
}

/** What WorkerThread needs of a thread or a child process. */
interface Transport {
  post(m: ToWorker, transfer?: ArrayBuffer[]): void;
  kill(): void;
}

interface Job {
  resolve(r: InvocationResult): void;
  reject(e: WfnError): void;
  inv: Invocation;
  slot: RemoteInstance;
  timer: NodeJS.Timeout;
  budgetMs: number;
  started: boolean;
}

let jobSeq = 0;

/**
 * The compiled JS of a module beside `base` (an import.meta.url), for a worker or a child process
 * to load: vitest runs src/*.ts, a worker needs dist/*.js.
 */
export function compiledUrl(relative: string, base: string): URL {
  const url = new URL(relative, base);
  if (!base.endsWith(".ts")) return url;
  return new URL(url.href.replace("/runtime-shim/src/", "/runtime-shim/dist/"));
}

const entryUrl = (): URL => compiledUrl("./entry.js", import.meta.url);

/**
 * A child process that has started Node and loaded entry.js, waiting for its init: forking one
 * takes ~100-300 ms (seconds on a machine other work keeps busy), longer than what is left of the
 * request that moved its function. A shim that may move functions to processes keeps one spare
 * from its start (keepSpareProcess) and forks the next as soon as one is taken.
 */
let spare: ChildProcess | null = null;

function forkEntry(): ChildProcess {
  const child = fork(fileURLToPath(entryUrl()), [], { serialization: "advanced", stdio: ["ignore", "ignore", "ignore", "ipc"], execArgv: [] });
  child.unref();
  (child.channel as { unref?: () => void } | undefined)?.unref?.();
  return child;
}

/** Forks a spare child now if there is none (on the next turn of the loop, off the caller's path). */
export function keepSpareProcess(): void {
  setImmediate(() => {
    if (spare !== null) return;
    const c = forkEntry();
    spare = c;
    c.once("exit", () => { if (spare === c) spare = null; });
  });
}

/** Whether a child is still a live process (a killed one is a zombie until the loop reaps it and says so). */
function alive(c: ChildProcess): boolean {
  if (!c.connected || c.exitCode !== null || c.signalCode !== null || !c.pid) return false;
  if (process.platform !== "linux") return true;
  try {
    const state = readFileSync(`/proc/${c.pid}/stat`, "utf8").split(") ")[1]?.[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function takeSpare(): ChildProcess {
  const ready = spare !== null && alive(spare) ? spare : null;
  spare = null;
  keepSpareProcess();
  return ready ?? forkEntry();
}

/** How long a job may wait for an idle child in SCHED_IDLE to pick it up before the child is raised to normal. */
export const LATE_START_MS = 20;
/**
 * How often a child running a job in SCHED_IDLE is checked for starvation. Starved: over the window
 * its guest's thread was runnable but waiting for a CPU more than STARVED_WAIT_SHARE of the time and
 * ran less than STARVED_RUN_SHARE (idle-class children sharing a free core with each other each run
 * a fair part; a guest waiting for a host call or a timer is not runnable).
 */
export const STARVE_CHECK_MS = 100;
export const STARVED_WAIT_SHARE = 0.5;
export const STARVED_RUN_SHARE = 0.05;
/**
 * A starved child is raised only while the shim's main thread spends less than this share of its
 * time running work other than that child's own (its log lines, host calls and replies handled on
 * the main thread are the child's): when the shim's well-behaved functions keep it busy, a moved
 * function stays below them (hello's p99 beside four abusers over 60 s was 4.30 ms against 1.29
 * quiet when it did not). CPU time the thread ran is what counts, not event-loop busy time: a
 * shim that other work on the machine preempts looks busy by the clock while it runs little, and a
 * moved function would then crawl beside it; and a function whose own logs keep the shim busy is
 * not held back by them.
 */
export const SHIM_BUSY_SHARE = 0.5;
/** How long a child raised while starved stays raised after its last job (see idleAgain). */
export const STARVED_HOLD_MS = 1000;

/** Children that may be raised, told each window how much main-thread time was theirs. */
const watched = new Set<WorkerThread>();
let shimTimer: NodeJS.Timeout | null = null;
let shimRanAt = 0;
let shimAt = 0;
/** Main-thread ms run in the last window, and that window's length. */
let shimRanMs = 0;
let shimWindowMs = 1;
let eluMark = perf.eventLoopUtilization();

/** ms the thread that runs the event loop has run on a CPU (Linux); its event-loop busy time elsewhere. */
function loopRanMs(): number {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ")[0]) / 1e6;
  } catch {
    return perf.eventLoopUtilization(eluMark).active;
  }
}

/** Samples the shim's main thread every STARVE_CHECK_MS while a child may be raised. */
function watchShim(t: WorkerThread): void {
  watched.add(t);
  if (shimTimer) return;
  shimRanAt = loopRanMs();
  shimAt = perf.now();
  shimTimer = setInterval(() => {
    const ran = loopRanMs();
    const at = perf.now();
    shimRanMs = ran - shimRanAt;
    shimWindowMs = Math.max(1, at - shimAt);
    shimRanAt = ran;
    shimAt = at;
    for (const w of watched) w.endWindow();
  }, STARVE_CHECK_MS);
  shimTimer.unref();
}

function unwatchShim(t: WorkerThread): void {
  watched.delete(t);
  if (watched.size === 0 && shimTimer) { clearInterval(shimTimer); shimTimer = null; }
}

/** Whether the shim's main thread ran more than SHIM_BUSY_SHARE of the last window on work that is not `ownMs`. */
function shimBusy(ownMs: number): boolean {
  return (shimRanMs - ownMs) / shimWindowMs > SHIM_BUSY_SHARE;
}

/** [ran, waited] ns of a process's main thread, the one that runs the guest (Linux /proc/PID/schedstat); null elsewhere. */
function schedNs(pid: number): [number, number] | null {
  try {
    const [ran, waited] = readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ").map(Number);
    return Number.isFinite(ran) && Number.isFinite(waited) ? [ran!, waited!] : null;
  } catch {
    return null;
  }
}

/**
 * The scheduling class of a suspected runaway's process (Linux, with util-linux's `chrt`). Every
 * thread of it goes to SCHED_IDLE once it is ready: it runs only on CPU time no normal task wants,
 * and a waking shim thread preempts it at once. Nice values alone were not enough under EEVDF (a
 * nice-10 or nice-19 task keeps the CPU for its slice, ~3 ms): with four abusers hello's p99 was
 * 4.4 ms at nice 19, 2.1 ms in this class (quiet: 1.0 ms).
 *
 * On a machine other work keeps busy, a SCHED_IDLE process may wait long for any CPU, even to read
 * its next job, and a legitimate function moved for its long runs would crawl to its timeout. So a
 * starved child is raised to the normal class (at its own nice 10, as worker threads run): a job it
 * has not picked up within LATE_START_MS (back to SCHED_IDLE when the job starts), and a job whose
 * thread wanted a CPU most of a STARVE_CHECK_MS window and got almost none (back when the child
 * has no job running, or when the shim gets busy); both only while the shim's main thread runs
 * other work than the child's own less than SHIM_BUSY_SHARE of the time. A child that gets CPU time (a core is idle now and then) stays
 * in SCHED_IDLE and costs no chrt. Changes are run one at a time, the last one wanted wins.
 * Without chrt (or not Linux) the child's nice is what is left.
 */
class SchedClass {
  private applied: "normal" | "idle" = "normal";
  private wanted: "normal" | "idle" = "normal";
  private busy = false;
  private static missing = process.platform !== "linux";

  constructor(readonly pid: number) {}

  get current(): "normal" | "idle" {
    return this.wanted;
  }

  set(want: "normal" | "idle"): void {
    this.wanted = want;
    this.apply();
  }

  private apply(): void {
    if (this.busy || SchedClass.missing || this.wanted === this.applied) return;
    const want = this.wanted;
    this.busy = true;
    execFile("chrt", ["-a", want === "idle" ? "-i" : "-o", "-p", "0", String(this.pid)], (err) => {
      this.busy = false;
      // Not installed or not allowed: stop trying (the child's nice 10 stays). A child that exited: nothing to do.
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") SchedClass.missing = true;
      if (err) return;
      this.applied = want;
      this.apply();
    });
  }
}

/** One function's worker threads. */
export class WorkerGroup {
  private threads: WorkerThread[] = [];
  private slotSeq = 0;
  private closed = false;

  constructor(private readonly opts: WorkerGroupOptions) {}

  /** Starts the threads now, so the first offloaded request does not wait ~40 ms for one. */
  warm(): void {
    while (!this.closed && this.threads.length < this.opts.threads) this.spawn();
  }

  /** A new slot (an instance to be) on the least-loaded thread. */
  slot(): RemoteInstance {
    if (this.closed) throw new WfnError(ShimErrors.POOL_CLOSED, "this function is shutting down; retry on another replica", { status: 503 });
    let best: WorkerThread | undefined;
    for (const t of this.threads) if (!best || t.slots < best.slots) best = t;
    if (!best || (best.slots > 0 && this.threads.length < this.opts.threads)) best = this.spawn();
    return new RemoteInstance(best, ++this.slotSeq);
  }

  stats(): { threads: number; jobs: number } {
    return { threads: this.threads.length, jobs: this.threads.reduce((n, t) => n + t.jobs.size, 0) };
  }

  close(): void {
    this.closed = true;
    for (const t of this.threads.splice(0)) t.terminate("the function was stopped");
  }

  private spawn(): WorkerThread {
    const t = new WorkerThread(this.opts, () => { this.threads = this.threads.filter((x) => x !== t); }, () => this.opts.onRaise?.());
    this.threads.push(t);
    return t;
  }
}

/**
 * The worker (thread or child process) was lost before it started the invocation: the guest never
 * ran, so the caller may run it again on another worker (function.ts does, once).
 */
export class LostBeforeStart extends WfnError {}

/** A pool member whose instance lives on a worker thread. */
export class RemoteInstance implements Runner {
  private dropped = false;
  constructor(readonly thread: WorkerThread, readonly slot: number) {
    thread.slots++;
  }
  /** Broken by its own invocation, or because its worker is gone (an idle slot of a killed child is never handed out). */
  get broken(): boolean {
    return this.dropped || this.thread.isDead;
  }
  set broken(b: boolean) {
    this.dropped = b;
  }
  invoke(inv: Invocation, budgetMs?: number): Promise<InvocationResult> {
    return this.thread.run(this, inv, budgetMs);
  }
  /** The worker resets (or re-instantiates) a fresh slot itself after each invocation. */
  reset(): boolean {
    return true;
  }
  dispose(): void {
    this.thread.slots--;
    this.thread.post({ t: "drop", slot: this.slot });
  }
}

class WorkerThread {
  readonly jobs = new Map<number, Job>();
  slots = 0;
  private dead = false;
  get isDead(): boolean {
    return this.dead;
  }
  private readonly transport: Transport;
  /** Jobs started and not yet answered. */
  private running = 0;
  private starveTimer: NodeJS.Timeout | null = null;
  private schedAt: [number, number] = [0, 0];
  /** Why the child is in the normal class now: to pick up a job, or because a running job starved. */
  private raisedFor: "start" | "starved" | null = null;
  /** A child process run as a suspected runaway: its scheduling class, set once it is ready. */
  private sched: SchedClass | null = null;
  private lateTimer: NodeJS.Timeout | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  /** Main-thread ms spent on this child's messages in the current window, and in the last one. */
  private own = 0;
  private ownLast = 0;

  constructor(private readonly opts: WorkerGroupOptions, private readonly onDead: () => void, private readonly onRaise: () => void) {
    this.transport = opts.processes ? this.childProcess() : this.thread();
  }

  private thread(): Transport {
    const worker = new Worker(entryUrl(), { workerData: this.opts.init, stdout: false, stderr: false });
    worker.unref();
    worker.on("message", (m: FromWorker) => this.onMessage(m));
    worker.on("error", (e) => this.fail(`its worker thread crashed: ${e.message}`));
    worker.on("exit", (code) => this.fail(`its worker thread exited (${code})`));
    return { post: (m, transfer) => worker.postMessage(m, transfer), kill: () => void worker.terminate() };
  }

  private childProcess(): Transport {
    const child = takeSpare();
    child.on("message", (m: FromWorker) => this.onMessage(m));
    child.on("error", (e) => this.fail(`its worker process failed: ${e.message}`));
    child.on("exit", (code, signal) => this.fail(`its worker process exited (${signal ?? code})`));
    const { module: _compiled, ...init } = this.opts.init;
    child.send({ t: "init", init: { ...init, module: null } });
    if (init.nice > 0 && child.pid) { this.sched = new SchedClass(child.pid); watchShim(this); }
    return {
      post: (m) => { if (child.connected) child.send(m); },
      kill: () => { child.kill("SIGKILL"); },
    };
  }

  post(m: ToWorker, transfer?: ArrayBuffer[]): void {
    if (!this.dead) this.transport.post(m, transfer);
  }

  run(slot: RemoteInstance, inv: Invocation, budgetMs = this.opts.init.timeoutMs): Promise<InvocationResult> {
    if (this.dead) {
      slot.broken = true;
      return Promise.reject(new LostBeforeStart(ShimErrors.WORKER_LOST, `${this.opts.init.source}: its worker thread was stopped; retry`, { status: 503 }));
    }
    const job = ++jobSeq;
    const i = inv.input;
    const body = new Uint8Array(i.body); // an exact copy, transferred
    // Until the worker starts the job, it may wait behind other invocations on that thread; it may
    // wait as long as it may run. Once started, the deadline is the worker's own (plus a grace).
    const wait = budgetMs + this.opts.graceMs;
    return new Promise<InvocationResult>((resolve, reject) => {
      const timer = setTimeout(() => this.notStarted(job), wait);
      this.jobs.set(job, { resolve, reject, inv, slot, timer, budgetMs, started: false });
      this.post({ t: "invoke", job, slot: slot.slot, budgetMs, notAfter: Date.now() + wait, log: inv.logBudget?.limits, pace: inv.pace, input: { requestId: i.requestId, method: i.method, path: i.path, query: i.query, headers: i.headers, body, event: i.event } }, [body.buffer]);
      this.watchStart();
    });
  }

  /**
   * No job runs: the child is no longer watched and goes back to SCHED_IDLE; one raised while
   * starved stays raised for STARVED_HOLD_MS, so a function called again and again on a busy
   * machine does not start each call starved.
   */
  private idleAgain(): void {
    if (this.starveTimer) { clearInterval(this.starveTimer); this.starveTimer = null; }
    if (this.raisedFor === "starved" && !this.dead) {
      this.holdTimer ??= setTimeout(() => { this.holdTimer = null; if (this.running === 0) { this.raisedFor = null; this.idleAgain(); } }, STARVED_HOLD_MS);
      this.holdTimer.unref();
      return;
    }
    if (this.sched?.current === "normal" && !this.dead) this.sched.set("idle");
    this.raisedFor = null;
  }

  /** While a job runs in SCHED_IDLE, checks that the child gets CPU time; a starved one is raised until no job runs. */
  private watchStarving(): void {
    if (!this.sched || this.starveTimer || process.platform !== "linux") return;
    const pid = this.sched.pid;
    const first = schedNs(pid);
    if (first === null) return;
    this.schedAt = first;
    let at = performance.now();
    this.starveTimer = setInterval(() => {
      const now = schedNs(pid);
      if (now === null || this.dead || this.running === 0) return this.idleAgain();
      const [ran, waited] = [now[0] - this.schedAt[0], now[1] - this.schedAt[1]];
      this.schedAt = now;
      const t = performance.now();
      const window = (t - at) * 1e6;
      at = t;
      const busy = shimBusy(this.ownLast);
      if (this.sched!.current !== "idle") {
        // Raised while the shim was idle; the shim's own work comes first again.
        if (this.raisedFor === "starved" && busy) { this.sched!.set("idle"); this.raisedFor = null; }
        return;
      }
      if (!busy && waited > STARVED_WAIT_SHARE * window && ran < STARVED_RUN_SHARE * window) {
        this.sched!.set("normal");
        this.raisedFor = "starved";
        this.onRaise();
      }
    }, STARVE_CHECK_MS);
    this.starveTimer.unref();
  }

  /** An idle child in SCHED_IDLE that does not pick up a job soon is starved: raise it until the job starts. */
  private watchStart(): void {
    if (this.sched?.current !== "idle" || this.running > 0 || this.lateTimer) return;
    this.lateTimer = setTimeout(() => {
      this.lateTimer = null;
      if (this.dead || this.running > 0 || this.jobs.size === 0 || shimBusy(this.ownLast)) return;
      this.sched!.set("normal");
      this.raisedFor = "start";
      this.onRaise();
    }, LATE_START_MS);
  }

  terminate(why: string): void {
    this.fail(why);
  }

  /** The sampler's window ended (watchShim). */
  endWindow(): void {
    this.ownLast = this.own;
    this.own = 0;
  }

  private onMessage(m: FromWorker): void {
    if (!this.sched) return this.handle(m);
    const t0 = perf.now();
    this.handle(m);
    this.own += perf.now() - t0;
  }

  private handle(m: FromWorker): void {
    if (m.t === "ready") {
      this.sched?.set("idle");
      if (this.jobs.size > 0) this.watchStart();
      return;
    }
    const job = this.jobs.get(m.job);
    if (!job) return;
    switch (m.t) {
      case "start":
        clearTimeout(job.timer);
        job.started = true;
        this.running++;
        if (this.holdTimer) { clearTimeout(this.holdTimer); this.holdTimer = null; }
        // Raised to pick the job up: back below. Raised while starved: stays up while the shim has room.
        if (this.sched?.current === "normal" && this.running === 1 && this.raisedFor !== "starved") { this.sched.set("idle"); this.raisedFor = null; }
        this.watchStarving();
        job.timer = setTimeout(() => this.overdue(m.job), job.budgetMs + this.opts.graceMs);
        return;
      case "done":
        this.finish(m.job, job);
        job.resolve({ status: m.status, headers: m.headers, body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength), outcome: m.outcome });
        return;
      case "fail":
        this.finish(m.job, job);
        job.slot.broken = m.broken;
        job.reject(new WfnError(m.code, m.message, { status: m.status }));
        return;
      case "log":
        // Already within the request's budget and cut on the worker; the function's second budget applies here.
        for (const [level, msg] of m.lines) job.inv.guestLog(level, msg);
        return;
      case "logDropped":
        job.inv.logDropped(m.bytes, m.lines, m.cutBytes, m.cutLines);
        return;
      case "call":
        this.hostCall(job, m.call, m.op, m.args);
        return;
    }
  }

  /** A host call made on the worker runs here, where the capabilities and their connections live. */
  private hostCall(job: Job, call: number, op: number, args: Uint8Array): void {
    job.inv.calledHost = true;
    const reply = (ok: Uint8Array | undefined, e?: unknown) => {
      if (e === undefined) return this.post({ t: "reply", call, ok });
      const err = e instanceof CapabilityError ? e : new CapabilityError(ErrorCode.INTERNAL, e instanceof Error ? e.message : String(e));
      this.post({ t: "reply", call, err: { code: err.code, message: err.message } });
    };
    let answer: Uint8Array | Promise<Uint8Array>;
    try {
      // The worker caps its instance's calls in flight; here they get the request's signal.
      answer = withCallSignal(job.inv.signal, () => this.opts.host.call(op, args, job.inv));
    } catch (e) {
      return reply(undefined, e);
    }
    // The reply, sent later, is this child's main-thread time too.
    const timed = (v: Uint8Array | undefined, e?: unknown) => { const t0 = perf.now(); reply(v, e); if (this.sched) this.own += perf.now() - t0; };
    if (answer instanceof Promise) answer.then((v) => timed(v), (e: unknown) => timed(undefined, e ?? "failed"));
    else reply(answer);
  }

  private finish(id: number, job: Job): void {
    clearTimeout(job.timer);
    this.jobs.delete(id);
    if (job.started && --this.running === 0) this.idleAgain();
    // Answered, failed or given up: host calls still running for it are cancelled.
    job.inv.end("answered or stopped");
  }

  /** The job waited behind other invocations on this thread for as long as it could have run: 503, thread left alone. */
  private notStarted(id: number): void {
    const job = this.jobs.get(id);
    if (!job || job.started) return;
    this.finish(id, job);
    // The worker may start it anyway (its "start" crossing this timer): never hand the slot to
    // another invocation while this one might still run in it.
    job.slot.broken = true;
    job.reject(new WfnError(ShimErrors.POOL_EXHAUSTED, `${this.opts.init.source}: waited ${job.budgetMs + this.opts.graceMs} ms for its worker thread, busy with other invocations; retry later`, { status: 503 }));
  }

  /** The worker did not answer in time: its guest ignores the deadline (no fuel) or is stuck. Stop the thread. */
  private overdue(id: number): void {
    const job = this.jobs.get(id);
    if (!job) return;
    this.finish(id, job);
    job.slot.broken = true;
    job.reject(new WfnError(ShimErrors.TIMEOUT, `${this.opts.init.source} ran past its timeout of ${this.opts.init.timeoutMs} ms; its worker thread was terminated`, { status: 504 }));
    this.opts.log.log("warn", "worker thread terminated: an invocation ignored its deadline", { fn: this.opts.init.functionName, requestId: job.inv.input.requestId });
    this.fail("its worker thread was terminated because another invocation on it ran past its deadline; retry");
  }

  private fail(why: string): void {
    if (this.dead) return;
    this.dead = true;
    if (this.lateTimer) clearTimeout(this.lateTimer);
    if (this.starveTimer) clearInterval(this.starveTimer);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    unwatchShim(this);
    this.onDead();
    this.transport.kill();
    for (const [id, job] of this.jobs) {
      this.finish(id, job);
      job.slot.broken = true;
      const Lost = job.started ? WfnError : LostBeforeStart;
      job.reject(new Lost(ShimErrors.WORKER_LOST, `${this.opts.init.source}: ${why}`, { status: 503 }));
    }
  }
}
