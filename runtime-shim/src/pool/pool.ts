import { WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../errors.js";

/** What the pool needs from the thing it pools. */
export interface Poolable {
  broken: boolean;
}

export interface PoolOptions<T> {
  /** Creates (instantiates) a member; counted as a cold start. */
  create(): T;
  minReplicas: number;
  maxReplicas: number;
  /** Requests allowed to wait for a member when all maxReplicas are busy; beyond it, 503. */
  maxQueue: number;
  /** An idle member above minReplicas is dropped after this long. */
  idleTimeoutMs: number;
  /** `fresh` isolation: a member serves one invocation and is dropped. */
  singleUse?: boolean;
  onColdStart?(ms: number): void;
}

export interface PoolStats {
  live: number;
  idle: number;
  busy: number;
  queued: number;
  coldStarts: number;
}

interface Idle<T> { item: T; since: number }

/**
 * Per-function pool: acquire/release/close. Scales between minReplicas (kept warm; 0 scales to
 * zero) and maxReplicas; a bounded queue beyond that; idle members above the minimum are reaped.
 */
export class Pool<T extends Poolable> {
  private idle: Idle<T>[] = [];
  private busy = 0;
  private waiters: ((item: T | WfnError) => void)[] = [];
  private closed = false;
  private reaper: NodeJS.Timeout | undefined;
  coldStarts = 0;

  constructor(private readonly opts: PoolOptions<T>) {
    this.prewarm();
    if (opts.idleTimeoutMs > 0 && Number.isFinite(opts.idleTimeoutMs)) {
      this.reaper = setInterval(() => this.reap(), Math.max(50, Math.min(opts.idleTimeoutMs / 2, 5000)));
      this.reaper.unref();
    }
  }

  /** Keeps minReplicas instances ready. */
  prewarm(): void {
    while (!this.closed && this.idle.length + this.busy < this.opts.minReplicas) this.idle.push({ item: this.make(), since: performance.now() });
  }

  /** An idle member, a new one, or a place in the queue. Rejects with 503 when the queue is full. */
  acquire(): T | Promise<T> {
    if (this.closed) throw new WfnError(ShimErrors.POOL_CLOSED, "this function is shutting down; retry on another replica", { status: 503 });
    const idle = this.idle.pop();
    if (idle) { this.busy++; return idle.item; }
    if (this.busy < this.opts.maxReplicas) {
      const item = this.make();
      this.busy++;
      return item;
    }
    if (this.waiters.length >= this.opts.maxQueue) {
      throw new WfnError(ShimErrors.POOL_EXHAUSTED, `all ${this.opts.maxReplicas} instances are busy and ${this.waiters.length} requests are queued; retry later or raise scaleOptions.maxReplicas`, { status: 503 });
    }
    return new Promise<T>((resolve, reject) => {
      this.waiters.push((x) => (x instanceof WfnError ? reject(x) : resolve(x)));
    });
  }

  /** Gives a member back. A broken (trapped) member is dropped, never reused. */
  release(item: T): void {
    const reusable = !item.broken && !this.opts.singleUse && !this.closed;
    const waiter = this.waiters.shift();
    if (waiter) {
      // busy count is unchanged: the slot passes to the waiter.
      if (reusable) return waiter(item);
      try { return waiter(this.make()); } catch (e) { this.busy--; return waiter(e as WfnError); }
    }
    this.busy--;
    if (reusable) this.idle.push({ item, since: performance.now() });
    else if (!this.closed) this.prewarm();
  }

  stats(): PoolStats {
    return { live: this.idle.length + this.busy, idle: this.idle.length, busy: this.busy, queued: this.waiters.length, coldStarts: this.coldStarts };
  }

  /** Stops the pool: queued requests get 503, idle members are dropped. */
  close(): void {
    this.closed = true;
    clearInterval(this.reaper);
    this.idle = [];
    for (const w of this.waiters.splice(0)) w(new WfnError(ShimErrors.POOL_CLOSED, "this function is shutting down; retry on another replica", { status: 503 }));
  }

  private make(): T {
    const t = performance.now();
    const item = this.opts.create();
    this.coldStarts++;
    this.opts.onColdStart?.(performance.now() - t);
    return item;
  }

  private reap(): void {
    const cutoff = performance.now() - this.opts.idleTimeoutMs;
    // Oldest first: idle is used as a stack, so the bottom holds the longest-idle members.
    while (this.idle.length + this.busy > this.opts.minReplicas && this.idle.length > 0 && this.idle[0]!.since < cutoff) this.idle.shift();
  }
}
