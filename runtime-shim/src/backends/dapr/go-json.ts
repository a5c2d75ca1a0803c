/**
 * daprd's HTTP state API decodes a value and encodes it again (whitespace dropped, numbers as
 * float64, HTML characters escaped, and object keys in Go's random map order, measured), so a write
 * over HTTP keeps a guest's bytes only for values with one form: scalars, arrays, and objects of at
 * most one key. This predicate is deliberately conservative: when unsure it says no, and the write
 * goes over gRPC, which stores bytes as they are.
 *
 * @example goJsonStable(enc("200")) // true: the counter's value survives an HTTP write unchanged
 */
export function goJsonStable(bytes: Uint8Array): boolean {
  if (bytes.length === 0 || bytes.length > 64 * 1024) return false;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return false;
  }
  let value: unknown;
  try { value = JSON.parse(text); } catch { return false; }
  const again = goEncode(value);
  return again !== null && again === text;
}

/** Go's encoding of a decoded JSON value, or null where the conservative rules give up. */
function goEncode(v: unknown): string | null {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (Object.is(v, -0)) return null;
    if (Number.isInteger(v) && !Number.isSafeInteger(v)) return null;
    const s = String(v);
    return /e/i.test(s) ? null : s;
  }
  if (typeof v === "string") {
    // Characters Go escapes differently from JSON.stringify (HTML-safe, U+2028/9, \b \f).
    if (/[<>&\u2028\u2029\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v)) return null;
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) {
    const parts: string[] = [];
    for (const x of v) { const e = goEncode(x); if (e === null) return null; parts.push(e); }
    return `[${parts.join(",")}]`;
  }
  if (typeof v === "object") {
    const keys = Object.keys(v as object);
    // Two keys or more come back in any order.
    if (keys.length > 1 || keys.some((k) => /[^\u0020-\u007e]/.test(k) || /[<>&]/.test(k))) return null;
    const parts: string[] = [];
    for (const k of keys) { const e = goEncode((v as Record<string, unknown>)[k]); if (e === null) return null; parts.push(`${JSON.stringify(k)}:${e}`); }
    return `{${parts.join(",")}}`;
  }
  return null;
}
