import { WfnError } from "./errors.js";
import { readLeb, writeLeb } from "./leb128.js";

/**
 * Caps a module's own linear memory at `maxPages` by rewriting the limits in its memory section,
 * so `memory.grow` past the limit fails inside the guest (and the guest traps) instead of the host
 * running out of memory. Done on the bytes: by the shim before compiling (a config change needs no
 * rebuild), and by `wasm-fn build` on the guest it links into the WasmEdge form.
 */
export function capMemory(bytes: Uint8Array, maxPages: number, source: string): Uint8Array {
  try {
    return capMemorySection(bytes, maxPages, source);
  } catch (e) {
    if (e instanceof RangeError) return bytes; // malformed: let the compiler report it
    throw e;
  }
}

function capMemorySection(bytes: Uint8Array, maxPages: number, source: string): Uint8Array {
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at]!;
    const [size, sizeLen] = readLeb(bytes, at + 1);
    const start = at + 1 + sizeLen;
    const end = start + size;
    if (end > bytes.length) return bytes; // malformed: let the compiler report it
    if (id === 5) return rewriteMemorySection(bytes, at, start, end, maxPages, source);
    at = end;
  }
  return bytes; // no memory section (imported or none)
}

function rewriteMemorySection(bytes: Uint8Array, sectionAt: number, start: number, end: number, maxPages: number, source: string): Uint8Array {
  let p = start;
  const [count, n0] = readLeb(bytes, p);
  p += n0;
  if (count !== 1) return bytes;
  const flags = bytes[p]!;
  p += 1;
  if (flags & 0x02 || flags & 0x04) return bytes; // shared or memory64: leave alone
  const [min, n1] = readLeb(bytes, p);
  p += n1;
  let max = Infinity;
  if (flags & 0x01) { const [m, n2] = readLeb(bytes, p); max = m; p += n2; }
  if (min > maxPages) {
    throw new WfnError("WFN_MEMORY_LIMIT", `${source} needs ${min} memory pages (${(min * 64) / 1024} MiB) to start, above its limit of ${maxPages} pages; raise limits.memory in wasm-fn.yaml`, { status: 500 });
  }
  const newMax = Math.min(max, maxPages);
  const content = [...writeLeb(1), 0x01, ...writeLeb(min), ...writeLeb(newMax), ...bytes.subarray(p, end)];
  const section = [5, ...writeLeb(content.length), ...content];
  const out = new Uint8Array(bytes.length - (end - sectionAt) + section.length);
  out.set(bytes.subarray(0, sectionAt), 0);
  out.set(section, sectionAt);
  out.set(bytes.subarray(end), sectionAt + section.length);
  return out;
}
