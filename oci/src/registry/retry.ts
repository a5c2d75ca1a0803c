/** How hard to try again after 429, 5xx or a dropped connection. Bounded, so a dead registry fails in seconds. */
export interface RetryPolicy {
  /** Total tries including the first (default 4). */
  attempts: number;
  /** First back-off; doubles each time, with jitter (default 250 ms). */
  baseDelayMs: number;
  /** Longest single wait, including one asked for by Retry-After (default 10 s). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 10_000 };

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Wait before try number `attempt` (1 = first retry); honours the server's Retry-After when given. */
export function backoffMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const exp = policy.baseDelayMs * 2 ** (attempt - 1);
  return Math.min(policy.maxDelayMs, exp / 2 + Math.random() * (exp / 2));
}

export function isRetryableStatus(status: number): boolean {
  // 501 and 505 say "never": retrying them only delays the error.
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
