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

  /** One query parameter (first occurrence, percent-decoded), or null. */
  param(name: string): string | null {
    const parts = this.query.split("&");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      const eq = p.indexOf("=");
      const k = eq < 0 ? p : p.substring(0, eq);
      if (decodeURIComponent(k) == name) return eq < 0 ? "" : decodeURIComponent(p.substring(eq + 1).replaceAll("+", " "));
    }
    return null;
  }

  get body(): Uint8Array {
    let b = this._body;
    if (!b) { b = field(Field.BODY); if (!b) b = new Uint8Array(0); this._body = b; }
    return b;
  }
  text(): string { return str(this.body); }
  /** Parses the body as JSON; a body that is not JSON gives null. */
  json(): JSON.Value | null { return JSON.parse(this.text()); }
}
