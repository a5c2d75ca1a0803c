/**
 * A worker thread, or a child process, that runs one function's instances (see remote.ts for the
 * main-thread side). The same Instance class as on the main thread: fuel stops a runaway at its
 * deadline, asyncify lets `wfn.call` wait, here for the main thread's answer. A runaway blocks only
 * this thread; in a child process it shares nothing with the shim but the machine (its memory map,
 * allocator and V8 heap are its own).
 */
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../../errors.js";
import { silentLogger } from "../../logger.js";
import { DEFAULT_LOG_LIMITS, FunctionLogBudget, type LogLimits } from "../guest-log.js";
import { CapabilityError, Instance, type HostCalls } from "../instance.js";
import { Invocation, type HostCallPace } from "../invocation.js";
import type { FromWorker, InitMessage, ToWorker, WireInput, WorkerInit } from "./protocol.js";

/** How this side talks to the shim: the worker port, or the IPC channel of a child process. */
interface Port {
  postMessage(m: FromWorker, transfer?: ArrayBuffer[]): void;
  on(ev: "message", f: (m: ToWorker) => void): void;
}

function processPort(): Port {
  // The shim went away (even killed): nothing is left to answer to.
  process.on("disconnect", () => process.exit(0));
  // Messages that arrive with the init (before the handler below is set) wait here, in order.
  let handler: ((m: ToWorker) => void) | null = null;
  const early: ToWorker[] = [];
  process.on("message", (m: ToWorker | InitMessage) => {
    if (m.t === "init") return;
    if (handler) handler(m);
    else early.push(m);
  });
  return {
    postMessage: (m) => { process.send!(m); },
    on: (_ev, f) => {
      handler = f;
      for (const m of early.splice(0)) f(m);
    },
  };
}

/** A child process gets its init as its first message. */
function firstInit(): Promise<WorkerInit> {
  return new Promise((resolve) => {
    const on = (m: InitMessage) => {
      if (m.t !== "init") return;
      process.off("message", on);
      resolve(m.init);
    };
    process.on("message", on);
  });
}

const port: Port = parentPort ?? processPort();
const init: WorkerInit = parentPort ? (workerData as WorkerInit) : await firstInit();
const module = init.module ?? new WebAssembly.Module(init.bytes as Uint8Array<ArrayBuffer>);

/**
 * A function moved here as a suspected runaway runs below the main thread (init.nice, see
 * RUNAWAY_NICE in placement.ts), so the gateway and well-behaved functions are scheduled first
 * (test/bench/abuse.js measured hello's p99 beside four abusive neighbours). Linux: setpriority()
 * on a thread id affects that thread only; elsewhere, or when not allowed, this is skipped.
 */
function lowerPriority(nice: number): void {
  if (!(nice > 0)) return;
  try {
    // A child process: its main thread, the one that runs the guest (the shim puts every thread of
    // it in SCHED_IDLE with chrt where it can; Linux's nice is per thread).
    if (!parentPort) return setPriority(0, nice);
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch { /* not Linux, or not allowed: same priority as the main thread */ }
}
lowerPriority(init.nice);
// The shim moves a child to SCHED_IDLE once it is ready, not while Node and the module load.
if (!parentPort) port.postMessage({ t: "ready", job: 0 });
const slots = new Map<number, Instance>();
const calls = new Map<number, { resolve(v: Uint8Array): void; reject(e: CapabilityError): void }>();
let callSeq = 0;

function post(m: FromWorker, transfer?: ArrayBuffer[]): void {
  port.postMessage(m, transfer);
}

/**
 * Log lines leave a worker in batches, not one message each: a function that logs 1,000 lines a
 * request cost the main thread 1,000 messages (each a pipe write and a deserialisation in a child
 * process). A batch is posted at LOG_BATCH lines, before a host call (the main thread sees lines
 * and calls in the guest's order) and when the job ends. Lines of a guest that ignores its
 * deadline and has its worker killed are lost up to one batch.
 */
const LOG_BATCH = 64;

/**
 * An invocation that knows its job id, so host calls and logs can name it to the main thread.
 * Its log budget is checked here, so a guest logging without end posts at most a request's budget
 * to the main thread; the function's per-second budget is the main thread's.
 */
class JobInvocation extends Invocation {
  private batch: [number, string][] = [];
  constructor(input: WireInput, readonly job: number, log: LogLimits | undefined, pace: HostCallPace | null) {
    super(input, init.functionName, silentLogger, init.maxResponseBytes);
    this.pace = pace;
    this.logBudget = new FunctionLogBudget({ ...(log ?? DEFAULT_LOG_LIMITS), secondBytes: Infinity, secondLines: Infinity }, silentLogger, init.functionName);
  }
  protected override emitLog(level: number, msg: string): void {
    this.batch.push([level, msg]);
    if (this.batch.length >= LOG_BATCH) this.flushLog();
  }
  flushLog(): void {
    if (this.batch.length === 0) return;
    post({ t: "log", job: this.job, lines: this.batch });
    this.batch = [];
  }
  protected override endLog(): void {
    this.flushLog();
    const r = this.rlog;
    if (r && (r.droppedLines > 0 || r.cutLines > 0)) post({ t: "logDropped", job: this.job, bytes: r.droppedBytes, lines: r.droppedLines, cutBytes: r.cutBytes, cutLines: r.cutLines });
  }
}

const host: HostCalls = {
  call(op, args, inv) {
    const call = ++callSeq;
    (inv as JobInvocation).flushLog();
    post({ t: "call", job: (inv as JobInvocation).job, call, op, args });
    return new Promise<Uint8Array>((resolve, reject) => calls.set(call, { resolve, reject }));
  },
};

function instance(slot: number): Instance {
  let inst = slots.get(slot);
  if (!inst) {
    inst = new Instance(module, host, { timeoutMs: init.timeoutMs, maxMemoryPages: init.maxMemoryPages, snapshot: init.fresh?.plan ?? undefined }, init.source);
    inst.init();
    slots.set(slot, inst);
  }
  return inst;
}

async function invoke(m: Extract<ToWorker, { t: "invoke" }>): Promise<void> {
  if (Date.now() > m.notAfter) return; // the main thread already answered 503 for it
  post({ t: "start", job: m.job });
  let inst: Instance | undefined;
  try {
    inst = instance(m.slot);
    const r = await inst.invoke(new JobInvocation(m.input, m.job, m.log, m.pace ?? null), m.budgetMs);
    const body = new Uint8Array(r.body); // an exact copy, transferred without another copy
    post({ t: "done", job: m.job, status: r.status, headers: r.headers, body, outcome: r.outcome }, [body.buffer]);
  } catch (e) {
    const err = e instanceof WfnError ? e : new WfnError(ShimErrors.TRAP, `${init.source} failed: ${(e as Error).message}`, { status: 500 });
    post({ t: "fail", job: m.job, code: err.code, message: err.message, status: err.status, broken: inst?.broken ?? true });
    slots.delete(m.slot);
    return;
  }
  // Fresh isolation: make the slot pristine before its next invocation arrives.
  if (init.fresh && !inst.reset()) slots.delete(m.slot);
}

port.on("message", (m: ToWorker) => {
  switch (m.t) {
    case "invoke":
      void invoke(m);
      return;
    case "reply": {
      const c = calls.get(m.call);
      if (!c) return;
      calls.delete(m.call);
      if (m.err) c.reject(new CapabilityError(m.err.code, m.err.message));
      else c.resolve(m.ok ?? new Uint8Array(0));
      return;
    }
    case "drop":
      slots.delete(m.slot);
      return;
  }
});
