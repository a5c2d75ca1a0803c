// Structured logs, one JSON object a line on stdout: {time, level, msg, ...fields}, the shim's shape.
import { Buf } from "./mem";
import { isoTime } from "./http";
import { now, writeAll } from "./wasi";
import { fnLabel } from "./config";

const line = new Buf(512);
export let requestId = new Buf(64);
let lastErr = "";

const LEVELS: string[] = ["debug", "info", "warn", "error"];

function open(level: string): Buf {
  line.clear();
  line.str("{\"time\":\"");
  isoTime(now(0), line);
  line.str("\",\"level\":\"").str(level).str("\",\"msg\":");
  return line;
}
function close(withRequest: bool): void {
  line.str(",\"fn\":").jstr(fnLabel);
  if (withRequest && requestId.len > 0) line.str(",\"requestId\":").jbuf(requestId);
  line.str("}\n");
  writeAll(1, line.ptr, line.len);
}

export function info(msg: string): void { open("info").jstr(msg); close(false); }
export function warn(msg: string): void { open("warn").jstr(msg); close(true); }
export function error(msg: string): void { open("error").jstr(msg); close(true); }

// Guest log budgets, the shim's defaults for limits.log (runtime-shim/src/instance/guest-log.ts):
// message bytes and lines a request and a second, and the longest line. Past them, lines are
// dropped and counted; one marker line says how many, once a request and once a second.
const REQUEST_BYTES: i64 = 64 * 1024;
const REQUEST_LINES: i32 = 1000;
const SECOND_BYTES: i64 = 1024 * 1024;
const SECOND_LINES: i32 = 10000;
const LINE_BYTES: i32 = 16 * 1024;
let reqBytes: i64 = 0;
let reqLines: i32 = 0;
let reqDroppedBytes: i64 = 0;
let reqDroppedLines: i32 = 0;
let secondEnd: u64 = 0;
let secBytes: i64 = 0;
let secLines: i32 = 0;
let secDroppedBytes: i64 = 0;
let secDroppedLines: i32 = 0;

/** A line the guest logged (ABI `log`, or its stdout/stderr), within its log budgets. */
export function guest(level: i32, p: usize, n: i32): void {
  if (level < 0 || level > 3) level = 1;
  if (level == 3) lastErr = String.UTF8.decodeUnsafe(p, <usize>(n > 300 ? 300 : n));
  if (n < 0) n = 0;
  const keep = n < LINE_BYTES ? n : LINE_BYTES;
  if (reqLines >= REQUEST_LINES || reqBytes + <i64>keep > REQUEST_BYTES) {
    reqDroppedLines++;
    reqDroppedBytes += <i64>n;
    return;
  }
  const t = now();
  if (t >= secondEnd) {
    secondMarker();
    secondEnd = t + 1_000_000_000;
    secBytes = 0;
    secLines = 0;
  }
  if (secLines >= SECOND_LINES || secBytes + <i64>keep > SECOND_BYTES) {
    secDroppedLines++;
    secDroppedBytes += <i64>n;
    return;
  }
  reqLines++;
  reqBytes += <i64>keep;
  secLines++;
  secBytes += <i64>keep;
  if (n <= LINE_BYTES) open(LEVELS[level]).jbytes(p, n);
  else {
    // Cut at a character boundary, leaving room for the marker inside LINE_BYTES.
    let head = LINE_BYTES - 40;
    while (head > 0 && (<i32>load<u8>(p + <usize>head) & 0xc0) == 0x80) head--;
    open(LEVELS[level]).jbytes(p, head);
    line.len--; // the closing quote
    line.str("…[truncated ").int(<i64>(n - head)).str(" bytes]\"");
  }
  line.str(",\"source\":\"guest\"");
  close(true);
}

/** One marker line: what a budget dropped. */
function marker(budget: string, msg: string, bytes: i64, lines: i32, withRequest: bool): void {
  open("warn").jstr(msg + "; dropped " + bytes.toString() + " bytes in " + lines.toString() + " lines (limits.log." + (budget == "second" ? "perSecond" : "perRequest") + ")");
  line.str(",\"source\":\"host\",\"budget\":\"").str(budget).str("\",\"droppedBytes\":").int(bytes).str(",\"droppedLines\":").int(<i64>lines);
  close(withRequest);
}

/** The marker of a second in which the guest's lines were dropped, once that second is over. */
function secondMarker(): void {
  if (secDroppedLines == 0) return;
  marker("second", "guest log over budget: more than " + SECOND_BYTES.toString() + " bytes or " + SECOND_LINES.toString() + " lines in one second", secDroppedBytes, secDroppedLines, false);
  secDroppedBytes = 0;
  secDroppedLines = 0;
}

/** The marker of a request whose lines were dropped, when it ends (before its access line). */
function requestMarker(): void {
  if (secondEnd != 0 && now() >= secondEnd) secondMarker();
  if (reqDroppedLines == 0) return;
  marker("request", "guest log over budget: this request logged more than " + REQUEST_BYTES.toString() + " bytes or " + REQUEST_LINES.toString() + " lines", reqDroppedBytes, reqDroppedLines, true);
  reqDroppedBytes = 0;
  reqDroppedLines = 0;
}

/** ": <what the guest last wrote to stderr>", or "" — appended to exit messages. */
export function lastGuestError(): string { return lastErr.length > 0 ? ": " + lastErr : ""; }
/** A new request starts: its guest error and its log budget start over. */
export function resetGuestError(): void {
  lastErr = "";
  reqBytes = 0;
  reqLines = 0;
  reqDroppedBytes = 0;
  reqDroppedLines = 0;
}

/** The access log: one line when a request starts (so a trap still names it) and one when it is answered. */
export function requestStart(method: Buf, path: Buf): void {
  open("info").str("\"request started\",\"method\":").jbuf(method).str(",\"path\":").jbuf(path);
  close(true);
}
export function request(method: Buf, path: Buf, status: i32, us: i64): void {
  requestMarker();
  open("info").str("\"request\",\"method\":").jbuf(method).str(",\"path\":").jbuf(path).str(",\"status\":").int(status);
  line.str(",\"ms\":").int(us / 1000).byte(46);
  const frac = <i32>(us % 1000);
  line.byte(48 + frac / 100).byte(48 + (frac / 10) % 10).byte(48 + frac % 10);
  close(true);
}

export function fields2(level: string, msg: string, k1: string, v1: string, k2: string, v2: string): void {
  open(level).jstr(msg).str(",\"").str(k1).str("\":").jstr(v1);
  if (k2.length > 0) line.str(",\"").str(k2).str("\":").jstr(v2);
  close(true);
}
