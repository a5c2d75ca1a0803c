/**
 * Structured JSON logs, one object a line: {time, level, msg, ...fields}.
 *
 * Lines go to stdout through one buffered writer (LogWriter), not one `process.stdout.write` each:
 * the lines of an event-loop turn leave in one write, the event loop never waits for the reader,
 * and what is still buffered is written out synchronously when the process exits (also after an
 * uncaught exception, and after SIGTERM/SIGINT once `wasm-fn run` has drained).
 */
import { fstatSync, writeSync } from "node:fs";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

/**
 * @example
 *   const log = createLogger();            // buffered JSON lines on stdout
 *   log.log("info", "listening", { url });
 *   const lines: string[] = [];
 *   createLogger({ write: (l) => lines.push(l) }); // for tests
 */
export function createLogger(opts: { level?: Level; write?: (line: string) => void; base?: Record<string, unknown> } = {}): Logger {
  const min = ORDER[opts.level ?? "info"];
  const write = opts.write ?? writeStdout;
  const base = opts.base ?? {};
  // The base fields are serialised once, not on every line.
  const head = appendFields("", base);
  return {
    log(level, msg, fields) {
      if (ORDER[level] < min) return;
      let line = `{"time":"${isoNow()}","level":"${level}","msg":${JSON.stringify(msg)}${head}`;
      if (fields !== undefined) line = appendFields(line, fields);
      write(line + "}\n");
    },
    child(fields) {
      return createLogger({ ...opts, base: { ...base, ...fields } });
    },
  };
}

/**
 * `,"key":value` for each field, as JSON.stringify would write the object (undefined left out),
 * without building the merged object first: this runs for every request's access line.
 * A field repeated in `fields` after the base appears twice; JSON readers keep the last one.
 */
function appendFields(line: string, fields: Record<string, unknown>): string {
  for (const k in fields) {
    const v = fields[k];
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    let key = KEYS.get(k);
    if (key === undefined) { key = `,${JSON.stringify(k)}:`; if (KEYS.size < 1000) KEYS.set(k, key); }
    line += key + (typeof v === "number" ? (Number.isFinite(v) ? String(v) : "null") : JSON.stringify(v));
  }
  return line;
}
const KEYS = new Map<string, string>();

/** The time as an ISO string, made once per millisecond. */
let lastMs = 0;
let lastIso = "";
function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) { lastMs = ms; lastIso = new Date(ms).toISOString(); }
  return lastIso;
}

export const silentLogger: Logger = { log() {}, child() { return silentLogger; } };

/** Bytes a LogWriter holds for a reader that does not keep up; past it, lines are dropped and counted. */
export const MAX_BUFFERED_LOG_BYTES = 8 * 1024 * 1024;
/** How long the exit flush waits for a reader that does not read, before it gives up on the rest. */
const EXIT_FLUSH_MS = 5000;
/** Lines wait at most this long (ms) to be written, or until this many are held, whichever comes first. */
const FLUSH_MS = 10;
const FLUSH_CHARS = 32 * 1024;

export interface LogWriterOptions {
  /** Most bytes held (default MAX_BUFFERED_LOG_BYTES). */
  maxBuffered?: number;
  /** Writes bytes without blocking; returns how many were taken, throws EAGAIN when none (default fs.writeSync on fd). */
  sink?: (bytes: Buffer) => number;
}

/**
 * A buffered writer to a file descriptor. `write` only appends to a string; the buffer goes out
 * with one write(2) 10 ms after its first line, or at the end of the event-loop turn in which it
 * passed 32 KiB: under load one write carries hundreds of lines, and the reader wakes up as rarely. A pipe is non-blocking (Node makes stdout's so), so
 * a slow reader means a partial write or EAGAIN: the rest waits for a retry timer, the event loop
 * goes on, and past `maxBuffered` new lines are dropped, counted, and announced by one marker line
 * once there is room again. `flushSync` writes everything out (at exit).
 *
 * Not pino's sonic-boom: it does the same with fs.write on the libuv thread pool (shared with DNS
 * look-ups of outbound calls), writes on every line rather than once per turn, and measures the
 * UTF-8 length of its last 16 KiB chunk on every write, which costs more than a request's access line.
 */
export class LogWriter {
  /** Lines not handed to the kernel yet, and the unwritten tail of a partial write. */
  private pending = "";
  private rest: Buffer | null = null;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private droppedLines = 0;
  private droppedBytes = 0;
  /** Lines and bytes dropped because the reader did not keep up, since start. */
  readonly dropped = { lines: 0, bytes: 0 };
  private readonly max: number;
  private readonly sink: (bytes: Buffer) => number;

  constructor(readonly fd: number, opts: LogWriterOptions = {}) {
    this.max = opts.maxBuffered ?? MAX_BUFFERED_LOG_BYTES;
    this.sink = opts.sink ?? ((b) => writeSync(fd, b));
  }

  /** Bytes (roughly: UTF-16 units of what is pending) waiting for the reader. */
  get buffered(): number {
    return this.pending.length + (this.rest?.length ?? 0);
  }

  write(line: string): void {
    const held = this.buffered;
    if (held + line.length > this.max) {
      this.droppedLines++;
      this.droppedBytes += line.length;
      this.dropped.lines++;
      this.dropped.bytes += line.length;
      return;
    }
    // Room again after drops: say so once, where the gap is.
    if (this.droppedLines > 0) this.pending += this.marker();
    this.pending += line;
    if (this.retry !== null || this.scheduled) return; // a retry or this turn's flush will take it
    if (this.pending.length >= FLUSH_CHARS) {
      this.scheduled = true;
      setImmediate(this.onTurn);
    } else if (this.timer === null) {
      // Unref'd: a process that is done exits at once, and the exit hook writes what is held.
      this.timer = setTimeout(this.onTurn, FLUSH_MS);
      this.timer.unref();
    }
  }

  private readonly onTurn = (): void => {
    this.scheduled = false;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    this.drain();
  };

  private readonly onRetry = (): void => {
    this.retry = null;
    this.drain();
  };

  /** Hands the kernel what it takes now, without blocking; true when nothing is left. */
  private drain(): boolean {
    for (;;) {
      if (this.rest === null) {
        // All written after drops: say so now, not only when the next line comes.
        if (this.pending === "" && this.droppedLines > 0) this.pending = this.marker();
        if (this.pending === "") return true;
        this.rest = Buffer.from(this.pending, "utf8");
        this.pending = "";
      }
      let n: number;
      try {
        n = this.sink(this.rest);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EAGAIN" || code === "EWOULDBLOCK") n = 0;
        else {
          // EPIPE and the like: nobody reads any more. Drop, count, carry on.
          this.dropped.bytes += this.rest.length + this.pending.length;
          this.rest = null;
          this.pending = "";
          return true;
        }
      }
      if (n >= this.rest.length) { this.rest = null; continue; }
      // The pipe is full: try again soon, without holding the event loop; at once (1 ms) while the
      // reader keeps taking, so a fast reader is not held to one pipe buffer per 10 ms.
      this.rest = this.rest.subarray(n);
      if (this.retry === null) {
        this.retry = setTimeout(this.onRetry, n > 0 ? 1 : 10);
        this.retry.unref();
      }
      return false;
    }
  }

  /** Writes everything out, waiting (blocking) up to `maxMs` for a reader that does not read. For exit. */
  flushSync(maxMs = EXIT_FLUSH_MS): void {
    if (this.droppedLines > 0) this.pending += this.marker();
    if (this.retry !== null) { clearTimeout(this.retry); this.retry = null; }
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    const until = Date.now() + maxMs;
    while (!this.drain()) {
      if (this.retry !== null) { clearTimeout(this.retry); this.retry = null; }
      if (Date.now() > until) return;
      Atomics.wait(SLEEP, 0, 0, 5);
    }
  }

  private marker(): string {
    const line = JSON.stringify({ time: new Date().toISOString(), level: "warn", msg: `log output dropped: ${this.droppedLines} lines (${this.droppedBytes} bytes) did not fit the ${this.max}-byte log buffer while stdout was not read fast enough`, droppedLines: this.droppedLines, droppedBytes: this.droppedBytes }) + "\n";
    this.droppedLines = 0;
    this.droppedBytes = 0;
    return line;
  }
}

const SLEEP = new Int32Array(new SharedArrayBuffer(4));

let stdout: LogWriter | null = null;

/** The process's stdout writer, made on first use; flushed when the process exits. */
export function stdoutWriter(): LogWriter {
  if (stdout) return stdout;
  const w = (stdout = new LogWriter(1));
  // A pipe or socket as stdout: creating process.stdout makes the fd non-blocking (libuv), so a
  // write(2) to it never waits for the reader. A file is written synchronously (fast); a TTY as Node does.
  try {
    const st = fstatSync(1);
    if (st.isFIFO() || st.isSocket()) void process.stdout;
  } catch { /* no stdout */ }
  process.on("exit", () => w.flushSync());
  return w;
}

function writeStdout(line: string): void {
  (stdout ?? stdoutWriter()).write(line);
}

/** Lines and bytes the stdout writer dropped because the reader did not keep up (for the metrics). */
export function logWriterDropped(): { lines: number; bytes: number } {
  return stdout?.dropped ?? { lines: 0, bytes: 0 };
}

/** Writes out buffered log lines now (blocking; at most a few seconds for a stalled reader). */
export function flushLogs(): void {
  stdout?.flushSync();
}
