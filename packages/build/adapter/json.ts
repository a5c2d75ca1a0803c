// A small JSON scanner over raw bytes: enough to read CloudEvent envelopes, Dapr's error answers,
// secrets and configuration maps without building a value tree.
import { Buf, eqBytes } from "./mem";

/** Where the last `member` or `next` found its value (and, for `next`, its key). */
export let vStart: usize = 0;
export let vEnd: usize = 0;
export let kStart: usize = 0;
export let kEnd: usize = 0;

function ws(p: usize, end: usize): usize {
  while (p < end) {
    const c = load<u8>(p);
    if (c != 32 && c != 9 && c != 10 && c != 13) break;
    p++;
  }
  return p;
}

/** The end of the JSON value starting at p (after leading whitespace), or 0 when malformed. */
export function skipValue(p: usize, end: usize, depth: i32 = 0): usize {
  p = ws(p, end);
  if (p >= end || depth > 64) return 0;
  const c = load<u8>(p);
  if (c == 34) { // string
    p++;
    while (p < end) {
      const d = load<u8>(p);
      if (d == 92) { p += 2; continue; }
      if (d == 34) return p + 1;
      p++;
    }
    return 0;
  }
  if (c == 123 || c == 91) { // object or array
    const close: u8 = c == 123 ? 125 : 93;
    p = ws(p + 1, end);
    if (p < end && load<u8>(p) == close) return p + 1;
    while (p < end) {
      if (c == 123) {
        p = ws(p, end);
        if (p >= end || load<u8>(p) != 34) return 0;
        p = skipValue(p, end, depth + 1);
        if (p == 0) return 0;
        p = ws(p, end);
        if (p >= end || load<u8>(p) != 58) return 0;
        p++;
      }
      p = skipValue(p, end, depth + 1);
      if (p == 0) return 0;
      p = ws(p, end);
      if (p >= end) return 0;
      const d = load<u8>(p);
      if (d == 44) { p++; continue; }
      if (d == close) return p + 1;
      return 0;
    }
    return 0;
  }
  // number, true, false, null
  const start = p;
  while (p < end) {
    const d = load<u8>(p);
    if (d == 44 || d == 125 || d == 93 || d == 32 || d == 9 || d == 10 || d == 13) break;
    p++;
  }
  return p > start ? p : 0;
}

/** True when p..end holds exactly one JSON value (whitespace around it allowed). */
export function isJson(p: usize, end: usize): bool {
  const e = skipValue(p, end);
  if (e == 0) return false;
  if (ws(e, end) != end) return false;
  // a bare word must be a literal or a number
  const s = ws(p, end);
  const c = load<u8>(s);
  if (c == 34 || c == 123 || c == 91) return true;
  const n = <i32>(e - s);
  if (eqBytes(s, n, "true") || eqBytes(s, n, "false") || eqBytes(s, n, "null")) return true;
  for (let q = s; q < e; q++) {
    const d = load<u8>(q);
    if (!((d >= 48 && d <= 57) || d == 45 || d == 43 || d == 46 || d == 101 || d == 69)) return false;
  }
  return true;
}

/** Iterates the members of the object at p: call with the object's start, then with the cursor it returns. 0 = done or malformed. */
export function firstMember(p: usize, end: usize): usize {
  p = ws(p, end);
  if (p >= end || load<u8>(p) != 123) return 0;
  return nextMember(p + 1, end);
}

export function nextMember(p: usize, end: usize): usize {
  p = ws(p, end);
  if (p < end && load<u8>(p) == 44) p = ws(p + 1, end);
  if (p >= end || load<u8>(p) != 34) return 0;
  const ke = skipValue(p, end);
  if (ke == 0) return 0;
  kStart = p + 1; kEnd = ke - 1;
  let q = ws(ke, end);
  if (q >= end || load<u8>(q) != 58) return 0;
  q = ws(q + 1, end);
  const ve = skipValue(q, end);
  if (ve == 0) return 0;
  vStart = q; vEnd = ve;
  return ve;
}

/** Finds a top-level member of the object at p..end; sets vStart/vEnd. */
export function member(p: usize, end: usize, key: string): bool {
  let cur = firstMember(p, end);
  while (cur != 0) {
    if (keyIs(key)) return true;
    cur = nextMember(cur, end);
  }
  return false;
}

function keyIs(key: string): bool {
  // keys we look for are ASCII without escapes
  return eqBytes(kStart, <i32>(kEnd - kStart), key);
}

export function valueIsString(): bool { return vEnd > vStart && load<u8>(vStart) == 34; }

/** Appends the decoded contents of the JSON string at s..e (quotes included) to out. */
export function unescape(s: usize, e: usize, out: Buf): void {
  let p = s + 1;
  const end = e - 1;
  while (p < end) {
    const c = <i32>load<u8>(p);
    if (c != 92) { out.byte(c); p++; continue; }
    p++;
    if (p >= end) break;
    const d = <i32>load<u8>(p);
    p++;
    if (d == 110) out.byte(10);
    else if (d == 116) out.byte(9);
    else if (d == 114) out.byte(13);
    else if (d == 98) out.byte(8);
    else if (d == 102) out.byte(12);
    else if (d == 117) {
      let cp = hex4(p, end);
      p += 4;
      if (cp >= 0xd800 && cp < 0xdc00 && p + 6 <= end && load<u8>(p) == 92 && load<u8>(p + 1) == 117) {
        const lo = hex4(p + 2, end);
        if (lo >= 0xdc00 && lo < 0xe000) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); p += 6; }
      }
      utf8cp(out, cp);
    } else out.byte(d);
  }
}

function hex4(p: usize, end: usize): i32 {
  if (p + 4 > end) return 0xfffd;
  let v = 0;
  for (let i: usize = 0; i < 4; i++) {
    const c = <i32>load<u8>(p + i);
    let d = -1;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    if (d < 0) return 0xfffd;
    v = (v << 4) | d;
  }
  return v;
}

function utf8cp(out: Buf, cp: i32): void {
  if (cp < 0x80) out.byte(cp);
  else if (cp < 0x800) { out.byte(0xc0 | (cp >> 6)); out.byte(0x80 | (cp & 63)); }
  else if (cp < 0x10000) { out.byte(0xe0 | (cp >> 12)); out.byte(0x80 | ((cp >> 6) & 63)); out.byte(0x80 | (cp & 63)); }
  else { out.byte(0xf0 | (cp >> 18)); out.byte(0x80 | ((cp >> 12) & 63)); out.byte(0x80 | ((cp >> 6) & 63)); out.byte(0x80 | (cp & 63)); }
}

/** The string value of member `key` (decoded), or null when absent or not a string. */
export function stringMember(p: usize, end: usize, key: string): Buf | null {
  if (!member(p, end, key) || !valueIsString()) return null;
  const out = new Buf(<i32>(vEnd - vStart));
  unescape(vStart, vEnd, out);
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
function b64v(c: i32): i32 {
  if (c >= 65 && c <= 90) return c - 65;
  if (c >= 97 && c <= 122) return c - 71;
  if (c >= 48 && c <= 57) return c + 4;
  if (c == 43 || c == 45) return 62;
  if (c == 47 || c == 95) return 63;
  return -1;
}
/** Decodes base64 (standard or URL alphabet; padding optional) into out; false when malformed. */
export function base64Decode(p: usize, n: i32, out: Buf): bool {
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < n; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (c == 61) break;
    const v = b64v(c);
    if (v < 0) return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) { bits -= 8; out.byte((acc >> bits) & 255); }
  }
  return true;
}
export function base64Encode(p: usize, n: i32, out: Buf): void {
  let i = 0;
  while (i + 2 < n) {
    const v = (<i32>load<u8>(p + <usize>i) << 16) | (<i32>load<u8>(p + <usize>(i + 1)) << 8) | <i32>load<u8>(p + <usize>(i + 2));
    out.byte(B64.charCodeAt(v >> 18)); out.byte(B64.charCodeAt((v >> 12) & 63)); out.byte(B64.charCodeAt((v >> 6) & 63)); out.byte(B64.charCodeAt(v & 63));
    i += 3;
  }
  if (i < n) {
    let v = <i32>load<u8>(p + <usize>i) << 16;
    if (i + 1 < n) v |= <i32>load<u8>(p + <usize>(i + 1)) << 8;
    out.byte(B64.charCodeAt(v >> 18)); out.byte(B64.charCodeAt((v >> 12) & 63));
    out.byte(i + 1 < n ? B64.charCodeAt((v >> 6) & 63) : 61);
    out.byte(61);
  }
}
