/**
 * Fresh isolation by reset: after an instance's initialiser ran, save its linear memory and every
 * mutable global; after each invocation, put both back. A module keeps its globals private
 * (AssemblyScript's allocator and GC state live in unexported globals), so before compiling a
 * `fresh` function the host adds an export for each mutable global it defines (`exportMutableGlobals`).
 *
 * Tables are saved and restored too (exported as `wfn:table:<index>`): a guest that sets an element
 * gets it back, one that grew a table (which cannot shrink) has its instance replaced, as for a memory
 * that grew. Without that, `table.grow` in every request piled up on the one reused instance.
 */
import { readLeb, writeLeb } from "@wasm-fn/abi";

/** Which exports hold the module's mutable globals; null when the module could not be rewritten. */
export interface SnapshotPlan {
  globals: string[];
  /** Exports of the tables the module defines. */
  tables: string[];
}

const PREFIX = "wfn:global:";
const TABLE_PREFIX = "wfn:table:";
const MARKER = "wfn:snapshot";

/** Memory bytes and mutable globals of one instance, taken right after init. */
export class MemorySnapshot {
  private readonly memory: WebAssembly.Memory;
  private readonly bytes: Uint8Array;
  private readonly globals: WebAssembly.Global[];
  private readonly values: unknown[];
  private readonly tables: WebAssembly.Table[];
  private readonly elements: unknown[][];

  constructor(instance: WebAssembly.Instance, plan: SnapshotPlan) {
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.bytes = new Uint8Array(this.memory.buffer).slice();
    this.globals = plan.globals.map((g) => instance.exports[g] as WebAssembly.Global);
    this.values = this.globals.map((g) => g.value);
    this.tables = plan.tables.map((t) => instance.exports[t] as WebAssembly.Table);
    this.elements = this.tables.map((t) => Array.from({ length: t.length }, (_, i) => t.get(i) as unknown));
  }

  /** Restores the saved state; false when memory or a table grew (the instance must then be replaced). */
  restore(): boolean {
    const buf = this.memory.buffer;
    if (buf.byteLength !== this.bytes.length) return false;
    for (let k = 0; k < this.tables.length; k++) if (this.tables[k]!.length !== this.elements[k]!.length) return false;
    new Uint8Array(buf).set(this.bytes);
    for (let i = 0; i < this.globals.length; i++) this.globals[i]!.value = this.values[i];
    for (let k = 0; k < this.tables.length; k++) {
      const t = this.tables[k]!, saved = this.elements[k]!;
      for (let i = 0; i < saved.length; i++) t.set(i, saved[i]);
    }
    return true;
  }
}

/**
 * Adds an export (`wfn:global:<index>`) for every mutable global the module defines, so a host can
 * save and restore them. Returns null (leave the module alone) when a section cannot be parsed.
 */
export function exportMutableGlobals(bytes: Uint8Array): { bytes: Uint8Array; plan: SnapshotPlan } | null {
  try {
    const out = rewrite(bytes);
    return out && WebAssembly.validate(out.bytes as Uint8Array<ArrayBuffer>) ? out : null;
  } catch {
    return null;
  }
}

interface Section { id: number; at: number; start: number; end: number }

function rewrite(bytes: Uint8Array): { bytes: Uint8Array; plan: SnapshotPlan } | null {
  const sections: Section[] = [];
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at]!;
    const [size, n] = readLeb(bytes, at + 1);
    const start = at + 1 + n;
    const end = start + size;
    if (end > bytes.length) return null;
    sections.push({ id, at, start, end });
    at = end;
  }
  const importedAll = countImports(bytes, sections.find((s) => s.id === 2));
  if (importedAll === null) return null;
  const imported = importedAll.globals;
  const tableSec = sections.find((s) => s.id === 4);
  const ownTables = tableSec ? readLeb(bytes, tableSec.start)[0] : 0;
  const tables = Array.from({ length: ownTables }, (_, k) => importedAll.tables + k);
  const globalSec = sections.find((s) => s.id === 6);
  const mutable = globalSec ? mutableGlobals(bytes, globalSec, imported) : [];
  if (mutable === null) return null;

  const names = mutable.map((i) => `${PREFIX}${i}`);
  const tableNames = tables.map((i) => `${TABLE_PREFIX}${i}`);
  // A marker (memory 0 again) says the rewrite happened, even for a module without mutable globals.
  const marker = Buffer.from(MARKER, "utf8");
  const entries: number[] = [...writeLeb(marker.length), ...marker, 0x02, 0x00];
  for (let k = 0; k < mutable.length; k++) {
    const name = Buffer.from(names[k]!, "utf8");
    entries.push(...writeLeb(name.length), ...name, 0x03, ...writeLeb(mutable[k]!));
  }
  for (let k = 0; k < tables.length; k++) {
    const name = Buffer.from(tableNames[k]!, "utf8");
    entries.push(...writeLeb(name.length), ...name, 0x01, ...writeLeb(tables[k]!));
  }
  const added = mutable.length + tables.length + 1;
  const exportSec = sections.find((s) => s.id === 7);
  let content: number[];
  let replaceFrom: number;
  let replaceTo: number;
  if (exportSec) {
    const [count, n] = readLeb(bytes, exportSec.start);
    content = [...writeLeb(count + added), ...bytes.subarray(exportSec.start + n, exportSec.end), ...entries];
    replaceFrom = exportSec.at;
    replaceTo = exportSec.end;
  } else {
    content = [...writeLeb(added), ...entries];
    // Sections after export in the binary order: start, element, datacount, code, data.
    const next = sections.find((s) => [8, 9, 12, 10, 11].includes(s.id));
    replaceFrom = replaceTo = next ? next.at : bytes.length;
  }
  const section = [7, ...writeLeb(content.length), ...content];
  const out = new Uint8Array(bytes.length - (replaceTo - replaceFrom) + section.length);
  out.set(bytes.subarray(0, replaceFrom), 0);
  out.set(section, replaceFrom);
  out.set(bytes.subarray(replaceTo), replaceFrom + section.length);
  return { bytes: out, plan: { globals: names, tables: tableNames } };
}

function countImports(b: Uint8Array, sec: Section | undefined): { globals: number; tables: number } | null {
  if (!sec) return { globals: 0, tables: 0 };
  let p = sec.start;
  const [count, n] = readLeb(b, p);
  p += n;
  let globals = 0;
  let tables = 0;
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < 2; k++) { const [len, m] = readLeb(b, p); p += m + len; } // module, name
    const kind = b[p++];
    if (kind === 0x00) p += readLeb(b, p)[1];
    else if (kind === 0x01) { p += 1; p = skipLimits(b, p); tables++; }
    else if (kind === 0x02) p = skipLimits(b, p);
    else if (kind === 0x03) { p += 2; globals++; }
    else if (kind === 0x04) { p += 1; p += readLeb(b, p)[1]; }
    else return null;
  }
  return { globals, tables };
}

function mutableGlobals(b: Uint8Array, sec: Section, firstIndex: number): number[] | null {
  let p = sec.start;
  const [count, n] = readLeb(b, p);
  p += n;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const type = b[p++]!;
    if (![0x7f, 0x7e, 0x7d, 0x7c].includes(type)) return null; // v128 and references: not restorable from JS
    const mut = b[p++];
    const end = skipConstExpr(b, p);
    if (end === null) return null;
    p = end;
    if (mut === 1) out.push(firstIndex + i);
  }
  return p === sec.end ? out : null;
}

function skipConstExpr(b: Uint8Array, p: number): number | null {
  for (;;) {
    const op = b[p++];
    switch (op) {
      case 0x0b: return p;
      case 0x41: case 0x42: case 0x23: case 0xd2: p += readLeb(b, p)[1]; break;
      case 0x43: p += 4; break;
      case 0x44: p += 8; break;
      case 0xd0: p += 1; break;
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break; // extended-const arithmetic
      default: return null;
    }
    if (p > b.length) return null;
  }
}

function skipLimits(b: Uint8Array, p: number): number {
  const flags = b[p++]!;
  p += readLeb(b, p)[1];
  if (flags & 0x01) p += readLeb(b, p)[1];
  return p;
}

/** The plan for a module compiled from `exportMutableGlobals` output (read back from its exports). */
export function snapshotPlan(mod: WebAssembly.Module): SnapshotPlan | null {
  const exports = WebAssembly.Module.exports(mod);
  if (!exports.some((e) => e.name === MARKER)) return null;
  return {
    globals: exports.filter((e) => e.kind === "global" && e.name.startsWith(PREFIX)).map((e) => e.name),
    tables: exports.filter((e) => e.kind === "table" && e.name.startsWith(TABLE_PREFIX)).map((e) => e.name),
  };
}
