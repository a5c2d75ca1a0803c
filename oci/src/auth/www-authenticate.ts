/** One challenge from a WWW-Authenticate header, e.g. Bearer realm="...",service="...",scope="...". */
export interface Challenge {
  /** Lower-cased: "bearer", "basic". */
  scheme: string;
  /** Parameter names lower-cased; values unquoted. */
  params: Record<string, string>;
  token68?: string;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68_RE = /^[A-Za-z0-9\-._~+/]+=*/;

class Cursor {
  i = 0;
  constructor(readonly s: string) {}
  get done(): boolean { return this.i >= this.s.length; }
  peek(): string { return this.s[this.i] ?? ""; }
  skip(chars: string): void { while (!this.done && chars.includes(this.peek())) this.i++; }
  token(): string {
    const start = this.i;
    while (!this.done && TOKEN_CHAR.test(this.peek())) this.i++;
    return this.s.slice(start, this.i);
  }
  quoted(): string {
    this.i++; // opening quote
    let out = "";
    while (!this.done && this.peek() !== '"') {
      if (this.peek() === "\\" && this.i + 1 < this.s.length) this.i++;
      out += this.peek();
      this.i++;
    }
    this.i++; // closing quote (or past the end when unterminated)
    return out;
  }
  /** True when the text ahead is `name =`, i.e. another parameter rather than a new challenge. */
  atParam(): boolean {
    return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=/.test(this.s.slice(this.i)) && !/^[A-Za-z0-9\-._~+/]+=+[ \t]*(,|$)/.test(this.s.slice(this.i));
  }
}

function readParams(c: Cursor, params: Record<string, string>): void {
  while (!c.done && c.atParam()) {
    const name = c.token().toLowerCase();
    c.skip(" \t");
    c.i++; // '='
    c.skip(" \t");
    params[name] = c.peek() === '"' ? c.quoted() : c.token();
    c.skip(" \t");
    if (c.peek() !== ",") return;
    c.i++;
    c.skip(" \t,");
  }
}

/**
 * Parses a WWW-Authenticate header (RFC 7235) into its challenges. Never throws: a malformed
 * header yields whatever challenges could be read, so callers can say "no usable challenge".
 * @example parseWwwAuthenticate('Bearer realm="https://auth.io/token",service="reg",scope="repository:a:pull"')
 * // [{ scheme: "bearer", params: { realm: "https://auth.io/token", service: "reg", scope: "repository:a:pull" } }]
 */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(", ") : String(header);
  const c = new Cursor(text);
  const out: Challenge[] = [];
  while (!c.done) {
    c.skip(" \t,");
    const start = c.i;
    const scheme = c.token();
    if (!scheme) { c.i = Math.max(c.i, start) + 1; continue; } // skip a stray character, always making progress
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    c.skip(" \t");
    const t68 = TOKEN68_RE.exec(text.slice(c.i));
    if (t68 && !c.atParam()) {
      ch.token68 = t68[0];
      c.i += t68[0].length;
    } else {
      readParams(c, ch.params);
    }
    out.push(ch);
  }
  return out;
}
