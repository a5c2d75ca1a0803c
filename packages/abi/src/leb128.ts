/** LEB128 as the Wasm binary format uses it, for the few section rewrites the host does on module bytes. */

/** Reads an unsigned (or, for skipping, signed) LEB128 at `at`: [value, byte length]. Throws RangeError when truncated. */
export function readLeb(b: Uint8Array, at: number): [number, number] {
  let result = 0;
  let shift = 0;
  let i = 0;
  for (;;) {
    const byte = b[at + i];
    if (byte === undefined || i > 9) throw new RangeError("truncated LEB128");
    if (shift < 35) result += (byte & 0x7f) * 2 ** shift;
    i++;
    if ((byte & 0x80) === 0) return [result, i];
    shift += 7;
  }
}

/** Encodes an unsigned LEB128. */
export function writeLeb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Where section `id` of a module lies: `at` its id byte, [start, end) its content; null when absent (or the bytes are malformed). */
export function findSection(bytes: Uint8Array, id: number): { at: number; start: number; end: number } | null {
  let at = 8;
  while (at < bytes.length) {
    const [size, sizeLen] = readLeb(bytes, at + 1);
    const start = at + 1 + sizeLen;
    const end = start + size;
    if (end > bytes.length) return null;
    if (bytes[at] === id) return { at, start, end };
    at = end;
  }
  return null;
}

/** The module with bytes [at, end) replaced by `section` (a whole section: id, size, content). */
export function spliceSection(bytes: Uint8Array, at: number, end: number, section: readonly number[]): Uint8Array {
  const out = new Uint8Array(bytes.length - (end - at) + section.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(section, at);
  out.set(bytes.subarray(end), at + section.length);
  return out;
}
