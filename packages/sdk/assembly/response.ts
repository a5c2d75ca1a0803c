// The response a handler returns. For events, the body goes to the function's outputs and the
// outcome (success / retry / drop) is the answer to Dapr.
import { Outcome } from "./abi";
import { utf8, str } from "./bytes";
import { request_get, Field } from "./abi";
import { JSON } from "./json";

export class Response {
  status: i32 = 200;
  headerNames: Array<string> = [];
  headerValues: Array<string> = [];
  body: Uint8Array = new Uint8Array(0);
  outcome: i32 = Outcome.SUCCESS;

  constructor(status: i32 = 200) { this.status = status; }

  /** Adds a header (a second call with the same name adds a second value, e.g. set-cookie). */
  header(name: string, value: string): Response {
    this.headerNames.push(name);
    this.headerValues.push(value);
    return this;
  }

  /** Sets a header, replacing every earlier value of that name (names are case-insensitive). */
  setHeader(name: string, value: string): Response {
    this.removeHeader(name);
    return this.header(name, value);
  }

  /** The first value of a header set on this response, or null. */
  getHeader(name: string): string | null {
    const n = name.toLowerCase();
    for (let i = 0; i < this.headerNames.length; i++) if (this.headerNames[i].toLowerCase() == n) return this.headerValues[i];
    return null;
  }

  /** Removes every value of a header; false when there was none. */
  removeHeader(name: string): bool {
    const n = name.toLowerCase();
    let found = false;
    for (let i = this.headerNames.length - 1; i >= 0; i--) {
      if (this.headerNames[i].toLowerCase() != n) continue;
      this.headerNames.splice(i, 1);
      this.headerValues.splice(i, 1);
      found = true;
    }
    return found;
  }

  /** A text/plain answer: `Response.text("hello")`. */
  static text(body: string, status: i32 = 200): Response {
    const r = new Response(status);
    r.body = utf8(body);
    return r.header("content-type", "text/plain; charset=utf-8");
  }
  /** A text/html answer: `Response.html("<h1>hi</h1>")`. */
  static html(body: string, status: i32 = 200): Response {
    const r = new Response(status);
    r.body = utf8(body);
    return r.header("content-type", "text/html; charset=utf-8");
  }
  /** A JSON answer: `Response.json(JSON.obj().setString("id", "7"), 201)`. */
  static json(value: JSON.Value, status: i32 = 200): Response {
    const r = new Response(status);
    r.body = utf8(value.stringify());
    return r.header("content-type", "application/json");
  }
  /** Bytes with a content type: `Response.bytes(png, "image/png")`. */
  static bytes(body: Uint8Array, contentType: string = "application/octet-stream", status: i32 = 200): Response {
    const r = new Response(status);
    r.body = body;
    return r.header("content-type", contentType);
  }
  /** A redirect: `Response.redirect("/login", 303)`. A status that is not a redirect (301, 302, 303, 307, 308) gives 302. */
  static redirect(url: string, status: i32 = 302): Response {
    const ok = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    return new Response(ok ? status : 302).header("location", url);
  }
  /** 204 with no body. */
  static noContent(): Response { return new Response(204); }
  /**
   * An error answer in the shape every wasm-fn error has (docs/troubleshooting.md):
   * `{"error":{"code":"NOT_FOUND","message":"no user 7","requestId":"..."}}`. The code is one of
   * the ABI's error names; left empty it follows the status (400 INVALID_ARGUMENT, 403 DENIED,
   * 404 NOT_FOUND, 409 CONFLICT, 413 TOO_LARGE, 503 UNAVAILABLE, 504 TIMEOUT, else INTERNAL).
   * `Response.error(404, "no user 7")`
   */
  static error(status: i32, message: string, code: string = ""): Response {
    const e = new JSON.Obj()
      .setString("code", code.length > 0 ? code : codeForStatus(status))
      .setString("message", message)
      .setString("requestId", requestId());
    return Response.json(new JSON.Obj().set("error", e), status);
  }
  /**
   * For events: try this event again. The shim retries it under the function's `retry:` policy
   * (default: 5 more tries, waiting 0.5, 1, 2, 4, 8 s); when those run out it goes to the input's
   * `deadLetterTopic`, or is dropped with an error log naming it. A trap or a timeout counts the same.
   */
  static retry(reason: string = ""): Response {
    const r = Response.text(reason, 500);
    r.outcome = Outcome.RETRY;
    return r;
  }
  /** For events: give up on this event: it is not tried again (it goes to the input's `deadLetterTopic`, if any). */
  static drop(reason: string = ""): Response {
    const r = Response.text(reason, 200);
    r.outcome = Outcome.DROP;
    return r;
  }
}

function requestId(): string {
  const len = request_get(Field.REQUEST_ID, 0, 0);
  if (len <= 0) return "";
  const buf = new Uint8Array(len);
  request_get(Field.REQUEST_ID, buf.dataStart, len);
  return str(buf);
}

/** The ABI error name an HTTP status stands for: the table of @wasm-fn/abi errorCodeForStatus (test/sdk-as.test.ts keeps them equal). */
export function codeForStatus(status: i32): string {
  switch (status) {
    case 400: case 422: return "INVALID_ARGUMENT";
    case 401: case 403: return "DENIED";
    case 404: return "NOT_FOUND";
    case 409: case 412: return "CONFLICT";
    case 413: case 414: case 431: return "TOO_LARGE";
    case 429: case 503: return "UNAVAILABLE";
    case 408: case 504: return "TIMEOUT";
    case 501: return "UNKNOWN_OP";
    default: return status >= 400 && status < 500 ? "INVALID_ARGUMENT" : "INTERNAL";
  }
}
