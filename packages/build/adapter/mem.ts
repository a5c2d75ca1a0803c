// Growable byte buffers on the adapter's own heap. The adapter avoids garbage on the request path:
// every per-connection and per-request buffer is a Buf that is cleared and reused.

export class Buf {
  ptr: usize = 0;
  len: i32 = 0;
  cap: i32 = 0;

  constructor(cap: i32 = 0) {
    if (cap > 0) { this.ptr = heap.alloc(<usize>cap); this.cap = cap; }
  }

  reserve(extra: i32): void {
    const need = this.len + extra;
    if (need <= this.cap) return;
    let c = this.cap * 2;
    if (c < need) c = need;
    if (c < 256) c = 256;
    this.ptr = this.ptr != 0 ? heap.realloc(this.ptr, <usize>c) : heap.alloc(<usize>c);
    this.cap = c;
  }

  push(p: usize, n: i32): Buf {
    if (n <= 0) return this;
    this.reserve(n);
    memory.copy(this.ptr + <usize>this.len, p, <usize>n);
    this.len += n;
    return this;
  }

  byte(b: i32): Buf {
    this.reserve(1);
    store<u8>(this.ptr + <usize>this.len, <u8>b);
    this.len += 1;
    return this;
  }

  /** Appends a string as UTF-8. */
  str(s: string): Buf {
    const n = s.length;
    this.reserve(n);
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) { ascii = false; break; }
    }
    if (ascii) {
      for (let i = 0; i < n; i++) store<u8>(this.ptr + <usize>(this.len + i), <u8>s.charCodeAt(i));
      this.len += n;
      return this;
    }
    const b = String.UTF8.encode(s);
    return this.push(changetype<usize>(b), b.byteLength);
  }

  bytes(b: Uint8Array): Buf { return this.push(b.dataStart, b.length); }
  buf(b: Buf): Buf { return this.push(b.ptr, b.len); }

  int(v: i64): Buf {
    if (v < 0) { this.byte(45); v = -v; }
    if (v == 0) return this.byte(48);
    const tmp = memory.data(24);
    let i = 0;
    while (v > 0) { store<u8>(tmp + <usize>i, <u8>(48 + <i32>(v % 10))); v /= 10; i++; }
    this.reserve(i);
    while (i > 0) { i--; store<u8>(this.ptr + <usize>this.len, load<u8>(tmp + <usize>i)); this.len++; }
    return this;
  }

  /** Appends a JSON string literal (quotes included) of the bytes at p..p+n. */
  jbytes(p: usize, n: i32): Buf {
    this.byte(34);
    for (let i = 0; i < n; i++) {
      const c = <i32>load<u8>(p + <usize>i);
      if (c == 34 || c == 92) { this.byte(92); this.byte(c); }
      else if (c == 10) { this.byte(92); this.byte(110); }
      else if (c == 13) { this.byte(92); this.byte(114); }
      else if (c == 9) { this.byte(92); this.byte(116); }
      else if (c < 0x20 || c == 0x7f) { this.str("\\u00"); this.byte(hex(c >> 4)); this.byte(hex(c & 15)); }
      else this.byte(c);
    }
    return this.byte(34);
  }
  jstr(s: string): Buf { const b = String.UTF8.encode(s); return this.jbytes(changetype<usize>(b), b.byteLength); }
  jbuf(b: Buf): Buf { return this.jbytes(b.ptr, b.len); }

  clear(): void { this.len = 0; }

  /** Gives the storage back; the Buf is empty and may grow again. */
  release(): void {
    if (this.ptr != 0) heap.free(this.ptr);
    this.ptr = 0; this.len = 0; this.cap = 0;
  }

  /** Drops the first n bytes. */
  shift(n: i32): void {
    if (n >= this.len) { this.len = 0; return; }
    memory.copy(this.ptr, this.ptr + <usize>n, <usize>(this.len - n));
    this.len -= n;
  }

  /** Frees the storage of a buffer that grew large, so one big request does not pin memory. */
  trim(keep: i32): void {
    if (this.cap <= keep || this.len > keep) return;
    this.ptr = heap.realloc(this.ptr, <usize>keep);
    this.cap = keep;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.len);
    memory.copy(out.dataStart, this.ptr, <usize>this.len);
    return out;
  }
  toString(): string { return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len); }
  at(i: i32): i32 { return <i32>load<u8>(this.ptr + <usize>i); }
}

export function hex(v: i32): i32 { return v < 10 ? 48 + v : 87 + v; }

export function utf8(s: string): Uint8Array { return Uint8Array.wrap(String.UTF8.encode(s)); }
export function str(b: Uint8Array): string { return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.length); }
export function bytesOf(p: usize, n: i32): Uint8Array {
  const out = new Uint8Array(n);
  memory.copy(out.dataStart, p, <usize>n);
  return out;
}

/** Case-insensitive (ASCII) comparison of bytes at p..p+n with a lower-case literal. */
export function eqLower(p: usize, n: i32, lit: string): bool {
  if (n != lit.length) return false;
  for (let i = 0; i < n; i++) {
    let c = <i32>load<u8>(p + <usize>i);
    if (c >= 65 && c <= 90) c += 32;
    if (c != lit.charCodeAt(i)) return false;
  }
  return true;
}

export function eqBytes(p: usize, n: i32, lit: string): bool {
  if (n != lit.length) return false;
  for (let i = 0; i < n; i++) if (<i32>load<u8>(p + <usize>i) != lit.charCodeAt(i)) return false;
  return true;
}

export function startsWith(p: usize, n: i32, lit: string): bool {
  if (n < lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (<i32>load<u8>(p + <usize>i) != lit.charCodeAt(i)) return false;
  return true;
}

/** Byte-string list codec (u32 count, then u32 length + bytes per item, little-endian). */
export class ListWriter {
  out: Buf = new Buf(64);
  count: i32 = 0;
  constructor() { this.out.len = 4; }
  item(p: usize, n: i32): ListWriter {
    this.out.reserve(4);
    store<u32>(this.out.ptr + <usize>this.out.len, <u32>n);
    this.out.len += 4;
    this.out.push(p, n);
    this.count++;
    return this;
  }
  bytes(b: Uint8Array): ListWriter { return this.item(b.dataStart, b.length); }
  buf(b: Buf): ListWriter { return this.item(b.ptr, b.len); }
  str(s: string): ListWriter { return this.bytes(utf8(s)); }
  finish(): Buf { store<u32>(this.out.ptr, <u32>this.count); return this.out; }
}

/** Decodes a list; null when malformed. */
export function readList(p: usize, n: i32): Array<Uint8Array> | null {
  const out = new Array<Uint8Array>();
  if (n < 4) return null;
  const count = load<u32>(p);
  if (count > <u32>n) return null;
  let at: u32 = 4;
  for (let i: u32 = 0; i < count; i++) {
    if (at + 4 > <u32>n) return null;
    const len = load<u32>(p + <usize>at);
    at += 4;
    if (len > <u32>n || at + len > <u32>n) return null;
    out.push(bytesOf(p + <usize>at, <i32>len));
    at += len;
  }
  if (at != <u32>n) return null;
  return out;
}
