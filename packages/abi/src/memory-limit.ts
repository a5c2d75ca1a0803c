import { WfnError } from "./errors.js";
import { findSection, readLeb, spliceSection, writeLeb } from "./leb128.js";
import { capTables, MAX_TABLE_ELEMENTS } from "./table-limit.js";

/**
 * Caps a module's own linear memory at `maxPages` by rewriting the limits in its memory section,
 * so `memory.grow` past the limit fails inside the guest (and the guest traps) instead of the host
 * running out of memory; and its tables at `maxTableElements` the same way (table-limit.ts).
 * Done on the bytes: by the shim before compiling (a config change needs no rebuild), and by
 * `wasm-fn build` on the guest it links into the WasmEdge form.
 */
export function capMemory(bytes: Uint8Array, maxPages: number, source: string, maxTableElements = MAX_TABLE_ELEMENTS): Uint8Array {
  let out: Uint8Array;
  try {
    out = capMemorySection(bytes, maxPages, source);
  } catch (e) {
    if (e instanceof RangeError) return bytes; // malformed: let the compiler report it
    throw e;
  }
  return capTables(out, maxTableElements, source);
}

function uncappable(source: string, what: string, why: string): WfnError {
  return new WfnError("WFN_MEMORY_UNSUPPORTED", `${source} ${what}, which cannot be held to limits.memory: ${why}`, { status: 400 });
}

function capMemorySection(bytes: Uint8Array, maxPages: number, source: string): Uint8Array {
  const s = findSection(bytes, 5);
  // No memory section (imported or none), or malformed: the compiler reports the latter.
  return s ? rewriteMemorySection(bytes, s.at, s.start, s.end, maxPages, source) : bytes;
}

function rewriteMemorySection(bytes: Uint8Array, sectionAt: number, start: number, end: number, maxPages: number, source: string): Uint8Array {
  let p = start;
  const [count, n0] = readLeb(bytes, p);
  p += n0;
  if (count > 1) throw uncappable(source, `declares ${count} memories`, "the host caps one memory per function; build it for a single memory (no multi-memory)");
  if (count !== 1) return bytes;
  const flags = bytes[p]!;
  p += 1;
  // What cannot be capped by rewriting the maximum is refused, not served uncapped.
  if (flags & 0x02) throw uncappable(source, "declares a shared memory", "a shared memory's maximum cannot be lowered after it is built and wasm-fn runs no guest threads; rebuild it without threads (no -pthread / --enable-threads / atomics)");
  if (flags & 0x04) throw uncappable(source, "declares a 64-bit memory (memory64)", "the host serves wasm32 guests only; build it for wasm32");
  const [min, n1] = readLeb(bytes, p);
  p += n1;
  let max = Infinity;
  if (flags & 0x01) { const [m, n2] = readLeb(bytes, p); max = m; p += n2; }
  if (min > maxPages) {
    throw new WfnError("WFN_MEMORY_LIMIT", `${source} needs ${min} memory pages (${(min * 64) / 1024} MiB) to start, above its limit of ${maxPages} pages; raise limits.memory in wasm-fn.yaml`, { status: 400 }); // the module, not the host: a 4xx at upload
  }
  const newMax = Math.min(max, maxPages);
  const content = [...writeLeb(1), 0x01, ...writeLeb(min), ...writeLeb(newMax), ...bytes.subarray(p, end)];
  return spliceSection(bytes, sectionAt, end, [5, ...writeLeb(content.length), ...content]);
}
