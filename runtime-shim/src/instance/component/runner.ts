/**
 * The main thread's side of a component's instances (worker.ts is the other side): each worker
 * thread holds one instance, and each pool member is a place in one thread's line (ComponentSlot).
 * The pool gives the function its scale (minReplicas pre-warmed, maxReplicas at once, scale to zero
 * when idle) as for core modules.
 *
 * Why a thread per instance: a component waits synchronously (wasi:io/poll blocks), and the
 * answers it waits for (outgoing HTTP, Dapr) come from this thread's event loop, so its own thread
 * must be the one that blocks. A runaway is stopped by terminating its thread at the deadline.
 */
import { Worker, MessageChannel, type MessagePort } from "node:worker_threads";
import { decodeList, encodeList, ErrorCode, LogLevel, Op, text, WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { withCallSignal } from "../host-call.js";
import { CapabilityError, MAX_HOST_CALLS_IN_FLIGHT, type HostCalls, type Runner } from "../instance.js";
import type { Invocation, InvocationInput, InvocationResult } from "../invocation.js";
import { daprApi, isDaprUrl } from "./dapr-api.js";
import type { CompiledComponent } from "./transpile.js";
import type { IncomingWire, OutgoingWire } from "./wasi-p2.js";
import { compiledUrl, LostBeforeStart } from "../worker/remote.js";
import type { AnswerMessage, ComponentWorkerInit, FromComponentWorker, ToComponentWorker, WireRequest } from "./worker.js";

export interface ComponentOptions {
  component: CompiledComponent;
  host: HostCalls;
  log: Logger;
  functionName: string;
  timeoutMs: number;
  maxResponseBytes: number;
  /** limits.memory in bytes: an instance that grew to RETIRE_SHARE of it is not reused. */
  maxMemoryBytes: number;
  env: [string, string][];
}

/**
 * An instance whose memory grew to this share of limits.memory is retired after its answer: the
 * engine inside may have run out of memory while answering (StarlingMonkey then throws "out of
 * memory" into the handler, which may catch it and answer), and a heap that full would fail the
 * requests after it. Linear memory never shrinks, so the next instance starts small again.
 */
export const RETIRE_SHARE = 0.9;

/** Log lines one invocation may post from its thread; the function's log budget applies on top (guest-log.ts). */
const MAX_LOG_LINES = 1000;

const workerUrl = (): URL => compiledUrl("./worker.js", import.meta.url);

let jobSeq = 0;

/**
 * A worker thread started before any function needed it, waiting for its component: starting a
 * thread costs ~40-60 ms here, which a component's first request (from zero, or after a load) would
 * otherwise wait for. A shim that serves components keeps one; taking it starts the next.
 */
let spare: Worker | null = null;

function startSpare(): Worker {
  const w = new Worker(workerUrl(), { workerData: null });
  w.unref();
  w.on("error", () => { if (spare === w) spare = null; });
  w.on("exit", () => { if (spare === w) spare = null; });
  return w;
}

/** Makes sure a spare thread is starting (off the caller's path). */
export function keepSpareWorker(): void {
  setImmediate(() => { spare ??= startSpare(); });
}

function takeSpare(): Worker {
  const w = spare ?? startSpare();
  spare = null;
  keepSpareWorker();
  return w;
}

/**
 * Requests one worker may hold at once: the one running and the ones queued behind it. Queued
 * requests start the moment the one before answers, without waiting for the main thread (a thread
 * hop each way costs more than a small component's whole answer); a request blocked on I/O holds
 * the ones behind it, which is why a function gets several workers.
 */
export const SLOTS_PER_WORKER = 4;

/**
 * Pool members for a component; the same shape as Placement's for core modules. Each member is a
 * slot on one of the function's worker threads (at most `workers`), each thread one instance.
 */
export class ComponentPlacement {
  readonly mode = "workers" as const;
  readonly reason = "component";
  private readonly threads = new Set<ComponentWorker>();
  constructor(private readonly opts: ComponentOptions & { workers: number }) {
    keepSpareWorker();
  }
  create(): Runner {
    let best: ComponentWorker | null = null;
    for (const w of this.threads) if (!w.broken && (best === null || w.slots < best.slots)) best = w;
    if (best === null || (best.slots >= SLOTS_PER_WORKER && this.threads.size < this.opts.workers)) {
      const w: ComponentWorker = new ComponentWorker(this.opts, () => this.threads.delete(w));
      this.threads.add(w);
      best = w;
    }
    return new ComponentSlot(best);
  }
  stats(): { mode: "workers"; reason: string; threads: number } { return { mode: "workers", reason: this.reason, threads: this.threads.size }; }
  close(): void { for (const w of [...this.threads]) w.dispose(); }
}

/** One pool member: a place in a worker's line. */
class ComponentSlot implements Runner {
  private gone = false;
  constructor(private readonly w: ComponentWorker) { w.slots++; }
  get broken(): boolean { return this.w.broken; }
  invoke(inv: Invocation, budgetMs?: number): Promise<InvocationResult> { return this.w.invoke(inv, budgetMs); }
  dispose(): void {
    if (this.gone) return;
    this.gone = true;
    this.w.release();
  }
}

interface Job {
  id: number;
  inv: Invocation;
  resolve(r: InvocationResult): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
  budgetMs: number;
  /** Outgoing requests of this job not answered yet. */
  inflight: number;
}

/** A worker thread with one instance of the component, answering its jobs in the order they came. */
export class ComponentWorker {
  broken = false;
  slots = 0;
  private readonly worker: Worker;
  private readonly answers: MessagePort;
  private readonly flag: Int32Array;
  /** In flight, oldest (the running one) first. */
  private readonly jobs: Job[] = [];
  private disposed = false;

  constructor(private readonly o: ComponentOptions, private readonly onGone: () => void) {
    const sab = new SharedArrayBuffer(4);
    this.flag = new Int32Array(sab);
    const ch = new MessageChannel();
    this.answers = ch.port1;
    const init: ComponentWorkerInit = {
      jsPath: o.component.jsPath,
      modules: o.component.modules,
      handlerExport: o.component.meta.handlerExport,
      env: o.env,
      maxResponseBytes: o.maxResponseBytes,
      maxLogLines: MAX_LOG_LINES,
      signal: sab,
      answers: ch.port2,
    };
    this.worker = takeSpare();
    this.worker.postMessage({ t: "init", init }, [ch.port2]);
    this.worker.removeAllListeners("error").removeAllListeners("exit");
    this.worker.on("message", (m: FromComponentWorker) => this.onMessage(m));
    this.worker.on("error", (e) => this.lost(`its worker thread failed: ${e.message}`));
    this.worker.on("exit", (code) => this.lost(`its worker thread exited (${code})`));
  }

  invoke(inv: Invocation, budgetMs = this.o.timeoutMs): Promise<InvocationResult> {
    if (this.broken) return Promise.reject(new LostBeforeStart(ShimErrors.WORKER_LOST, `${this.o.functionName}: its instance is gone`, { status: 503 }));
    return new Promise((resolve, reject) => {
      const id = ++jobSeq;
      const job: Job = { id, inv, resolve, reject, budgetMs, inflight: 0, timer: setTimeout(() => this.timeout(job), budgetMs) };
      this.jobs.push(job);
      const msg: ToComponentWorker = { t: "invoke", job: id, notAfter: Date.now() + budgetMs, req: wireRequest(inv.input) };
      this.worker.postMessage(msg);
    });
  }

  /** A slot left the pool: the thread goes with its last one (scale to zero). */
  release(): void {
    this.slots--;
    if (this.slots <= 0 && this.jobs.length === 0) this.dispose();
  }

  private find(id: number): Job | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  private take(j: Job): void {
    clearTimeout(j.timer);
    const i = this.jobs.indexOf(j);
    if (i >= 0) this.jobs.splice(i, 1);
    j.inv.end("answered");
  }

  private onMessage(m: FromComponentWorker): void {
    if (m.t === "ready") return;
    const j = this.find(m.job);
    if (!j) return;
    switch (m.t) {
      case "log":
        j.inv.guestLog(m.level === "error" ? LogLevel.ERROR : LogLevel.INFO, m.line);
        return;
      case "fetch":
        this.fetch(j, m.id, m.req);
        return;
      case "done":
        if (m.dropped > 0) j.inv.logDropped(0, m.dropped, 0, 0);
        this.take(j);
        j.resolve({ status: m.status, headers: m.headers, body: m.body, outcome: outcomeOf(j.inv.input, m.status, m.body) });
        if (m.memory >= RETIRE_SHARE * this.o.maxMemoryBytes) {
          this.o.log.log("warn", `${this.o.functionName}: an instance grew to ${(m.memory / 1048576).toFixed(1)} MiB of its ${(this.o.maxMemoryBytes / 1048576).toFixed(0)} MiB limit (limits.memory) and is replaced`, { fn: this.o.functionName, requestId: j.inv.input.requestId });
          this.break(null);
        }
        return;
      case "fail": {
        if (m.dropped > 0) j.inv.logDropped(0, m.dropped, 0, 0);
        this.take(j);
        if (m.kind === "late") return; // its caller already had its 504
        const code = m.kind === "deadline" ? ShimErrors.TIMEOUT : m.kind === "exit" ? ShimErrors.EXIT : m.kind === "answer" ? ShimErrors.BAD_RESPONSE : m.kind === "toolarge" ? ShimErrors.RESPONSE_TOO_LARGE : ShimErrors.TRAP;
        const status = m.kind === "deadline" ? 504 : m.kind === "answer" ? 502 : 500;
        j.reject(new WfnError(code, `${this.o.functionName}: ${m.message}`, { status }));
        // A wrong or oversized answer leaves the instance as it was; a trap, an exit or a deadline may have left it half-way.
        if (m.broken) this.break(null);
        return;
      }
    }
  }

  /**
   * An outgoing request of the component, answered by the capability layer (the same grants as
   * `http.fetch`), paced and bounded as every host call is (limits.hostCalls, MAX_HOST_CALLS_IN_FLIGHT).
   */
  private fetch(j: Job, id: number, req: OutgoingWire): void {
    if (j.inflight >= MAX_HOST_CALLS_IN_FLIGHT) {
      j.inflight++; // answer() counts it back
      return this.answer(j, id, { error: { tag: "internal-error", message: `more than ${MAX_HOST_CALLS_IN_FLIGHT} outgoing requests at once from one request; wait for some to finish` } });
    }
    j.inflight++;
    const wait = j.inv.callDelay();
    if (wait > 0) { setTimeout(() => this.start(j, id, req), wait); return; }
    this.start(j, id, req);
  }

  private start(j: Job, id: number, req: OutgoingWire): void {
    if (!this.jobs.includes(j)) return;
    let url: URL | null = null;
    try { url = new URL(req.url); } catch { /* the HTTP capability says what is wrong with it */ }
    if (url && isDaprUrl(url)) {
      const call = (op: number, args: Uint8Array) => withCallSignal(j.inv.signal, () => this.o.host.call(op, args, j.inv));
      void daprApi(req, call).then((a) => this.answer(j, id, a));
      return;
    }
    const head = req.headers.map(([k, v]) => `${k}: ${v}\n`).join("");
    let p: Uint8Array | Promise<Uint8Array>;
    try {
      p = withCallSignal(j.inv.signal, () => this.o.host.call(Op.HTTP_FETCH, encodeList([req.method, req.url, head, req.body]), j.inv));
    } catch (e) {
      return this.answer(j, id, failure(e));
    }
    Promise.resolve(p).then(
      (bytes) => {
        const [status, headers, body] = decodeList(bytes);
        const pairs: [string, string][] = [];
        for (const line of text(headers).split("\n")) {
          const i = line.indexOf(": ");
          if (i > 0) pairs.push([line.slice(0, i), line.slice(i + 2)]);
        }
        this.answer(j, id, { status: Number(text(status)), headers: pairs, body: body ?? new Uint8Array(0) });
      },
      (e: unknown) => this.answer(j, id, failure(e)),
    );
  }

  private answer(j: Job, id: number, answer: IncomingWire): void {
    if (this.jobs[0] !== j || this.broken) return;
    j.inflight = Math.max(0, j.inflight - 1);
    // The guest's fetch sees only an error code (StarlingMonkey says "NetworkError"): the reason goes to the log.
    if (answer.error) j.inv.guestLog(LogLevel.WARN, `outgoing request failed (${answer.error.tag}): ${answer.error.message}`);
    this.answers.postMessage({ id, answer } satisfies AnswerMessage);
    Atomics.add(this.flag, 0, 1);
    Atomics.notify(this.flag, 0);
  }

  private timeout(j: Job): void {
    if (!this.jobs.includes(j)) return;
    const running = this.jobs[0] === j;
    this.take(j);
    j.reject(new WfnError(ShimErrors.TIMEOUT, running
      ? `${this.o.functionName} did not answer within ${j.budgetMs} ms; its instance was stopped`
      : `${this.o.functionName} did not start this request within ${j.budgetMs} ms: its instances were busy`, { status: 504 }));
    // The running one is stopped with its thread; a queued one is skipped when its turn comes.
    if (running) this.break(null);
  }

  private lost(why: string): void {
    if (this.disposed || this.broken) return;
    this.break(why);
  }

  /**
   * The thread goes. The running job (the oldest) fails with `why`; those queued behind it never
   * started, so the function runs them again elsewhere (LostBeforeStart).
   */
  private break(why: string | null): void {
    if (this.broken) return;
    this.broken = true;
    const jobs = this.jobs.splice(0);
    for (const [i, j] of jobs.entries()) {
      clearTimeout(j.timer);
      j.inv.end("its instance was lost");
      if (i === 0 && why !== null) j.reject(new WfnError(ShimErrors.WORKER_LOST, `${this.o.functionName}: ${why}`, { status: 503 }));
      else j.reject(new LostBeforeStart(ShimErrors.WORKER_LOST, `${this.o.functionName}: its instance was replaced before this request started`, { status: 503 }));
    }
    if (why !== null && jobs.length === 0) this.o.log.log("warn", `${this.o.functionName}: a component instance was lost: ${why}`, { fn: this.o.functionName });
    void this.worker.terminate();
    this.answers.close();
    this.onGone();
  }

  dispose(): void {
    this.disposed = true;
    this.break(null);
  }
}

function wireRequest(i: InvocationInput): WireRequest {
  const headers: [string, string][] = [];
  for (const [k, v] of Object.entries(i.headers)) {
    if (v === undefined || k === "x-request-id") continue;
    if (Array.isArray(v)) for (const x of v) headers.push([k, x]);
    else headers.push([k, v]);
  }
  // The shim's request id (the client's, when valid, or a new one): the SDK puts it in error bodies.
  headers.push(["x-request-id", i.requestId]);
  // An event arrives as a CloudEvent in HTTP binary mode: its attributes as ce-* headers, its data as the body.
  const ev = i.event;
  if (ev) {
    for (const k of ["id", "source", "type", "specversion", "subject", "time", "topic", "pubsubname", "input"] as const) {
      const v = ev[k];
      if (v !== undefined && !headers.some(([h]) => h === `ce-${k}`)) headers.push([`ce-${k}`, v]);
    }
    if (ev.datacontenttype && !headers.some(([h]) => h === "content-type")) headers.push(["content-type", ev.datacontenttype]);
  }
  const host = i.headers.host;
  return { method: i.method, path: i.query ? `${i.path}?${i.query}` : i.path, authority: typeof host === "string" ? host : "localhost", headers, body: i.body };
}

/** A capability error as wasi:http's error-code. */
function failure(e: unknown): IncomingWire {
  if (e instanceof CapabilityError) {
    const tag = e.code === ErrorCode.DENIED || e.code === ErrorCode.NOT_CONFIGURED ? "HTTP-request-denied"
      : e.code === ErrorCode.TIMEOUT ? "HTTP-response-timeout"
      : e.code === ErrorCode.TOO_LARGE ? "HTTP-response-body-size"
      : "internal-error";
    return { error: { tag, message: e.message } };
  }
  return { error: { tag: "internal-error", message: e instanceof Error ? e.message : String(e) } };
}

/**
 * An event's outcome from the component's HTTP answer, as Dapr reads an app's answer to a delivery:
 * 2xx is SUCCESS unless its JSON body says {"status":"RETRY"} or {"status":"DROP"}; 404 is DROP;
 * anything else RETRY. A request's outcome is SUCCESS (only its status matters).
 */
export function outcomeOf(input: InvocationInput, status: number, body: Uint8Array): number {
  if (!input.event) return 0;
  if (status === 404) return 2;
  if (status < 200 || status > 299) return 1;
  if (body.length > 0 && body.length < 4096 && body[0] === 0x7b) {
    try {
      const s = (JSON.parse(Buffer.from(body).toString("utf8")) as { status?: unknown }).status;
      if (s === "RETRY") return 1;
      if (s === "DROP") return 2;
    } catch { /* not JSON: a success with a body */ }
  }
  return 0;
}
