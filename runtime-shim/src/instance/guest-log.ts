/**
 * Guest log budgets: what a function may write to the log (the `wfn.log` host call, WASI fd 1/2),
 * per request and per second, and a cap on one line. Past a budget, lines are dropped and counted;
 * one marker line says how many, once per request and once per second, never once per line. A guest
 * that logs without end thus costs a counter bump per call, not a JSON line and a write.
 */
import type { Logger } from "../logger.js";

/** One function's log limits (wasm-fn.yaml `limits.log`). Bytes are of the message text. */
export interface LogLimits {
  /** Bytes and lines one invocation may log. */
  requestBytes: number;
  requestLines: number;
  /** Bytes and lines all of a function's invocations together may log in one second. */
  secondBytes: number;
  secondLines: number;
  /** A longer line is cut to this many bytes, ending with a "[truncated N bytes]" marker. */
  lineBytes: number;
}

export const DEFAULT_LOG_LIMITS: Readonly<LogLimits> = {
  requestBytes: 64 * 1024,
  requestLines: 1000,
  secondBytes: 1024 * 1024,
  secondLines: 10_000,
  lineBytes: 16 * 1024,
};

/** Counted drops, by budget: `line` is bytes cut from over-long lines. Read by the metrics. */
export interface LogDrops {
  line: { bytes: number; lines: number };
  request: { bytes: number; lines: number };
  second: { bytes: number; lines: number };
}

/** Room left for the truncation marker inside `lineBytes`, so a cut line is at most `lineBytes`. */
const MARK_ROOM = 40;

/**
 * One function's budget: its limits, the one-second window its invocations share, and its drop
 * counters (kept across hot swaps, like the other metrics).
 */
export class FunctionLogBudget {
  readonly dropped: LogDrops = { line: { bytes: 0, lines: 0 }, request: { bytes: 0, lines: 0 }, second: { bytes: 0, lines: 0 } };
  private windowEnd = 0;
  private bytes = 0;
  private lines = 0;
  private windowDroppedBytes = 0;
  private windowDroppedLines = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(public limits: LogLimits, private readonly log: Logger, private readonly fn: string) {}

  /** True when this second's budget has no room for a line of `keep` bytes (nothing is taken). */
  full(keep: number, now = performance.now()): boolean {
    if (now >= this.windowEnd) return false;
    return this.lines >= this.limits.secondLines || this.bytes + keep > this.limits.secondBytes;
  }

  /** Takes `keep` bytes of this second's budget for a line; false (and counted) when it has no room. */
  take(keep: number, len: number): boolean {
    const now = performance.now();
    if (now >= this.windowEnd) {
      if (this.windowDroppedLines > 0) this.report();
      this.windowEnd = now + 1000;
      this.bytes = 0;
      this.lines = 0;
    }
    if (this.full(keep, now)) {
      this.windowDroppedLines++;
      this.windowDroppedBytes += len;
      this.dropped.second.lines++;
      this.dropped.second.bytes += len;
      // The marker goes out when the second ends, whether or not the guest logs again.
      if (this.timer === null) {
        this.timer = setTimeout(() => this.report(), Math.max(0, this.windowEnd - now));
        this.timer.unref();
      }
      return false;
    }
    this.lines++;
    this.bytes += keep;
    return true;
  }

  /** The one marker line of a second in which lines were dropped. */
  private report(): void {
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (this.windowDroppedLines === 0) return;
    const L = this.limits;
    this.log.log("warn", `guest log over budget: ${this.fn} logged more than ${L.secondBytes} bytes or ${L.secondLines} lines in one second; dropped ${this.windowDroppedBytes} bytes in ${this.windowDroppedLines} lines (limits.log.perSecond)`, { fn: this.fn, source: "host", droppedBytes: this.windowDroppedBytes, droppedLines: this.windowDroppedLines, budget: "second" });
    this.windowDroppedBytes = 0;
    this.windowDroppedLines = 0;
  }
}

/**
 * One invocation's share: its request budget, on top of the function's second. `room` tells the
 * host how much of a line to read out of guest memory at all, so a dropped 60 MiB line costs no decoding.
 */
export class RequestLog {
  private bytes = 0;
  private lines = 0;
  droppedBytes = 0;
  droppedLines = 0;
  /** Bytes cut from this invocation's over-long lines, and how many lines were cut. */
  cutBytes = 0;
  cutLines = 0;
  private ended = false;

  constructor(readonly budget: FunctionLogBudget) {}

  /** Bytes of a `len`-byte line worth decoding: 0 when the line will be dropped. */
  room(len: number): number {
    if (!(len > 0)) return 0;
    const L = this.budget.limits;
    const keep = len < L.lineBytes ? len : L.lineBytes;
    if (this.lines >= L.requestLines || this.bytes + keep > L.requestBytes || this.budget.full(keep)) return 0;
    return keep;
  }

  /**
   * Admits one line whose full length was `len` bytes (`msg` may hold only a prefix of it): the
   * text to log, cut with a marker when too long, or null when a budget dropped it.
   */
  admit(msg: string, len: number): string | null {
    if (!(len >= 0)) len = 0;
    const b = this.budget;
    const L = b.limits;
    const keep = len < L.lineBytes ? len : L.lineBytes;
    if (this.lines >= L.requestLines || this.bytes + keep > L.requestBytes) {
      this.droppedLines++;
      this.droppedBytes += len;
      b.dropped.request.lines++;
      b.dropped.request.bytes += len;
      return null;
    }
    if (!b.take(keep, len)) return null;
    this.lines++;
    this.bytes += keep;
    if (len <= L.lineBytes) return msg;
    const head = Buffer.from(msg.length > L.lineBytes ? msg.slice(0, L.lineBytes) : msg, "utf8").subarray(0, Math.max(0, L.lineBytes - MARK_ROOM)).toString("utf8");
    const cut = len - Buffer.byteLength(head);
    this.cutBytes += cut;
    this.cutLines++;
    b.dropped.line.lines++;
    b.dropped.line.bytes += cut;
    return `${head}…[truncated ${cut} bytes]`;
  }

  /** Drops counted elsewhere (on a worker thread) for this invocation. */
  add(bytes: number, lines: number, cutBytes: number, cutLines: number): void {
    const d = this.budget.dropped;
    this.droppedBytes += bytes;
    this.droppedLines += lines;
    d.request.bytes += bytes;
    d.request.lines += lines;
    d.line.bytes += cutBytes;
    d.line.lines += cutLines;
  }

  /** The invocation ended: one marker line when its request budget dropped anything. Idempotent. */
  end(log: Logger, fields: Record<string, unknown>): void {
    if (this.ended) return;
    this.ended = true;
    if (this.droppedLines === 0) return;
    const L = this.budget.limits;
    log.log("warn", `guest log over budget: this request logged more than ${L.requestBytes} bytes or ${L.requestLines} lines; dropped ${this.droppedBytes} bytes in ${this.droppedLines} lines (limits.log.perRequest)`, { ...fields, source: "host", droppedBytes: this.droppedBytes, droppedLines: this.droppedLines, budget: "request" });
  }
}

/** Invocations made without a function (tests, tools) share this default budget. */
let fallback: FunctionLogBudget | null = null;
export function defaultLogBudget(log: Logger): FunctionLogBudget {
  return (fallback ??= new FunctionLogBudget({ ...DEFAULT_LOG_LIMITS }, log, "(no function)"));
}
