/**
 * What a WebAssembly component imports and exports at its top level (the component model's binary
 * format: import section 10, export section 11), read from the bytes without a toolchain: `wasm-fn
 * build` writes it into an image's config (the CNCF Wasm OCI artifact's `component` field) and
 * `wasm-fn inspect` shows it. Bytes from anywhere: every read is bounds-checked, and a malformed
 * component is a RangeError the caller turns into a sentence.
 */

/** `\0asm`, version 0x0d 0x00, layer 1 0x00: a component (a core module has version 1, layer 0). */
export function isComponentBytes(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0 && b[1] === 0x61 && b[2] === 0x73 && b[3] === 0x6d && b[4] === 0x0d && b[5] === 0 && b[6] === 1 && b[7] === 0;
}

export interface ComponentInterfaces {
  imports: string[];
  exports: string[];
  /** Its `wasi:http/incoming-handler@0.2.x` export, if it has one. */
  handler: string | null;
  /** The world it fits as the shim sees it: `wasi:http/proxy@<version>` when it exports the incoming handler, else null. */
  world: string | null;
}

class Reader {
  p = 0;
  constructor(readonly b: Uint8Array, readonly end = b.length) {}
  byte(): number {
    if (this.p >= this.end) throw new RangeError(`the component ends early at byte ${this.p}`);
    return this.b[this.p++]!;
  }
  u32(): number {
    let r = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const x = this.byte();
      r += (x & 0x7f) * 2 ** shift;
      if ((x & 0x80) === 0) return r;
    }
    throw new RangeError(`a LEB128 number at byte ${this.p} is too long`);
  }
  name(): string {
    const n = this.u32();
    if (n > this.end - this.p) throw new RangeError(`a name at byte ${this.p} runs past its section`);
    const s = new TextDecoder("utf-8", { fatal: true }).decode(this.b.subarray(this.p, this.p + n));
    this.p += n;
    return s;
  }
}

/** importname' / exportname': 0x00 name, or 0x01 name plus a version suffix (older encodings). */
function externName(r: Reader): string {
  const tag = r.byte();
  if (tag === 0x00) return r.name();
  if (tag === 0x01) { const n = r.name(); r.name(); return n; }
  throw new RangeError(`unknown extern name tag 0x${tag.toString(16)} at byte ${r.p - 1}`);
}

/** externdesc: skipped (only names matter here). */
function externDesc(r: Reader): void {
  const sort = r.byte();
  switch (sort) {
    case 0x00: r.byte(); r.u32(); return; // core module: 0x11 typeidx
    case 0x01: case 0x04: case 0x05: r.u32(); return; // func, component, instance: typeidx
    case 0x02: { // value: valuebound
      const k = r.byte();
      if (k === 0x00) r.u32();
      else { const t = r.b[r.p]; if (t !== undefined && t >= 0x64) r.byte(); else r.u32(); }
      return;
    }
    case 0x03: { // type: typebound
      const k = r.byte();
      if (k === 0x00) r.u32();
      return;
    }
    default: throw new RangeError(`unknown externdesc 0x${sort.toString(16)} at byte ${r.p - 1}`);
  }
}

/** sort: 0x00 core:sort, or one byte. */
function sort(r: Reader): void {
  if (r.byte() === 0x00) r.byte();
}

/** The component's top-level import and export names. Throws RangeError when the bytes are malformed. */
export function componentInterfaces(bytes: Uint8Array): ComponentInterfaces {
  if (!isComponentBytes(bytes)) throw new RangeError("not a WebAssembly component (the preamble is not \\0asm 0d 00 01 00)");
  const imports: string[] = [];
  const exports: string[] = [];
  const r = new Reader(bytes);
  r.p = 8;
  while (r.p < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    if (size > bytes.length - r.p) throw new RangeError(`section ${id} at byte ${r.p} runs past the end`);
    const end = r.p + size;
    if (id === 10 || id === 11) {
      const s = new Reader(bytes, end);
      s.p = r.p;
      const n = s.u32();
      for (let i = 0; i < n; i++) {
        const name = externName(s);
        if (id === 10) { imports.push(name); externDesc(s); }
        else {
          exports.push(name);
          sort(s); s.u32();
          if (s.byte() === 0x01) externDesc(s);
        }
      }
    }
    r.p = end;
  }
  const handler = exports.find((e) => /^wasi:http\/incoming-handler@0\.2\.\d+$/.test(e));
  return { imports, exports, handler: handler ?? null, world: handler ? `wasi:http/proxy@${handler.split("@")[1]}` : null };
}
