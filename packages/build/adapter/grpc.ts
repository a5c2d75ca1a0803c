// A minimal gRPC client (HTTP/2 over cleartext, one call per connection) for the daprd calls whose
// HTTP API would change a guest's bytes: output bindings and state writes of values that are not
// plain JSON (daprd's HTTP API re-encodes `data`/`value` as JSON). The Node shim uses @dapr/dapr's
// gRPC client for the same calls. Only what a unary call to daprd needs: our headers as HPACK
// literals, the server's decoded with the static and dynamic tables and Huffman strings.
import { Buf, eqBytes } from "./mem";
import * as net from "./net";
import { now } from "./wasi";
import { HUFF_CODES, HUFF_LENS } from "./huffman";

export const reply = new Buf(1024);
export let status = 0;
export let message = "";

export const OK = 0;
export const REFUSED = -1;
export const TIMEOUT = -2;
export const BROKEN = -3;
export const TOO_LARGE = -4;

const out = new Buf(1024);
const inb = new Buf(4096);
const block = new Buf(256);

function frame(b: Buf, type: i32, flags: i32, stream: i32, payload: usize, len: i32): void {
  b.byte((len >> 16) & 255).byte((len >> 8) & 255).byte(len & 255).byte(type).byte(flags);
  b.byte((stream >> 24) & 127).byte((stream >> 16) & 255).byte((stream >> 8) & 255).byte(stream & 255);
  b.push(payload, len);
}

function hpackInt(b: Buf, v: i32, prefixBits: i32, first: i32): void {
  const max = (1 << prefixBits) - 1;
  if (v < max) { b.byte(first | v); return; }
  b.byte(first | max);
  v -= max;
  while (v >= 128) { b.byte((v & 127) | 128); v >>= 7; }
  b.byte(v);
}
function literal(b: Buf, name: string, value: string): void {
  b.byte(0); // literal header field without indexing, new name
  const n = String.UTF8.encode(name);
  hpackInt(b, n.byteLength, 7, 0); b.push(changetype<usize>(n), n.byteLength);
  const v = String.UTF8.encode(value);
  hpackInt(b, v.byteLength, 7, 0); b.push(changetype<usize>(v), v.byteLength);
}

/**
 * Calls `/dapr.proto.runtime.v1.Dapr/<method>` on 127.0.0.1:port with one protobuf message. Returns
 * OK with `status` (the grpc-status; `message` its grpc-message) and, when 0, the reply message in
 * `reply`; or REFUSED, TIMEOUT, BROKEN, TOO_LARGE.
 */
export function call(port: i32, method: string, msg: Buf, token: string, timeoutMs: i64): i32 {
  if (msg.len > 60 * 1024) return TOO_LARGE; // one flow-control window: no WINDOW_UPDATE wait
  const deadline = now() + <u64>timeoutMs * 1000000;
  const fd = net.connect(net.parseIPv4("127.0.0.1"), port, deadline);
  if (fd < 0) return REFUSED;
  status = -1; message = ""; reply.clear();
  out.clear();
  out.str("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  // SETTINGS: no dynamic table for us (HEADER_TABLE_SIZE 0), a large window for the answer.
  const st = memory.data(12);
  store<u16>(st, bswap<u16>(1)); store<u32>(st + 2, 0);
  store<u16>(st + 6, bswap<u16>(4)); store<u32>(st + 8, bswap<u32>(0x7fffffff));
  frame(out, 4, 0, 0, st, 12);
  const wu = memory.data(4);
  store<u32>(wu, bswap<u32>(0x7fff0000));
  frame(out, 8, 0, 0, wu, 4);
  block.clear();
  literal(block, ":method", "POST");
  literal(block, ":scheme", "http");
  literal(block, ":path", "/dapr.proto.runtime.v1.Dapr/" + method);
  literal(block, ":authority", "127.0.0.1:" + port.toString());
  literal(block, "content-type", "application/grpc");
  literal(block, "te", "trailers");
  literal(block, "grpc-timeout", timeoutMs.toString() + "m");
  if (token.length > 0) literal(block, "dapr-api-token", token);
  frame(out, 1, 4, 1, block.ptr, block.len);
  // one length-prefixed message, in DATA frames of at most 16 KiB, the last ending the stream
  const body = new Buf(msg.len + 5);
  body.byte(0).byte((msg.len >> 24) & 255).byte((msg.len >> 16) & 255).byte((msg.len >> 8) & 255).byte(msg.len & 255).buf(msg);
  let at = 0;
  while (at < body.len) {
    const n = body.len - at > 16384 ? 16384 : body.len - at;
    frame(out, 0, at + n >= body.len ? 1 : 0, 1, body.ptr + <usize>at, n);
    at += n;
  }
  body.release();
  if (!net.sendAll(fd, out.ptr, out.len, deadline)) { net.close(fd); return now() >= deadline ? TIMEOUT : REFUSED; }
  inb.clear();
  const data = new Buf(256);
  const headers = new Buf(256);
  let result = BROKEN;
  let done = false;
  while (!done) {
    // a whole frame in inb?
    if (inb.len >= 9) {
      const len = (inb.at(0) << 16) | (inb.at(1) << 8) | inb.at(2);
      if (len > 1 << 24) break;
      if (inb.len >= 9 + len) {
        const type = inb.at(3);
        const flags = inb.at(4);
        const stream = ((inb.at(5) & 127) << 24) | (inb.at(6) << 16) | (inb.at(7) << 8) | inb.at(8);
        const p = inb.ptr + 9;
        if (type == 4 && (flags & 1) == 0) { out.clear(); frame(out, 4, 1, 0, 0, 0); net.sendAll(fd, out.ptr, out.len, deadline); }
        else if (type == 6 && (flags & 1) == 0) { out.clear(); frame(out, 6, 1, 0, p, len); net.sendAll(fd, out.ptr, out.len, deadline); }
        else if (type == 7) { message = "daprd closed the connection (GOAWAY)"; break; }
        else if (stream == 1) {
          if (type == 3) { message = "daprd reset the stream"; break; }
          let pp = p;
          let pl = len;
          if ((type == 0 || type == 1) && (flags & 8) != 0) { const pad = <i32>load<u8>(pp); pp++; pl -= 1 + pad; }
          if (type == 1 && (flags & 0x20) != 0) { pp += 5; pl -= 5; }
          if (type == 0) data.push(pp, pl);
          if (type == 1 || type == 9) headers.push(pp, pl);
          if ((type == 1 || type == 9) && (flags & 4) != 0) { if (!decodeHeaders(headers)) break; headers.clear(); }
          if ((flags & 1) != 0 && (type == 0 || type == 1)) { done = true; result = OK; }
        }
        inb.shift(9 + len);
        continue;
      }
    }
    const r = net.recv(fd, inb, 16 * 1024);
    if (r == -1) { if (!net.waitFd(fd, false, deadline)) { result = TIMEOUT; break; } continue; }
    if (r <= 0) { if (status < 0 && inb.len == 0 && data.len == 0) result = REFUSED; break; }
  }
  net.close(fd);
  if (result == OK) {
    if (status < 0) status = 2; // no grpc-status: UNKNOWN
    if (status == 0 && data.len >= 5) reply.push(data.ptr + 5, data.len - 5);
  }
  data.release();
  headers.release();
  inb.trim(64 * 1024);
  return result;
}

// ---- HPACK decoding (RFC 7541) ----
const STATIC_NAMES: string[] = [":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status", ":status", ":status", ":status", ":status",
  "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "accept", "access-control-allow-origin", "age", "allow", "authorization", "cache-control",
  "content-disposition", "content-encoding", "content-language", "content-length", "content-location", "content-range", "content-type", "cookie", "date", "etag",
  "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "link", "location",
  "max-forwards", "proxy-authenticate", "proxy-authorization", "range", "referer", "refresh", "retry-after", "server", "set-cookie", "strict-transport-security",
  "transfer-encoding", "user-agent", "vary", "via", "www-authenticate"];
const STATIC_VALUES: string[] = ["", "GET", "POST", "/", "/index.html", "http", "https", "200", "204", "206", "304", "400", "404", "500", "", "gzip, deflate"];
const dynNames = new Array<string>();
const dynValues = new Array<string>();
let dynSize = 0;
let dynMax = 4096;

let cur: usize = 0;
let end: usize = 0;

function int(prefixBits: i32): i32 {
  const max = (1 << prefixBits) - 1;
  let v = <i32>load<u8>(cur) & max;
  cur++;
  if (v < max) return v;
  let shift = 0;
  while (cur < end) {
    const b = <i32>load<u8>(cur);
    cur++;
    v += (b & 127) << shift;
    shift += 7;
    if ((b & 128) == 0 || shift > 28) break;
  }
  return v;
}

function str(): string {
  if (cur >= end) return "";
  const huff = (load<u8>(cur) & 128) != 0;
  const len = int(7);
  if (cur + <usize>len > end) { cur = end; return ""; }
  const s = cur;
  cur += <usize>len;
  if (!huff) return String.UTF8.decodeUnsafe(s, <usize>len);
  if (!huffReady) huffInit();
  const b = new Buf(len * 2);
  let acc: u64 = 0;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    acc = ((acc << 8) | <u64>load<u8>(s + <usize>i)) & 0xffffffffff;
    bits += 8;
    while (bits >= 5) {
      let found = false;
      for (let l = 5; l <= 30 && l <= bits; l++) {
        const code = <u32>((acc >> <u64>(bits - l)) & ((<u64>1 << <u64>l) - 1));
        const k = code - HUFF_FIRST[l];
        if (code >= HUFF_FIRST[l] && k < <u32>HUFF_COUNT[l]) { b.byte(<i32>HUFF_SYMS[HUFF_OFFSET[l] + <i32>k]); bits -= l; found = true; break; }
      }
      if (!found) break; // padding, or a longer code needs more bits
    }
  }
  const out = b.toString();
  b.release();
  return out;
}

// Canonical Huffman: the codes of one length are consecutive, so a symbol is found per length in O(1).
const HUFF_FIRST = new StaticArray<u32>(31);
const HUFF_COUNT = new StaticArray<i32>(31);
const HUFF_OFFSET = new StaticArray<i32>(31);
const HUFF_SYMS = new StaticArray<u8>(256);
let huffReady = false;
function huffInit(): void {
  let at = 0;
  for (let l = 5; l <= 30; l++) {
    HUFF_OFFSET[l] = at;
    let first: u32 = 0xffffffff;
    for (let sym = 0; sym < 256; sym++) {
      if (<i32>HUFF_LENS[sym] != l) continue;
      if (HUFF_CODES[sym] < first) first = HUFF_CODES[sym];
    }
    HUFF_FIRST[l] = first;
    // symbols of this length in code order
    let n = 0;
    for (let c = first; n < 256 && first != 0xffffffff; c++) {
      let hit = -1;
      for (let sym = 0; sym < 256; sym++) if (<i32>HUFF_LENS[sym] == l && HUFF_CODES[sym] == c) { hit = sym; break; }
      if (hit < 0) break;
      HUFF_SYMS[at + n] = <u8>hit;
      n++;
    }
    HUFF_COUNT[l] = n;
    at += n;
  }
  huffReady = true;
}

function entry(index: i32, name: bool): string {
  if (index >= 1 && index <= 61) return name ? STATIC_NAMES[index - 1] : (index <= 16 ? STATIC_VALUES[index - 1] : "");
  const d = index - 62;
  if (d >= 0 && d < dynNames.length) return name ? dynNames[d] : dynValues[d];
  return "";
}

function add(name: string, value: string): void {
  const size = name.length + value.length + 32;
  dynNames.unshift(name); dynValues.unshift(value); dynSize += size;
  evict();
}
function evict(): void {
  while (dynSize > dynMax && dynNames.length > 0) {
    const n = dynNames.pop(); const v = dynValues.pop();
    dynSize -= n.length + v.length + 32;
  }
}

function header(name: string, value: string): void {
  if (name == "grpc-status") status = I32.parseInt(value);
  else if (name == "grpc-message") message = decodeURIComponent(value);
}

/** Decodes one header block; false when it is malformed. */
function decodeHeaders(b: Buf): bool {
  cur = b.ptr;
  end = b.ptr + <usize>b.len;
  while (cur < end) {
    const c = <i32>load<u8>(cur);
    if (c & 128) { const i = int(7); header(entry(i, true), entry(i, false)); continue; }
    if ((c & 0xe0) == 0x20) { dynMax = int(5); evict(); continue; }
    const incremental = (c & 0xc0) == 0x40;
    const idx = incremental ? int(6) : int(4);
    const name = idx == 0 ? str() : entry(idx, true);
    const value = str();
    if (incremental) add(name, value);
    header(name, value);
  }
  return true;
}

// ---- protobuf encoding ----
export function pbTag(b: Buf, field: i32, wire: i32): void { pbVarint(b, <u64>((field << 3) | wire)); }
export function pbVarint(b: Buf, v: u64): void {
  while (v >= 128) { b.byte(<i32>(v & 127) | 128); v >>= 7; }
  b.byte(<i32>v);
}
export function pbBytes(b: Buf, field: i32, p: usize, n: i32): void {
  pbTag(b, field, 2); pbVarint(b, <u64>n); b.push(p, n);
}
export function pbStr(b: Buf, field: i32, s: string): void { const u = String.UTF8.encode(s); pbBytes(b, field, changetype<usize>(u), u.byteLength); }
/** A map<string,string> entry list from a flat k,v byte-string list. */
export function pbMap(b: Buf, field: i32, items: Array<Uint8Array> | null, skip: string): void {
  if (items === null) return;
  const e = new Buf(64);
  for (let i = 0; i + 1 < items.length; i += 2) {
    if (skip.length > 0 && eqBytes(items[i].dataStart, items[i].length, skip)) continue;
    e.clear();
    pbBytes(e, 1, items[i].dataStart, items[i].length);
    pbBytes(e, 2, items[i + 1].dataStart, items[i + 1].length);
    pbBytes(b, field, e.ptr, e.len);
  }
  e.release();
}

/** Reads field `field` (length-delimited) of the message at p..p+n into out; false when absent. */
export function pbField(p: usize, n: i32, field: i32, out: Buf): bool {
  let at: usize = p;
  const e = p + <usize>n;
  while (at < e) {
    let key: u64 = 0; let shift: u64 = 0;
    while (at < e) { const b = <u64>load<u8>(at); at++; key |= (b & 127) << shift; shift += 7; if ((b & 128) == 0) break; }
    const wire = <i32>(key & 7);
    const f = <i32>(key >> 3);
    if (wire == 0) { while (at < e && (load<u8>(at) & 128) != 0) at++; at++; continue; }
    if (wire == 1) { at += 8; continue; }
    if (wire == 5) { at += 4; continue; }
    if (wire != 2) return false;
    let len: u64 = 0; shift = 0;
    while (at < e) { const b = <u64>load<u8>(at); at++; len |= (b & 127) << shift; shift += 7; if ((b & 128) == 0) break; }
    if (at + <usize>len > e) return false;
    if (f == field) { out.push(at, <i32>len); return true; }
    at += <usize>len;
  }
  return false;
}
