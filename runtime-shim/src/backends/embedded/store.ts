import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { mkdir, open, rename } from "node:fs/promises";
import path from "node:path";
import { BackendError, BackendErrors, type ConfigItem, type Metadata, type StateEntry, type StateOperation, type StateSave } from "../../capabilities/backend.js";

interface Record_ { v: string; e: string; x?: number }

/**
 * Stores, keys and config items are names a guest chooses: they live in objects without a prototype,
 * so "__proto__", "constructor" or "prototype" are keys like any other and no shared object changes.
 */
function dict<T>(from?: Record<string, T> | null, map: (v: T) => T = (v) => v): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  if (from && typeof from === "object") for (const [k, v] of Object.entries(from)) out[k] = map(v);
  return out;
}
interface FileShape {
  version: 1;
  /** Last etag handed out; etags never repeat, so an etag from before a delete cannot match a re-created key. */
  seq: number;
  state: Record<string, Record<string, Record_>>;
  /** Configuration items by store; edit the file by hand (or seed them) to serve config.get locally. */
  configuration: Record<string, Record<string, { value: string; version?: string }>>;
}

/**
 * The embedded backend's state: in memory, persisted to one JSON file. Every change is applied
 * synchronously (so the guest gets its answer without unwinding) and written out soon after,
 * coalesced, to a temporary file renamed over the old one, so a crash leaves the previous or the
 * new file, never half of one.
 */
export class StateFile {
  private data: FileShape;
  private dirty = false;
  private writing: Promise<void> | null = null;
  /** A failed write; later changes are refused rather than silently kept only in memory. */
  private failure: Error | null = null;

  constructor(readonly file: string | null) {
    this.data = { version: 1, seq: 0, state: dict(), configuration: dict() };
    if (file) this.load(file);
  }

  private load(file: string): void {
    let raw: string;
    try { raw = readFileSync(file, "utf8"); } catch { return; }
    try {
      const parsed = JSON.parse(raw) as Partial<FileShape>;
      this.data = { version: 1, seq: parsed.seq ?? 0, state: dict(parsed.state, (st) => dict(st)), configuration: dict(parsed.configuration, (c) => dict(c)) };
    } catch (e) {
      throw new BackendError(BackendErrors.INVALID, `the embedded state file ${file} is not valid JSON (${(e as Error).message}); fix or delete it`);
    }
  }

  get(store: string, key: string): StateEntry | null {
    const r = this.live(store, key);
    return r ? { value: Buffer.from(r.v, "base64"), etag: r.e } : null;
  }

  save(store: string, item: StateSave): void {
    this.writable();
    this.check(store, item.key, item.etag, "save");
    if (item.etag === "" && item.metadata.concurrency === "first-write" && this.live(store, item.key)) {
      throw new BackendError(BackendErrors.CONFLICT, `state save of '${item.key}' in ${store}: first-write without an etag creates a key only if it is absent, and it exists; read it and save with its etag`);
    }
    this.put(store, item);
    this.changed();
  }

  delete(store: string, key: string, etag: string): void {
    this.writable();
    this.check(store, key, etag, "delete");
    delete this.data.state[store]?.[key];
    this.changed();
  }

  /** All checks first, then all writes: either every operation applies or none does. */
  transact(store: string, ops: StateOperation[]): void {
    this.writable();
    for (const op of ops) {
      this.check(store, op.key, op.etag, op.kind);
      if (op.kind === "upsert" && op.etag === "" && op.metadata.concurrency === "first-write" && this.live(store, op.key)) {
        throw new BackendError(BackendErrors.CONFLICT, `state transaction: '${op.key}' in ${store} exists, and a first-write upsert without an etag only creates`);
      }
    }
    for (const op of ops) {
      if (op.kind === "upsert") this.put(store, op);
      else delete this.data.state[store]?.[op.key];
    }
    this.changed();
  }

  config(store: string, keys: string[]): ConfigItem[] {
    const items = this.data.configuration[store] ?? dict();
    const wanted = keys.length > 0 ? keys : Object.keys(items);
    return wanted.flatMap((k) => { const it = items[k]; return it ? [{ key: k, value: it.value, version: it.version ?? "" }] : []; });
  }

  setConfig(store: string, key: string, value: string, version = ""): void {
    (this.data.configuration[store] ??= dict())[key] = { value, version };
    this.changed();
  }

  private writable(): void {
    if (this.failure) throw new BackendError(BackendErrors.UNAVAILABLE, `cannot persist embedded state to ${this.file}: ${this.failure.message}`);
  }

  private live(store: string, key: string): Record_ | undefined {
    const r = this.data.state[store]?.[key];
    if (r?.x !== undefined && r.x <= Date.now()) {
      delete this.data.state[store]![key];
      this.changed();
      return undefined;
    }
    return r;
  }

  private check(store: string, key: string, etag: string, what: string): void {
    if (etag === "") return;
    const r = this.live(store, key);
    if (!r || r.e !== etag) {
      throw new BackendError(BackendErrors.CONFLICT, `state ${what} of '${key}' in ${store}: etag mismatch (${r ? "someone else wrote it first" : "the key does not exist"}); read it again and retry`);
    }
  }

  private put(store: string, item: { key: string; value: Uint8Array; metadata: Metadata }): void {
    const ttl = Number(item.metadata.ttlInSeconds ?? "-1");
    const rec: Record_ = { v: Buffer.from(item.value).toString("base64"), e: String(++this.data.seq) };
    if (ttl > 0) rec.x = Date.now() + ttl * 1000;
    (this.data.state[store] ??= dict())[item.key] = rec;
  }

  private changed(): void {
    if (!this.file) return;
    this.dirty = true;
    if (!this.writing) this.writing = this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    // Coalesce: many writes in one tick become one file write.
    await new Promise<void>((r) => setImmediate(r));
    try {
      while (this.dirty) {
        this.dirty = false;
        const file = this.file!;
        const tmp = `${file}.${process.pid}.tmp`;
        await mkdir(path.dirname(file), { recursive: true });
        // fsync before the rename: otherwise a power loss can leave the renamed file empty.
        const fh = await open(tmp, "w");
        try { await fh.writeFile(this.serialize()); await fh.sync(); } finally { await fh.close(); }
        await rename(tmp, file);
      }
    } catch (e) {
      this.failure = e as Error;
    } finally {
      this.writing = null;
    }
  }

  private serialize(): string {
    const now = Date.now();
    for (const store of Object.values(this.data.state)) {
      for (const [k, r] of Object.entries(store)) if (r.x !== undefined && r.x <= now) delete store[k];
    }
    return JSON.stringify(this.data);
  }

  /** Waits for pending writes, then writes once more synchronously (so nothing is lost at exit). */
  async close(): Promise<void> {
    if (this.writing) await this.writing.catch(() => undefined);
    if (this.file && this.dirty) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      const fd = openSync(tmp, "w");
      try { writeFileSync(fd, this.serialize()); fsyncSync(fd); } finally { closeSync(fd); }
      renameSync(tmp, this.file);
      this.dirty = false;
    }
  }
}
