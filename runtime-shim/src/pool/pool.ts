import { WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../errors.js";

/** What the pool needs from the thing it pools. */
export interface Poolable {
  /** A broken member (trapped, timed out) is dropped at release and never reused. */
  broken: boolean;
}

export interface PoolOptions<T> {
  /** Creates (instantiates) a member. */
  create(): T;
  minReplicas: number;
  maxReplicas: number;
  /** Requests allowed to wait for a member when all maxReplicas are busy; beyond it, 503. */
  maxQueue: number;
  /** An idle member above minReplicas is dropped after this long. */
  idleTimeoutMs: number;
  /** A request waiting longer than this for a member gets 503 (default: no limit). */
  queueTimeoutMs?: number;
  /**
   * Called when a healthy member comes back: true to keep it, false to drop it. `fresh` isolation
   * resets memory here, or answers false so every request gets a new instance.
   */
  recycle?(item: T): boolean;
  /** When recycle dropped a member, create its replacement right away (off the next request's path). */
  replaceDropped?: boolean;
  /** A member leaves the pool for good (broken, reaped, recycled away, pool closed). */
  dispose?(item: T): void;
  /** A member was created; `cold` when a request had to wait for it (no idle member was ready). */
  onCreate?(ms: number, cold: boolean): void;
  /** Idle members were dropped by the idle timeout; `live` is what remains. */
  onReap?(dropped: number, live: number): void;
  /** Start minReplicas members in the constructor (default true; false: the owner calls prewarm()). */
  prewarm?: boolean;
}

export interface PoolStats {
  live: number;
  idle: number;
  busy: number;
  queued: number;
  created: number;
  coldStarts: number;
}

interface Idle<T> { item: T; since: number }
interface Waiter<T> { resolve(item: T): void; reject(e: WfnError): void; timer?: NodeJS.Timeout }

/**
 * Per-function pool: acquire/release/close. Scales between minReplicas (kept warm; 0 scales to
 * zero) and maxReplicas; a bounded queue beyond that; idle members above the minimum are reaped.
 * Policy (what a member is, how it is reset) comes from the options; this class only keeps count.
 *
 * @example
 *   const pool = new Pool({ create: () => newInstance(), minReplicas: 0, maxReplicas: 8, maxQueue: 64, idleTimeoutMs: 60_000 });
 *   const a = pool.acquire(); const inst = a instanceof Promise ? await a : a;
 *   try { ... } finally { pool.release(inst); }
 */
export class Pool<T extends Poolable> {
  private idle: Idle<T>[] = [];
  private busy = 0;
  private waiters: Waiter<T>[] = [];
  private closed = false;
  private draining: (() => void) | null = null;
  private reaper: NodeJS.Timeout | undefined;
  /** Members made before the last renew() are dropped when they come back. */
  private gen = 0;
  private readonly genOf = new WeakMap<T, number>();
  private created = 0;
  private coldStarts = 0;
  /** A coarse clock: reaper ticks. Idle members are stamped with it (no clock read on the request path). */
  private ticks = 0;
  private readonly tickMs: number;

  constructor(private readonly opts: PoolOptions<T>) {
    this.tickMs = Math.max(25, Math.min(opts.idleTimeoutMs / 4, 5000));
    if (opts.prewarm !== false) this.prewarm();
    if (opts.idleTimeoutMs > 0 && Number.isFinite(opts.idleTimeoutMs)) {
      this.reaper = setInterval(() => this.reap(), this.tickMs);
      this.reaper.unref();
    }
  }

  /** Keeps minReplicas members ready. */
  prewarm(): void {
    while (!this.closed && !this.draining && this.idle.length + this.busy < this.opts.minReplicas) this.pushIdle(this.make(false));
  }

  /** An idle member, a new one, or a place in the queue. Throws a 503 WfnError when the queue is full. */
  acquire(): T | Promise<T> {
    if (this.closed) throw closedError();
    let idle = this.idle.pop();
    // A member can break while idle (its worker process was killed): dropped, never handed out.
    while (idle && idle.item.broken) { this.opts.dispose?.(idle.item); idle = this.idle.pop(); }
    if (idle) { this.busy++; return idle.item; }
    if (this.busy < this.opts.maxReplicas) {
      this.busy++;
      try {
        return this.make(true);
      } catch (e) {
        this.busy--;
        throw e;
      }
    }
    if (this.waiters.length >= this.opts.maxQueue) {
      throw new WfnError(ShimErrors.POOL_EXHAUSTED, `all ${this.opts.maxReplicas} instances are busy and ${this.waiters.length} requests are queued; retry later or raise scaleOptions.maxReplicas`, { status: 503 });
    }
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject };
      const limit = this.opts.queueTimeoutMs;
      if (limit !== undefined && Number.isFinite(limit)) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new WfnError(ShimErrors.POOL_EXHAUSTED, `waited ${limit} ms for one of ${this.opts.maxReplicas} busy instances; retry later or raise scaleOptions.maxReplicas`, { status: 503 }));
          this.settleDrain();
        }, limit);
      }
      this.waiters.push(w);
    });
  }

  /** Gives a member back. A broken member is dropped, never reused; a healthy one goes to a waiter or idles. */
  release(item: T): void {
    let next: T | null = item;
    if (item.broken || this.closed || this.genOf.get(item) !== this.gen) next = null;
    else if (this.opts.recycle && !this.opts.recycle(item)) next = null;
    if (next === null) {
      this.opts.dispose?.(item);
      if (!this.closed && (this.waiters.length > 0 || (this.opts.replaceDropped && !item.broken && !this.draining))) {
        try { next = this.make(false); } catch (e) { return this.failWaiter(e as WfnError); }
      }
    }
    const waiter = this.waiters.shift();
    if (waiter && next) {
      // The busy count is unchanged: the slot passes to the waiter.
      clearTimeout(waiter.timer);
      waiter.resolve(next);
      return;
    }
    this.busy--;
    if (next) {
      if (this.draining) this.opts.dispose?.(next);
      else this.pushIdle(next);
    } else {
      // A failing create here must not fail the caller's (finished) invocation nor skip settleDrain: the next acquire retries and reports it.
      try { this.prewarm(); } catch { /* see above */ }
    }
    this.settleDrain();
  }

  /** Drops every idle member and marks busy ones to be dropped when they come back (e.g. they moved to worker threads). */
  renew(): void {
    this.gen++;
    for (const i of this.idle.splice(0)) this.opts.dispose?.(i.item);
    this.prewarm();
  }

  /**
   * Serves what is queued and in flight with the members it has, drops the rest, then resolves
   * (hot swap: the old version drains while the new one takes new requests).
   */
  drain(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.draining = resolve;
      for (const i of this.idle.splice(0)) this.opts.dispose?.(i.item);
      this.settleDrain();
    });
  }

  stats(): PoolStats {
    return { live: this.idle.length + this.busy, idle: this.idle.length, busy: this.busy, queued: this.waiters.length, created: this.created, coldStarts: this.coldStarts };
  }

  /** Stops the pool: queued requests get 503, idle members are dropped; busy ones are dropped on release. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reaper);
    for (const i of this.idle.splice(0)) this.opts.dispose?.(i.item);
    for (const w of this.waiters.splice(0)) { clearTimeout(w.timer); w.reject(closedError()); }
    this.settleDrain();
  }

  private make(cold: boolean): T {
    const t = performance.now();
    const item = this.opts.create();
    this.genOf.set(item, this.gen);
    this.created++;
    if (cold) this.coldStarts++;
    this.opts.onCreate?.(performance.now() - t, cold);
    return item;
  }

  private pushIdle(item: T): void {
    this.idle.push({ item, since: this.ticks });
  }

  private failWaiter(e: WfnError): void {
    const waiter = this.waiters.shift();
    this.busy--;
    if (waiter) { clearTimeout(waiter.timer); waiter.reject(e); }
    // With no member out, no release will come to serve the others: they fail now, not at their timeout (or never).
    if (this.busy === 0) for (const w of this.waiters.splice(0)) { clearTimeout(w.timer); w.reject(e); }
    this.settleDrain();
  }

  private settleDrain(): void {
    if (this.draining && this.busy === 0 && this.waiters.length === 0) {
      const done = this.draining;
      this.draining = () => undefined;
      done();
    }
  }

  /** Drops members idle for idleTimeoutMs (to within one tick) down to minReplicas. */
  private reap(): void {
    this.ticks++;
    const cutoff = this.ticks - Math.ceil(this.opts.idleTimeoutMs / this.tickMs);
    let dropped = 0;
    // Oldest first: idle is used as a stack, so the bottom holds the longest-idle members.
    while (this.idle.length + this.busy > this.opts.minReplicas && this.idle.length > 0 && this.idle[0]!.since <= cutoff) {
      this.opts.dispose?.(this.idle.shift()!.item);
      dropped++;
    }
    if (dropped > 0) this.opts.onReap?.(dropped, this.idle.length + this.busy);
  }
}

function closedError(): WfnError {
  return new WfnError(ShimErrors.POOL_CLOSED, "this function is shutting down; retry on another replica", { status: 503 });
}
