/** Typed access to the shared fixtures (test/bench/fixtures.js) plus small measuring helpers for the runtime suites. */
import { readFile } from "node:fs/promises";
export { buildFixture, copyFixture, moduleBytes, versionSource, FAULTS_SOURCE, FLOODER_SOURCE, HELLO_SOURCE, LOGGER_SOURCE, WORDCOUNT_SOURCE } from "./bench/fixtures.js";
/** RSS of a process and all its descendants, in bytes (sync; test/bench/lib.js). */
export { rssTreeOf } from "./bench/lib.js";
export type Fixture = { dir: string; name: string; wasmPath: string };

/** Percentile (0..100) of a list of numbers. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Resident set size of a process in bytes (Linux /proc). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}
