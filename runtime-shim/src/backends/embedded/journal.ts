import { closeSync, fdatasync, mkdirSync, openSync, readFileSync, write } from "node:fs";
import { open, rename } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { BackendError, BackendErrors, type DeliveredEvent } from "../../capabilities/backend.js";

/** One event waiting for one subscription. */
export interface PendingEvent {
  /** Unique per (event, subscription). */
  key: string;
  /** The subscription's id (SubscribeOptions.id). */
  sub: string;
  event: DeliveredEvent;
}

type Line = { add: { k: string; s: string; e: Omit<DeliveredEvent, "data"> & { data: string } } } | { done: string };

const writeAsync = promisify(write);
const syncAsync = promisify(fdatasync);
/** Rewrite the file once this many records were appended and most of them are settled. */
const COMPACT_AFTER = 10_000;

/**
 * The embedded bus's durable record of events not yet handled: an append-only file of JSON lines,
 * `add` when an event is published (written and fdatasync'd before the publish is acknowledged),
 * `done` when its subscriber answered (not synced: losing one means a redelivery, which
 * at-least-once allows). Read back at start; rewritten with only the pending events at start, at
 * close and every COMPACT_AFTER records. A crash can tear a line (the last one, or, when another
 * shim shares the file, one in the middle): it is skipped and counted in `damaged`; its publish was
 * never acknowledged. With `file` null it keeps the pending set in memory only.
 *
 * @example const j = new Journal(".wasm-fn/state.events.jsonl"); await j.add([{ key, sub, event }]);
 */
export class Journal {
  private readonly pending = new Map<string, PendingEvent>();
  private fd: number | null = null;
  private queue: { line: string; sync: boolean; done?: (e?: Error) => void }[] = [];
  private flushing: Promise<void> | null = null;
  private appended = 0;
  private failure: Error | null = null;
  /** Lines of the file read at start that were not whole records (skipped). */
  damaged = 0;

  constructor(readonly file: string | null) {
    if (!file) return;
    mkdirSync(path.dirname(file), { recursive: true });
    this.load(file);
    this.fd = openSync(file, "a");
    // Start from a file that holds only what is pending (the settled records of the last run go).
    this.appended = COMPACT_AFTER;
  }

  /** Events recorded and not settled, oldest first (read at start: the ones to deliver again). */
  entries(): PendingEvent[] { return [...this.pending.values()]; }

  /** Records events; resolves once they are on disk. Rejects (and keeps refusing) after a failed write. */
  add(events: PendingEvent[]): Promise<void> {
    if (this.failure) return Promise.reject(this.unwritable(this.failure));
    for (const p of events) this.pending.set(p.key, p);
    if (this.fd === null) return Promise.resolve();
    const line = events.map(addLine).join("");
    return new Promise((resolve, reject) => {
      this.queue.push({ line, sync: true, done: (e) => (e ? reject(this.unwritable(e)) : resolve()) });
      this.kick();
    });
  }

  /** Settles an event: it will not be delivered again. */
  done(key: string): void {
    if (!this.pending.delete(key) || this.fd === null || this.failure) return;
    this.queue.push({ line: JSON.stringify({ done: key } satisfies Line) + "\n", sync: false });
    this.kick();
  }

  /** Writes what is queued, leaves only the pending events in the file, and closes it. */
  async close(): Promise<void> {
    if (this.fd === null) return;
    this.appended = COMPACT_AFTER;
    await this.kick(true);
    if (this.fd !== null) { closeSync(this.fd); this.fd = null; }
  }

  private kick(force = false): Promise<void> {
    if (!this.flushing && (this.queue.length > 0 || force)) {
      this.flushing = this.flush().finally(() => { this.flushing = null; });
    } else if (this.flushing && force) {
      return this.flushing.then(() => this.kick(true));
    }
    return this.flushing ?? Promise.resolve();
  }

  /** One writer: batches what piled up while the previous write ran (one fdatasync for many publishes). */
  private async flush(): Promise<void> {
    do {
      const batch = this.queue.splice(0);
      try {
        if (batch.length > 0) {
          const buf = Buffer.from(batch.map((b) => b.line).join(""), "utf8");
          for (let off = 0; off < buf.length;) off += (await writeAsync(this.fd!, buf, off, buf.length - off)).bytesWritten;
          if (batch.some((b) => b.sync)) await syncAsync(this.fd!);
          this.appended += batch.length;
        }
        if (this.appended >= COMPACT_AFTER) await this.compact();
        for (const b of batch) b.done?.();
      } catch (e) {
        this.failure = e as Error;
        for (const b of [...batch, ...this.queue.splice(0)]) b.done?.(e as Error);
      }
    } while (this.queue.length > 0 && !this.failure);
  }

  /** Rewrites the file with the pending events only: temp file, fsync, rename, fsync of the directory. */
  private async compact(): Promise<void> {
    const file = this.file!;
    // Per process: shims sharing a state file (and so this journal) must not write one temp file.
    const tmp = `${file}.${process.pid}.tmp`;
    const fh = await open(tmp, "w");
    try { await fh.writeFile([...this.pending.values()].map(addLine).join(""), "utf8"); await fh.sync(); } finally { await fh.close(); }
    await rename(tmp, file);
    const dir = await open(path.dirname(file), "r");
    try { await dir.sync(); } finally { await dir.close(); }
    closeSync(this.fd!);
    this.fd = openSync(file, "a");
    this.appended = 0;
  }

  private load(file: string): void {
    let text: string;
    try { text = readFileSync(file, "utf8"); } catch { return; }
    const lines = text.split("\n");
    // The part after the last newline is a line the crash cut short (or ""): its add was never acknowledged.
    if (lines.pop() !== "") this.damaged++;
    for (const raw of lines) {
      let rec: Line;
      try { rec = JSON.parse(raw) as Line; } catch { this.damaged++; continue; }
      if (typeof rec !== "object" || rec === null) { this.damaged++; continue; }
      if ("done" in rec) { this.pending.delete(rec.done); continue; }
      const { k, s, e } = rec.add ?? {};
      if (typeof k !== "string" || typeof s !== "string" || typeof e?.id !== "string" || typeof e.data !== "string") { this.damaged++; continue; }
      this.pending.set(k, { key: k, sub: s, event: { ...e, data: Buffer.from(e.data, "base64") } });
    }
  }

  private unwritable(e: Error): BackendError {
    return new BackendError(BackendErrors.UNAVAILABLE, `the embedded event journal ${this.file} cannot be written (${e.message}); the event was not published: free disk space or fix the directory's permissions, then restart`);
  }
}

function addLine(p: PendingEvent): string {
  return JSON.stringify({ add: { k: p.key, s: p.sub, e: { ...p.event, data: Buffer.from(p.event.data).toString("base64") } } } satisfies Line) + "\n";
}
