import { WfnError } from "./errors.js";
import { findSection, readLeb, spliceSection, writeLeb } from "./leb128.js";

/**
 * The most elements a guest's table may hold. A function-pointer table of a real program has
 * hundreds; `table.grow` past this fails inside the guest (it returns -1), so a guest cannot make
 * the host hold millions of references (V8 alone allows 10,000,000 per table).
 */
export const MAX_TABLE_ELEMENTS = 10_000;

/**
 * Caps every table a module defines at `maxElements`, by rewriting the limits in its table section
 * as `capMemory` does for memory: a table whose declared minimum is above the cap is refused
 * (`WFN_TABLE_LIMIT`), any other gets `maxElements` (or its own lower maximum) as its maximum.
 * Malformed bytes are returned as they are, for the compiler to report.
 *
 * @example capTables(bytes, MAX_TABLE_ELEMENTS, "greedy.wasm")
 */
export function capTables(bytes: Uint8Array, maxElements: number, source: string): Uint8Array {
  try {
    const s = findSection(bytes, 4);
    return s ? rewriteTableSection(bytes, s.at, s.start, s.end, maxElements, source) : bytes; // none: no tables of its own
  } catch (e) {
    if (e instanceof RangeError) return bytes;
    throw e;
  }
}

function rewriteTableSection(bytes: Uint8Array, sectionAt: number, start: number, end: number, maxElements: number, source: string): Uint8Array {
  let p = start;
  const [count, n0] = readLeb(bytes, p);
  p += n0;
  const content: number[] = [...writeLeb(count)];
  for (let i = 0; i < count; i++) {
    const ref = bytes[p++]!;
    if (ref !== 0x70 && ref !== 0x6f) {
      // 0x40: a table with an initialiser expression (typed function references), or another new form.
      throw new WfnError("WFN_TABLE_UNSUPPORTED", `${source} declares table ${i} in a form the host cannot cap (type 0x${ref.toString(16)}); build it without the typed function references proposal`, { status: 400 });
    }
    const flags = bytes[p++]!;
    if (flags & ~0x01) throw new WfnError("WFN_TABLE_UNSUPPORTED", `${source} declares table ${i} with limits flags 0x${flags.toString(16)} (64-bit or shared), which the host cannot cap; build it for wasm32`, { status: 400 });
    const [min, n1] = readLeb(bytes, p);
    p += n1;
    let max = Infinity;
    if (flags & 0x01) { const [m, n2] = readLeb(bytes, p); max = m; p += n2; }
    if (min > maxElements) {
      throw new WfnError("WFN_TABLE_LIMIT", `${source} declares table ${i} with ${min} elements to start, above the host's limit of ${maxElements} elements per table; a module needs that many only to hold the host's memory hostage`, { status: 400 });
    }
    content.push(ref, 0x01, ...writeLeb(min), ...writeLeb(Math.min(max, maxElements)));
  }
  if (p !== end) return bytes; // trailing bytes: malformed, the compiler reports it
  return spliceSection(bytes, sectionAt, end, [4, ...writeLeb(content.length), ...content]);
}
