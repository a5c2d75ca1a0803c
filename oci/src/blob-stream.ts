import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { OciErrorCode, ociError } from "./errors.js";

/**
 * Passes bytes through while hashing and counting them: more than `expected.size` bytes stops the
 * stream at once, and at the end the sha256 and size must match, else WFN_OCI_DIGEST_MISMATCH.
 */
export function digestVerifier(expected: { digest: string; size: number }, what: string, onBytes?: (done: number) => void): Transform {
  const hash = createHash("sha256");
  let done = 0;
  const mismatch = (got: string): Error => ociError(
    OciErrorCode.DIGEST_MISMATCH,
    `${what}: content does not match its digest (expected ${expected.digest}, ${expected.size} bytes; got ${got}). ` +
      "The source is corrupt or was tampered with; nothing was stored. Re-push the image or check the registry.",
    { status: 502 },
  );
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      done += chunk.length;
      if (done > expected.size) return cb(mismatch(`more than ${expected.size} bytes`));
      hash.update(chunk);
      onBytes?.(done);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      const actual = "sha256:" + hash.digest("hex");
      cb(actual === expected.digest && done === expected.size ? null : mismatch(`${actual}, ${done} bytes`));
    },
  });
}

/**
 * Passes at most `max` bytes through (then fails with `tooBig()`), hashing them: `digest()` is the
 * sha256 of everything that passed, once the stream ended. Used on inflated layers.
 */
export function cappedHasher(max: number, tooBig: (seen: number) => Error): Transform & { digest(): string; bytes(): number } {
  const hash = createHash("sha256");
  let done = 0;
  let hex = "";
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      done += chunk.length;
      if (done > max) return cb(tooBig(done));
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      hex = hash.digest("hex");
      cb();
    },
  });
  return Object.assign(t, { digest: () => `sha256:${hex}`, bytes: () => done });
}

/**
 * Streams `source` through `stages` into a new file at `dest` (never an existing one), removing
 * the file if anything fails, so no partial blob is ever left under its final name.
 */
export async function streamToFile(source: Readable, stages: Transform[], dest: string): Promise<void> {
  try {
    await pipeline([source, ...stages, createWriteStream(dest, { flags: "wx", mode: 0o644 })]);
  } catch (e) {
    await rm(dest, { force: true });
    throw e;
  }
}
