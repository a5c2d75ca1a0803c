// The guest's host: the `wfn` imports of ABI v1 (docs/abi.md), served inside Wasm against the
// guest's own memory, and shims for the guest's WASI imports (the same deny-by-default subset the
// Node shim gives). The linker renames the guest's `wasi_snapshot_preview1.X` imports to `wfn.wasi_X`.
import { to_guest, from_guest, guest_size } from "./glue";
import { Buf } from "./mem";
import { clock_time_get, clock_res_get, random_get, now } from "./wasi";
import { dispatch } from "./caps";
import * as log from "./log";
import { abortRequest, serving } from "./server";
import { timeoutMs, responseBytes, fnName } from "./config";

// ---- the request being served (one at a time) ----
export const FIELD_COUNT = 20;
export const fields = new Array<Buf>(FIELD_COUNT);
export const present = new StaticArray<bool>(FIELD_COUNT);
for (let i = 0; i < FIELD_COUNT; i++) fields[i] = new Buf(0);

export let resStatus = 200;
export const resHeaders = new Buf(256); // "name: value\r\n" lines, already checked
export const resBody = new Buf(1024);
export let resTooLarge = false;
export let resContentType = new Buf(64);
export let deadline: u64 = 0;
export let invoking = false;

const pending = new Buf(256);
let hasPending = false;

export function field(id: i32): Buf { present[id] = true; const b = fields[id]; b.clear(); return b; }

export function beginInvocation(): void {
  resStatus = 200;
  resHeaders.clear();
  resBody.clear();
  resContentType.clear();
  resTooLarge = false;
  resHeaderCount = 0;
  hasPending = false;
  pending.clear();
  deadline = now() + <u64>timeoutMs * 1000000;
  invoking = true;
}

export function clearRequest(): void {
  for (let i = 0; i < FIELD_COUNT; i++) { present[i] = false; fields[i].clear(); fields[i].trim(64 * 1024); }
  resBody.trim(64 * 1024);
  invoking = false;
}

// ---- guest memory access, bounds-checked: a bad range fails the request like a trap ----
function checkRange(ptr: u32, len: u32, what: string): void {
  if (<u64>ptr + <u64>len > <u64>guest_size()) {
    abortRequest(500, "WFN_TRAP", "the function passed a memory range outside its memory to " + what);
  }
}
function fromGuest(ptr: u32, len: u32, what: string): Uint8Array {
  checkRange(ptr, len, what);
  const out = new Uint8Array(<i32>len);
  if (len > 0) from_guest(out.dataStart, ptr, len);
  return out;
}
function toGuest(dst: u32, src: usize, len: u32, what: string): void {
  checkRange(dst, len, what);
  if (len > 0) to_guest(dst, src, len);
}

// ---- ABI v1 imports ----
export function request_get(f: i32, buf: u32, cap: u32): i32 {
  if (f < 0 || f >= FIELD_COUNT || !present[f]) return -1;
  const b = fields[f];
  const n = <u32>b.len < cap ? <u32>b.len : cap;
  toGuest(buf, b.ptr, n, "request_get");
  return b.len;
}

export function request_header(namePtr: u32, nameLen: u32, buf: u32, cap: u32): i32 {
  const name = fromGuest(namePtr, nameLen, "request_header");
  for (let i = 0; i < name.length; i++) { const c = name[i]; if (c >= 65 && c <= 90) name[i] = c + 32; }
  const lines = fields[4];
  const out = new Buf(0);
  let found = false;
  let p = 0;
  while (p < lines.len) {
    let e = p;
    while (e < lines.len && lines.at(e) != 10) e++;
    // "name: value"
    const n = name.length;
    if (e - p > n + 1 && lines.at(p + n) == 58) {
      let same = true;
      for (let k = 0; k < n; k++) if (lines.at(p + k) != <i32>name[k]) { same = false; break; }
      if (same) {
        if (found) { out.byte(44); out.byte(32); }
        out.push(lines.ptr + <usize>(p + n + 2), e - p - n - 2);
        found = true;
      }
    }
    p = e + 1;
  }
  if (!found) return -1;
  const c = <u32>out.len < cap ? <u32>out.len : cap;
  toGuest(buf, out.ptr, c, "request_header");
  const len = out.len;
  out.release();
  return len;
}

export function response_status(status: i32): void {
  resStatus = status; // checked when the answer is sent: 200-599 only (server.ts)
}

let resHeaderCount = 0;
const MAX_RESPONSE_HEADERS = 100;

export function response_header(np: u32, nl: u32, vp: u32, vl: u32): void {
  // Headers count against limits.responseBody with the body, and their number is bounded.
  if (resHeaderCount >= MAX_RESPONSE_HEADERS || <i64>resHeaders.len + <i64>resBody.len + <i64>nl + <i64>vl + 4 > responseBytes) { resTooLarge = true; return; }
  resHeaderCount++;
  const n = fromGuest(np, nl, "response_header");
  const v = fromGuest(vp, vl, "response_header");
  if (n.length == 0) return;
  for (let i = 0; i < n.length; i++) {
    const c = n[i];
    if (c <= 32 || c >= 127 || c == 58) return; // not a token: dropped
  }
  for (let i = 0; i < v.length; i++) { const c = v[i]; if (c == 13 || c == 10 || c == 0) return; }
  const name = String.UTF8.decodeUnsafe(n.dataStart, n.length).toLowerCase();
  // the host frames the body itself
  // the host owns the framing and the client's connection: framing and hop-by-hop headers are dropped
  if (name == "content-length" || name == "transfer-encoding" || name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
    name == "upgrade" || name == "te" || name == "trailer" || name == "proxy-authenticate" || name == "proxy-authorization" || name == "x-request-id") return;
  if (name == "content-type") { resContentType.clear(); resContentType.bytes(v); }
  resHeaders.bytes(n).byte(58).byte(32).bytes(v).byte(13).byte(10);
}

export function response_body(ptr: u32, len: u32): void {
  checkRange(ptr, len, "response_body");
  if (<i64>resHeaders.len + <i64>resBody.len + <i64>len > responseBytes) { resTooLarge = true; return; }
  resBody.reserve(<i32>len);
  if (len > 0) from_guest(resBody.ptr + <usize>resBody.len, ptr, len);
  resBody.len += <i32>len;
}

export function log_(level: i32, ptr: u32, len: u32): void {
  const b = fromGuest(ptr, len, "log");
  log.guest(level, b.dataStart, b.length);
}

export function call(op: i32, ptr: u32, len: u32): i32 {
  const args = fromGuest(ptr, len, "call");
  pending.clear();
  const code = dispatch(op, args, pending);
  hasPending = true;
  return code == 0 ? pending.len : -code;
}

export function result_take(buf: u32, cap: u32): i32 {
  if (!hasPending) return 0;
  const n = <u32>pending.len < cap ? <u32>pending.len : cap;
  toGuest(buf, pending.ptr, n, "result_take");
  const len = pending.len;
  if (cap >= <u32>len) { hasPending = false; pending.clear(); pending.trim(64 * 1024); }
  return len;
}

/** Runs when the guest's fuel runs out: fresh fuel, or the end of the request past its deadline. */
export function interrupt(): i32 {
  if (invoking && now() > deadline) {
    abortRequest(504, "WFN_TIMEOUT", fnName + " ran past its timeout of " + timeoutMs.toString() + " ms and was stopped; make it faster or raise limits.timeout in wasm-fn.yaml");
  }
  return 20000;
}

// ---- the guest's WASI subset ----
const scratch = memory.data(64);

export function wasi_fd_write(fd: i32, iovs: u32, n: i32, nwritten: u32): i32 {
  if (fd != 1 && fd != 2) return 8;
  if (n < 0 || n > 1024) return 28;
  const vec = fromGuest(iovs, <u32>(n * 8), "fd_write");
  const text = new Buf(128);
  for (let i = 0; i < n; i++) {
    const p = load<u32>(vec.dataStart + <usize>(i * 8));
    const l = load<u32>(vec.dataStart + <usize>(i * 8 + 4));
    text.bytes(fromGuest(p, l, "fd_write"));
  }
  store<u32>(scratch, <u32>text.len);
  toGuest(nwritten, scratch, 4, "fd_write");
  let len = text.len;
  while (len > 0 && text.at(len - 1) == 10) len--;
  if (len > 0) log.guest(fd == 2 ? 3 : 1, text.ptr, len);
  text.release();
  return 0;
}
export function wasi_fd_read(fd: i32, a: i32, b: i32, c: i32): i32 { return 8; }
export function wasi_fd_close(fd: i32): i32 { return 8; }
export function wasi_fd_seek(fd: i32, off: i64, whence: i32, out: i32): i32 { return 8; }
export function wasi_fd_fdstat_get(fd: i32, out: i32): i32 { return fd <= 2 ? 52 : 8; }
export function wasi_fd_prestat_get(fd: i32, out: i32): i32 { return 8; }
export function wasi_fd_prestat_dir_name(fd: i32, p: i32, l: i32): i32 { return 8; }
export function wasi_proc_exit(code: i32): void {
  abortRequest(500, "WFN_GUEST_EXIT", "the function exited (proc_exit(" + code.toString() + ")) " + (serving() ? "while handling the request" : "while starting, before serving any request") + log.lastGuestError());
}
export function wasi_random_get(buf: u32, len: u32): i32 {
  checkRange(buf, len, "random_get");
  const tmp = heap.alloc(<usize>len);
  random_get(tmp, <i32>len);
  to_guest(buf, tmp, len);
  heap.free(tmp);
  return 0;
}
export function wasi_clock_time_get(id: i32, precision: i64, out: u32): i32 {
  const e = clock_time_get(id, precision, scratch);
  if (e != 0) return e;
  toGuest(out, scratch, 8, "clock_time_get");
  return 0;
}
export function wasi_clock_res_get(id: i32, out: u32): i32 {
  const e = clock_res_get(id, scratch);
  if (e != 0) return e;
  toGuest(out, scratch, 8, "clock_res_get");
  return 0;
}
function zeroPair(a: u32, b: u32, what: string): i32 {
  store<u64>(scratch, 0);
  toGuest(a, scratch, 4, what);
  toGuest(b, scratch, 4, what);
  return 0;
}
export function wasi_environ_sizes_get(count: u32, size: u32): i32 { return zeroPair(count, size, "environ_sizes_get"); }
export function wasi_environ_get(a: i32, b: i32): i32 { return 0; }
export function wasi_args_sizes_get(count: u32, size: u32): i32 { return zeroPair(count, size, "args_sizes_get"); }
export function wasi_args_get(a: i32, b: i32): i32 { return 0; }
export function wasi_sched_yield(): i32 { return 0; }
export function wasi_poll_oneoff(a: i32, b: i32, c: i32, d: i32): i32 { return 52; }

