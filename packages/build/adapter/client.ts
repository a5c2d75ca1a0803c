// A blocking HTTP/1.1 client (one connection per call) with a deadline, for Dapr's HTTP API and
// the guest's outbound HTTP.
import { Buf } from "./mem";
import { Head, headEnd, parseResponseHead, dechunk, MAX_HEAD } from "./http";
import * as net from "./net";
import { now } from "./wasi";

export const head = new Head();
export const body = new Buf(1024);
const out = new Buf(1024);
const inbuf = new Buf(4096);

export const OK = 0;
export const REFUSED = -1;
export const TIMEOUT = -2;
export const BROKEN = -3;
export const TOO_LARGE = -4;

/**
 * Sends one request and reads the answer into `head` and `body`. Returns OK, or REFUSED (nothing
 * listens), TIMEOUT (no full answer before the deadline), BROKEN (malformed or cut answer), TOO_LARGE.
 */
export function request(ip: u32, port: i32, hostHeader: string, method: string, path: string, headers: Buf | null, bodyPtr: usize, bodyLen: i32, timeoutMs: i64, maxBody: i64): i32 {
  const deadline = now() + <u64>timeoutMs * 1000000;
  const fd = net.connect(ip, port, deadline);
  if (fd < 0) return fd == -2 ? TIMEOUT : REFUSED;
  out.clear();
  out.str(method).byte(32).str(path).str(" HTTP/1.1\r\nhost: ").str(hostHeader).str("\r\nconnection: close\r\n");
  if (headers !== null) out.buf(headers);
  if (bodyLen > 0 || (method != "GET" && method != "HEAD" && method != "DELETE")) out.str("content-length: ").int(bodyLen).str("\r\n");
  out.str("\r\n");
  if (!net.sendAll(fd, out.ptr, out.len, deadline) || (bodyLen > 0 && !net.sendAll(fd, bodyPtr, bodyLen, deadline))) {
    net.close(fd);
    return now() >= deadline ? TIMEOUT : REFUSED;
  }
  out.trim(16 * 1024);
  inbuf.clear();
  body.clear();
  let he = -1;
  let result = BROKEN;
  while (true) {
    const r = net.recv(fd, inbuf, 16 * 1024);
    if (r == -1) {
      if (!net.waitFd(fd, false, deadline)) { result = TIMEOUT; break; }
      continue;
    }
    if (r == -2) { result = he < 0 && inbuf.len == 0 ? REFUSED : BROKEN; break; }
    const closed = r == 0;
    if (he < 0) {
      he = headEnd(inbuf.ptr, inbuf.len);
      if (he < 0) {
        if (closed || inbuf.len > MAX_HEAD) { result = inbuf.len == 0 ? REFUSED : BROKEN; break; }
        continue;
      }
      if (parseResponseHead(inbuf.ptr, he, head) != 0) { result = BROKEN; break; }
    }
    const avail = inbuf.len - he;
    if (head.status == 204 || head.status == 304 || method == "HEAD") { result = OK; break; }
    if (head.chunked) {
      const c = dechunk(inbuf.ptr + <usize>he, avail, body, maxBody);
      if (c > 0) { result = OK; break; }
      if (c == -1) { result = BROKEN; break; }
      if (c == -2) { result = TOO_LARGE; break; }
      if (closed) { result = BROKEN; break; }
      continue;
    }
    if (head.contentLength >= 0) {
      if (head.contentLength > maxBody) { result = TOO_LARGE; break; }
      if (<i64>avail >= head.contentLength) { body.push(inbuf.ptr + <usize>he, <i32>head.contentLength); result = OK; break; }
      if (closed) { result = BROKEN; break; }
      continue;
    }
    // no length: until the peer closes
    if (<i64>avail > maxBody) { result = TOO_LARGE; break; }
    if (closed) { body.push(inbuf.ptr + <usize>he, avail); result = OK; break; }
  }
  net.close(fd);
  inbuf.trim(64 * 1024);
  return result;
}
