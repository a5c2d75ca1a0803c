// The request (or event) being handled. Fields are read from the host lazily: a handler that
// never looks at the body never pays for copying it.
import { request_get, request_header, Field } from "./abi";
import { str, utf8 } from "./bytes";
import { JSON } from "./json";

function field(f: i32): Uint8Array | null {
  const len = request_get(f, 0, 0);
  if (len < 0) return null;
  const buf = new Uint8Array(len);
  if (len > 0) request_get(f, buf.dataStart, len);
  return buf;
}

function fieldStr(f: i32): string {
  const b = field(f);
  return b ? str(b) : "";
}

/** CloudEvent attributes of an event delivered by a pubsub topic or an input binding. */
export class Event {
  get id(): string { return fieldStr(Field.EVENT_ID); }
  get source(): string { return fieldStr(Field.EVENT_SOURCE); }
  get type(): string { return fieldStr(Field.EVENT_TYPE); }
  get specversion(): string { return fieldStr(Field.EVENT_SPECVERSION); }
  get datacontenttype(): string { return fieldStr(Field.EVENT_DATACONTENTTYPE); }
  get subject(): string { return fieldStr(Field.EVENT_SUBJECT); }
  get time(): string { return fieldStr(Field.EVENT_TIME); }
  get topic(): string { return fieldStr(Field.EVENT_TOPIC); }
  get pubsubname(): string { return fieldStr(Field.EVENT_PUBSUBNAME); }
  /** The input (pubsub component or binding name) that delivered it. */
  get input(): string { return fieldStr(Field.EVENT_INPUT); }
}

export class Request {
  private _body: Uint8Array | null = null;
  get method(): string { return fieldStr(Field.METHOD); }
  /** The path below the function's route, e.g. "/items/7" for GET /default/shop/items/7. */
  get path(): string { return fieldStr(Field.PATH); }
  /** The raw query string without "?". */
  get query(): string { return fieldStr(Field.QUERY); }
  get id(): string { return fieldStr(Field.REQUEST_ID); }
  get functionName(): string { return fieldStr(Field.FUNCTION); }
  /** True when this invocation is an event (pubsub or input binding), not an HTTP request. */
  get isEvent(): bool { return fieldStr(Field.KIND) == "event"; }
  get event(): Event { return new Event(); }

  /** A header's value, or null. Names are case-insensitive. */
  header(name: string): string | null {
    const n = utf8(name);
    const len = request_header(n.dataStart, n.length, 0, 0);
    if (len < 0) return null;
    const buf = new Uint8Array(len);
    if (len > 0) request_header(n.dataStart, n.length, buf.dataStart, len);
    return str(buf);
  }

  /**
   * All request headers as [name, value] pairs in arrival order, names lower-cased; a repeated
   * header appears once per value.
   */
  headers(): Array<Array<string>> {
    const out = new Array<Array<string>>();
    const lines = fieldStr(Field.HEADERS).split("\n");
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      const c = l.indexOf(":");
      if (c <= 0) continue;
      out.push([l.substring(0, c), l.substring(c + 1).trimStart()]);
    }
    return out;
  }

  /** One query parameter (first occurrence, percent-decoded), or null when absent. `?a=` gives "". */
  param(name: string): string | null {
    const all = queryValues(this.query, name, true);
    return all.length > 0 ? all[0] : null;
  }

  /** One query parameter, or `fallback` when it is absent or empty: `req.paramOr("name", "world")`. */
  paramOr(name: string, fallback: string): string {
    const v = this.param(name);
    return v !== null && v.length > 0 ? v : fallback;
  }

  /** Every value of a repeated query parameter in order: `?tag=a&tag=b` gives ["a", "b"]. */
  paramAll(name: string): Array<string> { return queryValues(this.query, name, false); }

  // Made on first use: a handler without a Router allocates no map per request.
  private _routeParams: Map<string, string> | null = null;
  /** All path parameters set by `Router`. */
  get routeParams(): Map<string, string> {
    let m = this._routeParams;
    if (m === null) { m = new Map<string, string>(); this._routeParams = m; }
    return m;
  }
  set routeParams(m: Map<string, string>) { this._routeParams = m; }
  /** Path parameters set by `Router` (`/users/:id` -> `pathParam("id")`), or null. */
  pathParam(name: string): string | null {
    const m = this._routeParams;
    return m !== null && m.has(name) ? m.get(name) : null;
  }

  get body(): Uint8Array {
    let b = this._body;
    if (!b) { b = field(Field.BODY); if (!b) b = new Uint8Array(0); this._body = b; }
    return b;
  }
  text(): string { return str(this.body); }
  /** Parses the body as JSON; a body that is not JSON gives null. */
  json(): JSON.Value | null { return JSON.parse(this.text()); }
  /** Parses the body as a JSON object; null when it is not JSON or not an object. */
  jsonObj(): JSON.Obj | null {
    const v = JSON.parse(this.text());
    return v === null ? null : v.asObj();
  }
}

/**
 * Percent-decodes a URL component. A malformed escape stays as written and bytes that are not
 * UTF-8 become U+FFFD, so client input can never trap the handler.
 */
export function decodeComponent(s: string): string {
  if (s.indexOf("%") < 0) return s;
  const src = utf8(s);
  const out = new Uint8Array(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = <i32>src[i];
    if (c == 0x25 && i + 2 < src.length && isHex(<i32>src[i + 1]) && isHex(<i32>src[i + 2])) {
      out[n++] = <u8>((hexValue(<i32>src[i + 1]) << 4) | hexValue(<i32>src[i + 2]));
      i += 2;
    } else out[n++] = <u8>c;
  }
  return utf8Lossy(out, n);
}

/** Decodes UTF-8, each byte of an invalid sequence becoming U+FFFD (as browsers decode URLs). */
function utf8Lossy(b: Uint8Array, n: i32): string {
  const fixed = new Array<u8>();
  let bad = false;
  for (let i = 0; i < n; ) {
    const c = <i32>b[i];
    let len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len > 1 && i + len <= n) {
      for (let k = 1; k < len; k++) if ((<i32>b[i + k] & 0xc0) != 0x80) { len = 0; break; }
      if (len == 3 && ((c == 0xe0 && <i32>b[i + 1] < 0xa0) || (c == 0xed && <i32>b[i + 1] > 0x9f))) len = 0;
      if (len == 4 && ((c == 0xf0 && <i32>b[i + 1] < 0x90) || (c == 0xf4 && <i32>b[i + 1] > 0x8f))) len = 0;
    } else if (len > 1) len = 0;
    if (len == 0) { bad = true; fixed.push(0xef); fixed.push(0xbf); fixed.push(0xbd); i++; continue; }
    for (let k = 0; k < len; k++) fixed.push(b[i + k]);
    i += len;
  }
  if (!bad) return String.UTF8.decodeUnsafe(b.dataStart, n);
  const out = new Uint8Array(fixed.length);
  for (let i = 0; i < fixed.length; i++) out[i] = fixed[i];
  return String.UTF8.decodeUnsafe(out.dataStart, out.length);
}

function hexValue(c: i32): i32 { return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10; }
function isHex(c: i32): bool { return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46); }

function queryValues(query: string, name: string, firstOnly: bool): Array<string> {
  const out = new Array<string>();
  if (query.length == 0) return out;
  const parts = query.split("&");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p.length == 0) continue;
    const eq = p.indexOf("=");
    const k = eq < 0 ? p : p.substring(0, eq);
    if (decodeComponent(k.replaceAll("+", " ")) != name) continue;
    out.push(eq < 0 ? "" : decodeComponent(p.substring(eq + 1).replaceAll("+", " ")));
    if (firstOnly) break;
  }
  return out;
}
