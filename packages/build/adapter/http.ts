// HTTP/1.1 message parsing for the server (requests) and the Dapr client (responses).
import { Buf, eqLower } from "./mem";

export const MAX_HEAD = 16 * 1024;

/** Index just past the blank line ending the head in p..p+n, or -1. */
export function headEnd(p: usize, n: i32): i32 {
  for (let i = 3; i < n; i++) {
    if (load<u8>(p + <usize>i) == 10 && load<u8>(p + <usize>(i - 1)) == 13 && load<u8>(p + <usize>(i - 2)) == 10 && load<u8>(p + <usize>(i - 3)) == 13) return i + 1;
  }
  return -1;
}

function isTchar(c: i32): bool {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 33 || (c >= 35 && c <= 39) || c == 42 || c == 43 || c == 45 || c == 46 || c == 94 || c == 95 || c == 96 || c == 124 || c == 126;
}

/** A parsed head: the request (or status) line parts and the headers of interest. */
export class Head {
  // request line (server) / status (client)
  method: Buf = new Buf(16);
  target: Buf = new Buf(128);
  status: i32 = 0;
  http10: bool = false;
  /** All headers as `name: value\n` lines, names lower-cased (the ABI's HEADERS field). */
  lines: Buf = new Buf(512);
  contentLength: i64 = -1;
  chunked: bool = false;
  close: bool = false;
  keepAlive: bool = false;
  expectContinue: bool = false;
  badTE: bool = false;
  dupCL: bool = false;
  requestId: Buf = new Buf(64);
  contentType: Buf = new Buf(64);
  etag: Buf = new Buf(64);

  reset(): void {
    this.method.clear(); this.target.clear(); this.status = 0; this.http10 = false; this.lines.clear();
    this.contentLength = -1; this.chunked = false; this.close = false; this.keepAlive = false; this.expectContinue = false;
    this.badTE = false; this.dupCL = false; this.requestId.clear(); this.contentType.clear(); this.etag.clear();
  }
}

/**
 * Parses a request head in p..p+n (n = headEnd). Returns 0 when well formed, else the status
 * to answer (400 malformed, 501 unknown transfer coding, 505 not HTTP/1.x).
 */
export function parseRequestHead(p: usize, n: i32, h: Head): i32 {
  h.reset();
  let i = 0;
  // method
  while (i < n && isTchar(<i32>load<u8>(p + <usize>i))) { h.method.byte(<i32>load<u8>(p + <usize>i)); i++; }
  if (h.method.len == 0 || i >= n || load<u8>(p + <usize>i) != 32) return 400;
  i++;
  // target
  while (i < n) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c == 32) break;
    if (c <= 32 || c == 127) return 400;
    h.target.byte(c);
    i++;
  }
  if (h.target.len == 0 || i >= n) return 400;
  i++;
  // version
  if (i + 10 > n) return 400;
  if (load<u8>(p + <usize>i) != 72 || load<u8>(p + <usize>(i + 1)) != 84 || load<u8>(p + <usize>(i + 2)) != 84 || load<u8>(p + <usize>(i + 3)) != 80 || load<u8>(p + <usize>(i + 4)) != 47) return 400;
  if (load<u8>(p + <usize>(i + 5)) != 49 || load<u8>(p + <usize>(i + 6)) != 46) return 505;
  const minor = <i32>load<u8>(p + <usize>(i + 7));
  if (minor != 48 && minor != 49) return 505;
  h.http10 = minor == 48;
  i += 8;
  if (load<u8>(p + <usize>i) != 13 || load<u8>(p + <usize>(i + 1)) != 10) return 400;
  i += 2;
  return parseHeaders(p, i, n, h);
}

/** Parses a response head (the Dapr client). Returns 0, or -1 when malformed. */
export function parseResponseHead(p: usize, n: i32, h: Head): i32 {
  h.reset();
  if (n < 12 || load<u8>(p) != 72 || load<u8>(p + 4) != 47) return -1;
  let i = 0;
  while (i < n && load<u8>(p + <usize>i) != 32) i++;
  i++;
  let status = 0;
  let digits = 0;
  while (i < n) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c < 48 || c > 57) break;
    status = status * 10 + (c - 48);
    digits++;
    i++;
  }
  if (digits != 3) return -1;
  h.status = status;
  while (i < n && load<u8>(p + <usize>i) != 10) i++;
  i++;
  return parseHeaders(p, i, n, h) == 0 ? 0 : -1;
}

function parseHeaders(p: usize, i: i32, n: i32, h: Head): i32 {
  while (i < n) {
    if (load<u8>(p + <usize>i) == 13) return 0; // blank line
    const ns = i;
    while (i < n && isTchar(<i32>load<u8>(p + <usize>i))) i++;
    const ne = i;
    if (ne == ns || i >= n || load<u8>(p + <usize>i) != 58) return 400;
    i++;
    while (i < n && (load<u8>(p + <usize>i) == 32 || load<u8>(p + <usize>i) == 9)) i++;
    const vs = i;
    while (i < n && load<u8>(p + <usize>i) != 13) {
      const c = <i32>load<u8>(p + <usize>i);
      if ((c < 32 && c != 9) || c == 127) return 400;
      i++;
    }
    if (i + 1 >= n || load<u8>(p + <usize>(i + 1)) != 10) return 400;
    let ve = i;
    while (ve > vs && (load<u8>(p + <usize>(ve - 1)) == 32 || load<u8>(p + <usize>(ve - 1)) == 9)) ve--;
    i += 2;
    const np = p + <usize>ns;
    const nl = ne - ns;
    const vp = p + <usize>vs;
    const vl = ve - vs;
    for (let k = 0; k < nl; k++) {
      let c = <i32>load<u8>(np + <usize>k);
      if (c >= 65 && c <= 90) c += 32;
      h.lines.byte(c);
    }
    h.lines.byte(58); h.lines.byte(32); h.lines.push(vp, vl); h.lines.byte(10);
    if (eqLower(np, nl, "content-length")) {
      if (h.contentLength >= 0) h.dupCL = true;
      let v: i64 = 0;
      if (vl == 0 || vl > 15) return 400;
      for (let k = 0; k < vl; k++) {
        const c = <i32>load<u8>(vp + <usize>k);
        if (c < 48 || c > 57) return 400;
        v = v * 10 + (c - 48);
      }
      if (h.dupCL && v != h.contentLength) return 400;
      h.contentLength = v;
    } else if (eqLower(np, nl, "transfer-encoding")) {
      if (eqLower(vp, vl, "chunked")) h.chunked = true;
      else if (!eqLower(vp, vl, "identity")) h.badTE = true;
    } else if (eqLower(np, nl, "connection")) {
      if (containsLower(vp, vl, "close")) h.close = true;
      if (containsLower(vp, vl, "keep-alive")) h.keepAlive = true;
    } else if (eqLower(np, nl, "expect")) {
      if (eqLower(vp, vl, "100-continue")) h.expectContinue = true;
    } else if (eqLower(np, nl, "x-request-id")) {
      h.requestId.clear();
      if (vl <= 128) h.requestId.push(vp, vl);
    } else if (eqLower(np, nl, "content-type")) {
      h.contentType.clear(); h.contentType.push(vp, vl);
    } else if (eqLower(np, nl, "etag")) {
      h.etag.clear(); h.etag.push(vp, vl);
    }
  }
  return 400;
}

export function containsLower(p: usize, n: i32, lit: string): bool {
  const m = lit.length;
  for (let i = 0; i + m <= n; i++) if (eqLower(p + <usize>i, m, lit)) return true;
  return false;
}

/**
 * Decodes a chunked body starting at p (n bytes available) into out. Returns the bytes consumed
 * when the body (and its trailers) is complete, 0 when more is needed, -1 when malformed, -2 when
 * the decoded size passes `limit`.
 */
export function dechunk(p: usize, n: i32, out: Buf, limit: i64): i32 {
  out.clear();
  let i = 0;
  while (true) {
    let size: i64 = 0;
    let digits = 0;
    while (i < n) {
      const c = <i32>load<u8>(p + <usize>i);
      let d = -1;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      if (d < 0) break;
      size = size * 16 + d;
      digits++;
      if (digits > 12) return -1;
      i++;
    }
    if (i >= n) return 0;
    if (digits == 0) return -1;
    // chunk extensions (";name=value", after optional whitespace) up to CRLF; a bare LF is malformed
    const after = <i32>load<u8>(p + <usize>i);
    if (after != 59 && after != 32 && after != 9 && after != 13) return -1;
    while (i < n && load<u8>(p + <usize>i) != 10) i++;
    if (i >= n) return 0;
    if (load<u8>(p + <usize>(i - 1)) != 13) return -1;
    i++;
    if (size == 0) {
      // trailer fields ("name: value" CRLF) until an empty line (CRLF); anything else is malformed,
      // not the end of the body: the bytes after it must not be read as the next request
      while (true) {
        const ls = i;
        while (i < n && load<u8>(p + <usize>i) != 10) i++;
        if (i >= n) return 0;
        i++;
        if (i - ls < 2 || load<u8>(p + <usize>(i - 2)) != 13) return -1;
        if (i - ls == 2) return i;
        let colon = false;
        for (let k = ls; k < i - 2; k++) if (load<u8>(p + <usize>k) == 58) { colon = true; break; }
        if (!colon) return -1;
      }
    }
    if (<i64>out.len + size > limit) return -2;
    if (<i64>i + size + 2 > <i64>n) return 0;
    out.push(p + <usize>i, <i32>size);
    i += <i32>size;
    if (load<u8>(p + <usize>i) != 13 || load<u8>(p + <usize>(i + 1)) != 10) return -1;
    i += 2;
  }
  return -1;
}

/** Percent-decodes p..p+n into out; false when malformed. */
export function percentDecode(p: usize, n: i32, out: Buf): bool {
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c != 37) { out.byte(c); continue; }
    if (i + 2 >= n) return false;
    const a = hexv(<i32>load<u8>(p + <usize>(i + 1)));
    const b = hexv(<i32>load<u8>(p + <usize>(i + 2)));
    if (a < 0 || b < 0) return false;
    out.byte((a << 4) | b);
    i += 2;
  }
  return true;
}

function hexv(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export function reason(status: i32): string {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

/** RFC 3339 UTC time with milliseconds from nanoseconds since the epoch (Node's toISOString form). */
export function isoTime(ns: u64, out: Buf): void {
  const ms = <i64>(ns / 1000000);
  let secs = ms / 1000;
  const milli = <i32>(ms % 1000);
  let days = secs / 86400;
  let rem = <i32>(secs % 86400);
  // civil from days (Howard Hinnant)
  days += 719468;
  const era = days / 146097;
  const doe = <i32>(days - era * 146097);
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  let y = <i64>yoe + era * 400;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const d = doy - (153 * mp + 2) / 5 + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  pad(out, <i32>y, 4); out.byte(45); pad(out, m, 2); out.byte(45); pad(out, d, 2); out.byte(84);
  pad(out, rem / 3600, 2); out.byte(58); pad(out, (rem % 3600) / 60, 2); out.byte(58); pad(out, rem % 60, 2);
  out.byte(46); pad(out, milli, 3); out.byte(90);
}

function pad(out: Buf, v: i32, w: i32): void {
  let div = 1;
  for (let i = 1; i < w; i++) div *= 10;
  while (div > 0) { out.byte(48 + (v / div) % 10); div /= 10; }
}
