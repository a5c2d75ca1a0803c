import { createHash } from "node:crypto";
import { OciErrorCode, ociError } from "./errors.js";

/** sha256 only: it is what every registry and runtime we target speaks. */
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** `sha256:<hex>` of some bytes. @example sha256Digest(Buffer.from("")) // "sha256:e3b0c4..." */
export function sha256Digest(bytes: Uint8Array): string {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

export function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** Throws WFN_REF_INVALID unless `s` is a sha256 digest; returns the hex part (safe for file names). */
export function digestHex(s: string): string {
  if (!isDigest(s)) {
    throw ociError(OciErrorCode.REF_INVALID, `'${s.slice(0, 100)}' is not a sha256 digest: expected 'sha256:' followed by 64 lowercase hex characters`, { status: 400 });
  }
  return s.slice(7);
}

/** Largest blob wasm-fn downloads or unpacks (it holds blobs in memory; Wasm modules are far smaller). */
export const MAX_BLOB_BYTES = 1 << 30;

/**
 * Refuses a descriptor from a manifest before anything is fetched for it: the digest goes into a
 * URL and a file name, and the size bounds how much is read. Throws WFN_OCI_IMAGE_INVALID.
 */
export function checkDescriptor(d: { digest?: unknown; size?: unknown }, what: string): void {
  const why = typeof d.digest !== "string" || !isDigest(d.digest)
    ? `digest '${String(d.digest).slice(0, 100)}' is not sha256:<64 hex>`
    : typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0
      ? `size '${String(d.size).slice(0, 40)}' is not a whole number of bytes`
      : d.size > MAX_BLOB_BYTES ? `size ${d.size} is over the ${MAX_BLOB_BYTES}-byte limit` : undefined;
  if (why) throw ociError(OciErrorCode.IMAGE_INVALID, `${what}: ${why}; the image is broken or hostile, nothing was fetched for it`, { status: 502 });
}

/** Refuses bytes whose digest (or size) differs from the descriptor that named them. */
export function verifyBytes(bytes: Uint8Array, expected: { digest: string; size?: number }, what: string): void {
  const actual = sha256Digest(bytes);
  if (actual !== expected.digest || (expected.size !== undefined && expected.size !== bytes.length)) {
    throw ociError(
      OciErrorCode.DIGEST_MISMATCH,
      `${what}: content does not match its digest (expected ${expected.digest}${expected.size !== undefined ? `, ${expected.size} bytes` : ""}; got ${actual}, ${bytes.length} bytes). ` +
        "The source is corrupt or was tampered with; nothing was stored. Re-push the image or check the registry.",
      { status: 502 },
    );
  }
}
