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

/** A line the guest logged (ABI `log`, or its stdout/stderr). */
export function guest(level: i32, p: usize, n: i32): void {
  if (level < 0 || level > 3) level = 1;
  if (level == 3) lastErr = String.UTF8.decodeUnsafe(p, <usize>(n > 300 ? 300 : n));
  open(LEVELS[level]).jbytes(p, n);
  line.str(",\"source\":\"guest\"");
  close(true);
}

/** ": <what the guest last wrote to stderr>", or "" — appended to exit messages. */
export function lastGuestError(): string { return lastErr.length > 0 ? ": " + lastErr : ""; }
export function resetGuestError(): void { lastErr = ""; }

/** The access log: one line when a request starts (so a trap still names it) and one when it is answered. */
export function requestStart(method: Buf, path: Buf): void {
  open("info").str("\"request started\",\"method\":").jbuf(method).str(",\"path\":").jbuf(path);
  close(true);
}
export function request(method: Buf, path: Buf, status: i32, us: i64): void {
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
