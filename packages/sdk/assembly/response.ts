// The response a handler returns. For events, the body goes to the function's outputs and the
// outcome (success / retry / drop) is the answer to Dapr.
import { Outcome } from "./abi";
import { utf8 } from "./bytes";
import { JSON } from "./json";

export class Response {
  status: i32 = 200;
  headerNames: Array<string> = [];
  headerValues: Array<string> = [];
  body: Uint8Array = new Uint8Array(0);
  outcome: i32 = Outcome.SUCCESS;

  constructor(status: i32 = 200) { this.status = status; }

  header(name: string, value: string): Response {
    this.headerNames.push(name);
    this.headerValues.push(value);
    return this;
  }

  static text(body: string, status: i32 = 200): Response {
    const r = new Response(status);
    r.body = utf8(body);
    return r.header("content-type", "text/plain; charset=utf-8");
  }
  static json(value: JSON.Value, status: i32 = 200): Response {
    const r = new Response(status);
    r.body = utf8(value.stringify());
    return r.header("content-type", "application/json");
  }
  static bytes(body: Uint8Array, contentType: string = "application/octet-stream", status: i32 = 200): Response {
    const r = new Response(status);
    r.body = body;
    return r.header("content-type", contentType);
  }
  /** An error answer with a JSON body {"error": message}. */
  static error(status: i32, message: string): Response {
    const o = new JSON.Obj();
    o.set("error", JSON.str(message));
    return Response.json(o, status);
  }
  /** For events: ask Dapr to deliver this event again later. */
  static retry(reason: string = ""): Response {
    const r = Response.text(reason, 500);
    r.outcome = Outcome.RETRY;
    return r;
  }
  /** For events: give up on this event (it is not redelivered). */
  static drop(reason: string = ""): Response {
    const r = Response.text(reason, 200);
    r.outcome = Outcome.DROP;
    return r;
  }
}
