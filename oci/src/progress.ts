/** Shared bits of transfer output (CLI push/pull): sizes, short digests, throttled progress lines. */

/** @example humanSize(1536) // "1.5 KiB" */
export function humanSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** @example shortDigest("sha256:0bad2f78d1cc056e...") // "0bad2f78d1cc" */
export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, "").slice(0, 12);
}

/**
 * A progress callback that prints at most two lines a second per blob, and only for transfers
 * over 1 MiB: small functions finish before a progress line would help anyone.
 * @example pushLayout(dir, ref, { onProgress: transferReporter((line) => process.stderr.write(line)) })
 */
export function transferReporter(write: (line: string) => void, minBytes = 1 << 20): (p: { digest: string; done: number; total: number }) => void {
  const last = new Map<string, number>();
  return (p) => {
    if (p.total < minBytes) return;
    const now = Date.now();
    if (p.done < p.total && now - (last.get(p.digest) ?? 0) < 500) return;
    last.set(p.digest, now);
    write(`  ${shortDigest(p.digest)} ${humanSize(p.done)} / ${humanSize(p.total)}\n`);
  };
}
