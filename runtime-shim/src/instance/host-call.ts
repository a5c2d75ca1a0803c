/**
 * The request signal of the host call being started. The host sets it around the synchronous
 * start of every capability call (Instance.call, and the main-thread side of a worker's call), so
 * a backend can read it when it starts its I/O without every capability and backend method
 * threading it through: capabilities start backend calls synchronously inside `handle`.
 *
 * @example const signal = callSignal(); await pool.request({ ..., signal });
 */
let current: AbortSignal | undefined;

/** Runs `start` (the synchronous part of a host call) with `signal` as the call's signal. */
export function withCallSignal<T>(signal: AbortSignal, start: () => T): T {
  const outer = current;
  current = signal;
  try {
    return start();
  } finally {
    current = outer;
  }
}

/** The signal of the host call being started, if any: read it before the first `await`. */
export function callSignal(): AbortSignal | undefined {
  return current;
}
