import type { RetryPolicy } from "@wasm-fn/build/config";
import type { DeliveryStatus } from "../capabilities/backend.js";

/** How one function's handling of one event ended, after its retries. */
export interface RetryOutcome {
  /** SUCCESS or DROP as the function answered; RETRY only when `signal` stopped the retries (shim closing). */
  status: DeliveryStatus;
  /** Tries made (1 = no retry). */
  attempts: number;
  /** True when the function still answered RETRY after `maxRetries` retries. */
  exhausted: boolean;
}

/**
 * The wait before retry number `retry` (1-based): Dapr's `constant` waits `duration` each time;
 * `exponential` waits `duration`, then doubles, up to `maxInterval`. No jitter: one shim's retries
 * of one event do not stampede anything, and a user reading the log sees the schedule they wrote.
 *
 * @example retryDelay({ policy: "exponential", durationMs: 100, maxIntervalMs: 1000, maxRetries: 5 }, 3) // 400
 */
export function retryDelay(p: RetryPolicy, retry: number): number {
  if (p.policy === "constant") return p.durationMs;
  return Math.min(p.durationMs * 2 ** (retry - 1), p.maxIntervalMs);
}

/**
 * Runs `attempt` until it answers SUCCESS or DROP, or `maxRetries` retries were made, waiting
 * `retryDelay` between tries: the retry half of Dapr's resiliency model (the dead-letter half is the
 * caller's: it moves what comes back `exhausted`). An attempt that throws counts as RETRY. When
 * `signal` aborts, the wait ends and the outcome is RETRY (not exhausted): the event stays with its
 * broker (or the embedded journal) for a later delivery, as daprd does not dead-letter on shutdown.
 *
 * @example const r = await withRetries(fn.config.retry, () => runOnce(ev), { signal });
 */
export async function withRetries(
  p: RetryPolicy,
  attempt: (n: number) => Promise<DeliveryStatus>,
  opts: { signal?: AbortSignal; onRetry?: (n: number, delayMs: number) => void } = {},
): Promise<RetryOutcome> {
  for (let n = 1; ; n++) {
    let status: DeliveryStatus;
    try { status = await attempt(n); } catch { status = "RETRY"; }
    if (status !== "RETRY") return { status, attempts: n, exhausted: false };
    if (n > p.maxRetries) return { status: "RETRY", attempts: n, exhausted: true };
    if (opts.signal?.aborted) return { status: "RETRY", attempts: n, exhausted: false };
    const delay = retryDelay(p, n);
    opts.onRetry?.(n, delay);
    if (!(await sleep(delay, opts.signal))) return { status: "RETRY", attempts: n, exhausted: false };
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const done = (ok: boolean) => { clearTimeout(t); signal?.removeEventListener("abort", onAbort); resolve(ok); };
    const onAbort = () => done(false);
    const t = setTimeout(() => done(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
