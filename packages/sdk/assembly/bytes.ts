// Bytes <-> strings and the byte-string list codec (u32 count, then u32 length + bytes per item, little-endian).

export function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

export function str(b: Uint8Array): string {
  return String.UTF8.decodeUnsafe(b.dataStart, b.length);
}

/** Builds an encoded list. */
export class ListWriter {
  private items: Array<Uint8Array> = [];
  bytes(b: Uint8Array): ListWriter { this.items.push(b); return this; }
  str(s: string): ListWriter { this.items.push(utf8(s)); return this; }
  map(m: Map<string, string> | null): ListWriter {
    const w = new ListWriter();
    if (m) {
      const keys = m.keys();
      for (let i = 0; i < keys.length; i++) w.str(keys[i]).str(m.get(keys[i]));
    }
    return this.bytes(w.finish());
  }
  finish(): Uint8Array {
    let size = 4;
    for (let i = 0; i < this.items.length; i++) size += 4 + this.items[i].length;
    const out = new Uint8Array(size);
    store<u32>(out.dataStart, this.items.length);
    let at: usize = 4;
    for (let i = 0; i < this.items.length; i++) {
      const it = this.items[i];
      store<u32>(out.dataStart + at, it.length);
      memory.copy(out.dataStart + at + 4, it.dataStart, it.length);
      at += 4 + it.length;
    }
    return out;
  }
}

/** Decodes a list; a malformed list decodes to no items. */
export function readList(b: Uint8Array): Array<Uint8Array> {
  const out = new Array<Uint8Array>();
  if (b.length < 4) return out;
  const count = load<u32>(b.dataStart);
  let at: u32 = 4;
  for (let i: u32 = 0; i < count; i++) {
    if (at + 4 > <u32>b.length) return new Array<Uint8Array>();
    const len = load<u32>(b.dataStart + at);
    at += 4;
    if (at + len > <u32>b.length) return new Array<Uint8Array>();
    out.push(b.slice(at, at + len));
    at += len;
  }
  return out;
}

export function readMap(b: Uint8Array): Map<string, string> {
  const items = readList(b);
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < items.length; i += 2) m.set(str(items[i]), str(items[i + 1]));
  return m;
}
