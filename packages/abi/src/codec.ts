/**
 * The byte-string list: the one encoding for capability arguments and results.
 * Layout (little-endian): u32 count, then per item u32 length + bytes. Maps are flat lists
 * (k, v, k, v...), nested records are items that are themselves encoded lists.
 *
 * @example encodeList(["statestore", "counter"]) // -> bytes for STATE_GET's arguments
 */
const enc = new TextEncoder();
const dec = new TextDecoder();

export type Item = Uint8Array | string;

export function encodeList(items: readonly Item[]): Uint8Array {
  const parts = items.map((i) => (typeof i === "string" ? enc.encode(i) : i));
  let size = 4;
  for (const p of parts) size += 4 + p.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, parts.length, true);
  let at = 4;
  for (const p of parts) {
    view.setUint32(at, p.length, true);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/** Decodes a list; throws RangeError when the bytes are not a well-formed list. */
export function decodeList(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length < 4) throw new RangeError("list shorter than its 4-byte count");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  if (count > bytes.length) throw new RangeError(`list claims ${count} items in ${bytes.length} bytes`);
  const out: Uint8Array[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw new RangeError(`item ${i} has no length`);
    const len = view.getUint32(at, true);
    at += 4;
    if (at + len > bytes.length) throw new RangeError(`item ${i} runs past the end (${len} bytes)`);
    out.push(bytes.subarray(at, at + len));
    at += len;
  }
  if (at !== bytes.length) throw new RangeError(`${bytes.length - at} trailing bytes after ${count} items`);
  return out;
}

export function text(b: Uint8Array | undefined): string {
  return b === undefined ? "" : dec.decode(b);
}

/** Flat k,v list <-> record. */
export function encodeMap(m: Record<string, string> | undefined): Uint8Array {
  const items: string[] = [];
  for (const [k, v] of Object.entries(m ?? {})) items.push(k, v);
  return encodeList(items);
}
export function decodeMap(b: Uint8Array | undefined): Record<string, string> {
  if (b === undefined || b.length === 0) return {};
  const items = decodeList(b);
  if (items.length % 2 !== 0) throw new RangeError("a map needs an even number of items");
  // No prototype: a guest's "__proto__" or "constructor" is a key like any other.
  const out = Object.create(null) as Record<string, string>;
  for (let i = 0; i < items.length; i += 2) out[text(items[i])] = text(items[i + 1]);
  return out;
}
