/** Messages between the main thread and a function's worker thread or child process (structured clone over postMessage, or the IPC channel with advanced serialization). */
import type { LogLimits } from "../guest-log.js";
import type { HostCallPace } from "../invocation.js";
import type { InvocationInput } from "../invocation.js";
import type { SnapshotPlan } from "../snapshot.js";

/**
 * What a worker gets at start: the compiled module (a thread: V8 shares its code) or its bytes (a
 * child process compiles them), and the limits.
 */
export interface WorkerInit {
  module: WebAssembly.Module | null;
  bytes?: Uint8Array;
  source: string;
  functionName: string;
  timeoutMs: number;
  maxMemoryPages: number;
  maxResponseBytes: number;
  /** Fresh isolation: reset (with this plan) or re-instantiate after every invocation. */
  fresh: { plan: SnapshotPlan | null } | null;
  /** CPU niceness of the thread or process (0: as the main thread); set for functions moved off the main thread as suspected runaways. */
  nice: number;
}

/** The first message to a child process (a worker thread gets its init as workerData). */
export type InitMessage = { t: "init"; init: WorkerInit };

/** The invocation input as posted to a worker (structured-cloned). */
export type WireInput = InvocationInput;

export type ToWorker =
  /** `notAfter` (epoch ms): a job still queued behind other work by then is skipped (its caller got a 503). */
  /** `log`: the function's log limits; the worker applies the per-request and per-line ones (the main thread the per-second one). */
  | { t: "invoke"; job: number; slot: number; input: WireInput; budgetMs: number; notAfter: number; log?: LogLimits; pace?: HostCallPace | null }
  | { t: "reply"; call: number; ok?: Uint8Array; err?: { code: number; message: string } }
  | { t: "drop"; slot: number };

export type FromWorker =
  /** A child process compiled its module and is ready for jobs (threads do not send it). */
  | { t: "ready"; job: 0 }
  | { t: "start"; job: number }
  | { t: "done"; job: number; status: number; headers: [string, string][]; body: Uint8Array; outcome: number }
  | { t: "fail"; job: number; code: string; message: string; status: number; broken: boolean }
  | { t: "call"; job: number; call: number; op: number; args: Uint8Array }
  /** The job's log lines since the last batch: [level, message] each (see LOG_BATCH in entry.ts). */
  | { t: "log"; job: number; lines: [number, string][] }
  /** Sent before "done"/"fail" when the job's log budget dropped or cut lines. */
  | { t: "logDropped"; job: number; bytes: number; lines: number; cutBytes: number; cutLines: number };
