// The HTTP/1.1 server: one event loop over non-blocking sockets and poll_oneoff, so idle, slow or
// stalled clients never hold up the others; the handler runs one request at a time.
import { Buf, eqBytes, startsWith, utf8 } from "./mem";
import { Head, headEnd, parseRequestHead, dechunk, percentDecode, reason, MAX_HEAD } from "./http";
import * as net from "./net";
import * as log from "./log";
import { poll_oneoff, sock_accept_v2, sock_shutdown, fd_fdstat_set_flags, die, now, random_get, FDFLAGS_NONBLOCK, ERRNO_AGAIN } from "./wasi";
import { guest_handle } from "./glue";
import { fields, field, beginInvocation, clearRequest, resStatus, resHeaders, resBody, resTooLarge, resContentType } from "./abi";
import { fnName, fnNamespace, fnLabel, paths, requestBytes, subscribeJson, topics, bindings, outputs, Topic } from "./config";
import { publishBytes, bindingBytes } from "./caps";
import { member, valueIsString, vStart, vEnd, unescape, stringMember, base64Decode, isJson } from "./json";
import * as metrics from "./metrics";

const MAX_CONNS = 1000;
const READ_CHUNK = 64 * 1024;
const REQUEST_READ_NS: u64 = 10_000_000_000; // a request must arrive whole within 10 s (slowloris)
// Lingering close (as nginx): after an early answer (413, 431, 400...) the client may still be
// sending; closing with unread bytes makes the kernel reset the connection and the client loses
// the answer. So: shut down our side, keep reading and dropping for up to 2 s or 64 MiB, then close.
const LINGER_NS: u64 = 2_000_000_000;
const LINGER_BYTES: i64 = 64 * 1024 * 1024;
const SHUT_WR = 2; // WASI sdflags.wr
const IDLE_NS: u64 = 60_000_000_000; // keep-alive connections idle longer are closed

class Conn {
  fd: i32 = -1;
  rbuf: Buf = new Buf(0);
  wbuf: Buf = new Buf(0);
  wpos: i32 = 0;
  lastNs: u64 = 0;
  /** When the first byte of the request being read arrived (0 = between requests). */
  startNs: u64 = 0;
  closing: bool = false;
  dead: bool = false;
  continueSent: bool = false;
  /** Set by an early answer: close by lingering, not at once. */
  linger: bool = false;
  /** While lingering: when to give up, and how many bytes were dropped. */
  lingerUntilNs: u64 = 0;
  lingerBytes: i64 = 0;
}

const conns = new Array<Conn>();
let listenFd = -1;
const head = new Head();
const body = new Buf(0);
const rest = new Buf(256);
const query = new Buf(256);
const reqId = new Buf(64);
let current: Conn | null = null;
let currentMethod = new Buf(16);
let currentStart: u64 = 0;
let draining = false;

// ---- responses ----
function respond(c: Conn, status: i32, contentType: string, b: usize, n: i32, extraHeaders: Buf | null): void {
  const w = c.wbuf;
  w.str("HTTP/1.1 ").int(status).byte(32).str(reason(status)).str("\r\n");
  if (contentType.length > 0) w.str("content-type: ").str(contentType).str("\r\n");
  if (extraHeaders !== null) w.buf(extraHeaders);
  if (reqId.len > 0) w.str("x-request-id: ").buf(reqId).str("\r\n");
  w.str("content-length: ").int(n).str("\r\n");
  if (c.closing) w.str("connection: close\r\n");
  w.str("\r\n");
  w.push(b, n);
}

const errBody = new Buf(256);
/** The one error body (@wasm-fn/abi errorBody): the ABI code from the status, the adapter's code as the reason. */
function errorJson(status: i32, code: string, message: string): Buf {
  errBody.clear();
  errBody.str("{\"error\":{\"code\":").jstr(abiCodeForStatus(status)).str(",\"message\":").jstr(message);
  errBody.str(",\"requestId\":");
  if (reqId.len > 0) errBody.jbuf(reqId); else errBody.str("\"\"");
  errBody.str(",\"reason\":").jstr(code).str("}}");
  return errBody;
}
/** The table of @wasm-fn/abi errorCodeForStatus (the adapter is AssemblyScript and cannot import it). */
function abiCodeForStatus(status: i32): string {
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
function respondError(c: Conn, status: i32, code: string, message: string): void {
  const b = errorJson(status, code, message);
  respond(c, status, "application/json", b.ptr, b.len, null);
}
function respondJson(c: Conn, status: i32, json: string): void {
  const b = utf8(json);
  respond(c, status, "application/json", b.dataStart, b.length, null);
}

/** Whether a request is being served (false while the guest's start code runs). */
export function serving(): bool {
  return current !== null;
}

/**
 * Ends the request being served and the process: a timeout (504), a guest exit or a bad memory
 * range (500). The client gets its answer with the request id first; then the process ends with a
 * trap (a failure status under the wasmedge CLI and crun alike), and the container's restart policy
 * brings up a fresh instance (docs/runtime.md).
 */
export function abortRequest(status: i32, code: string, message: string): void {
  log.error(message + " [" + code + "]");
  const c = current;
  if (c !== null) {
    c.closing = true;
    respondError(c, status, code, message);
    const deadline = now() + 1_000_000_000;
    net.sendAll(c.fd, c.wbuf.ptr + <usize>c.wpos, c.wbuf.len - c.wpos, deadline);
    net.close(c.fd);
    log.request(currentMethod, pathBuf, status, <i64>((now() - currentStart) / 1000));
  }
  metrics.record(status, code, now() - currentStart);
  die();
}

// ---- request ids ----
const HEXD = "0123456789abcdef";
const rnd = memory.data(16);
function newRequestId(out: Buf): void {
  random_get(rnd, 16);
  store<u8>(rnd + 6, (load<u8>(rnd + 6) & 0x0f) | 0x40);
  store<u8>(rnd + 8, (load<u8>(rnd + 8) & 0x3f) | 0x80);
  out.clear();
  for (let i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.byte(45);
    const b = <i32>load<u8>(rnd + <usize>i);
    out.byte(HEXD.charCodeAt(b >> 4)); out.byte(HEXD.charCodeAt(b & 15));
  }
}
function validRequestId(b: Buf): bool {
  if (b.len == 0 || b.len > 128) return false;
  for (let i = 0; i < b.len; i++) {
    const c = b.at(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 46 || c == 95 || c == 58 || c == 45)) return false;
  }
  return true;
}

// ---- routing ----
/** Sets `rest` to the path below the function's route. Every path reaches the function (a container serves one function). */
function route(path: Buf): void {
  rest.clear();
  // /{namespace}/{name}[/rest]
  const prefix = "/" + fnNamespace + "/" + fnName;
  if (startsWith(path.ptr, path.len, prefix) && (path.len == prefix.length || path.at(prefix.length) == 47)) {
    rest.push(path.ptr + <usize>prefix.length, path.len - prefix.length);
    if (rest.len == 0) rest.byte(47);
    return;
  }
  for (let i = 0; i < paths.length; i++) {
    let p = paths[i];
    while (p.length > 1 && p.endsWith("/")) p = p.substring(0, p.length - 1);
    if (p == "/") break;
    if (startsWith(path.ptr, path.len, p) && (path.len == p.length || path.at(p.length) == 47)) {
      rest.push(path.ptr + <usize>p.length, path.len - p.length);
      if (rest.len == 0) rest.byte(47);
      return;
    }
  }
  rest.buf(path);
}

// ---- invocation ----
function setField(id: i32, p: usize, n: i32): void { field(id).push(p, n); }
function setFieldStr(id: i32, s: string): void { field(id).str(s); }

/** Runs the guest on the request set up in fields; returns the outcome. */
function invokeGuest(c: Conn): i32 {
  current = c;
  setField(5, reqId.ptr, reqId.len);
  setFieldStr(7, fnName);
  log.requestId.clear(); log.requestId.buf(reqId);
  log.resetGuestError();
  beginInvocation();
  const outcome = guest_handle();
  current = null;
  return outcome;
}

function serveFunction(c: Conn): void {
  setField(0, head.method.ptr, head.method.len);
  setField(1, rest.ptr, rest.len);
  setField(2, query.ptr, query.len);
  setField(3, body.ptr, body.len);
  setField(4, head.lines.ptr, head.lines.len);
  setFieldStr(6, "http");
  log.requestStart(head.method, pathBuf);
  invokeGuest(c);
  if (resTooLarge) {
    respondError(c, 500, "WFN_RESPONSE_TOO_LARGE", fnName + "'s response is over its limit; send less, or raise limits.responseBody in wasm-fn.yaml");
    finishRequest(500, "WFN_RESPONSE_TOO_LARGE");
    return;
  }
  if (resStatus < 200 || resStatus > 599) {
    // 1xx (101 above all) would turn the client's connection into a tunnel through the host
    respondError(c, 500, "WFN_BAD_RESPONSE", fnName + " answered status " + resStatus.toString() + "; a function answers 200-599");
    finishRequest(500, "WFN_BAD_RESPONSE");
    return;
  }
  respond(c, resStatus, "", resBody.ptr, resBody.len, resHeaders);
  finishRequest(resStatus, resStatus >= 500 ? "WFN_FUNCTION_ERROR" : "");
}

function finishRequest(status: i32, code: string): void {
  const dt = now() - currentStart;
  metrics.record(status, code, dt);
  log.request(currentMethod, pathBuf, status, <i64>(dt / 1000));
  clearRequest();
}

// ---- Dapr app routes: events ----
const TOPIC_PREFIX = "/_wfn/dapr/topics/";
const evData = new Buf(0);
const tmp = new Buf(64);

function ceField(id: i32, key: string, dflt: string): void {
  const v = stringMember(body.ptr, body.ptr + <usize>body.len, key);
  if (v !== null) setField(id, v.ptr, v.len); else if (dflt.length > 0) setFieldStr(id, dflt);
}

function serveTopic(c: Conn, t: Topic): void {
  const ct = head.contentType.toString().toLowerCase();
  const end = body.ptr + <usize>body.len;
  evData.clear();
  let dct = "";
  const jsonish = ct.indexOf("cloudevents+json") >= 0 || ct.startsWith("application/json") || (ct.startsWith("application/") && ct.indexOf("+json") >= 0);
  if (!jsonish) {
    evData.buf(body);
    dct = ct.length > 0 ? head.contentType.toString() : "application/octet-stream";
    newRequestId(tmp); setField(10, tmp.ptr, tmp.len);
    setFieldStr(11, ""); setFieldStr(12, "com.dapr.event.sent"); setFieldStr(13, "1.0");
    setFieldStr(17, t.topic); setFieldStr(18, t.pubsub);
  } else {
    if (!isJson(body.ptr, end) || body.len == 0 || body.at(skipWs()) != 123) {
      respondError(c, 400, "WFN_BAD_CLOUDEVENT", "the delivery is not a CloudEvent: the body is not a JSON object");
      finishRequest(400, "WFN_BAD_CLOUDEVENT");
      return;
    }
    const spec = stringMember(body.ptr, end, "specversion");
    if (spec === null) {
      evData.buf(body); dct = "application/json";
      newRequestId(tmp); setField(10, tmp.ptr, tmp.len);
      setFieldStr(11, ""); setFieldStr(12, "com.dapr.event.sent"); setFieldStr(13, "1.0");
      setFieldStr(17, t.topic); setFieldStr(18, t.pubsub);
    } else {
      const d = stringMember(body.ptr, end, "datacontenttype");
      dct = d !== null ? d.toString() : "application/json";
      const dctJson = dct.toLowerCase().startsWith("application/json") || dct.toLowerCase().indexOf("+json") >= 0;
      if (member(body.ptr, end, "data_base64") && valueIsString()) {
        const b64 = new Buf(0); unescape(vStart, vEnd, b64);
        base64Decode(b64.ptr, b64.len, evData);
      } else if (member(body.ptr, end, "data")) {
        if (valueIsString() && !dctJson) unescape(vStart, vEnd, evData);
        else if (!(vEnd - vStart == 4 && eqBytes(vStart, 4, "null"))) evData.push(vStart, <i32>(vEnd - vStart));
      }
      const id = stringMember(body.ptr, end, "id");
      if (id !== null) setField(10, id.ptr, id.len); else { newRequestId(tmp); setField(10, tmp.ptr, tmp.len); }
      ceField(11, "source", "");
      ceField(12, "type", "com.dapr.event.sent");
      setField(13, spec.ptr, spec.len);
      ceField(15, "subject", "");
      ceField(16, "time", "");
      ceField(17, "topic", t.topic);
      ceField(18, "pubsubname", t.pubsub);
    }
  }
  setFieldStr(14, dct);
  setFieldStr(19, fields[18].toString());
  const status = deliver(c, dct);
  respondJson(c, 200, "{\"status\":\"" + status + "\"}");
  finishRequest(200, status == "RETRY" ? "WFN_EVENT_RETRY" : "");
}

function skipWs(): i32 {
  let i = 0;
  while (i < body.len && (body.at(i) == 32 || body.at(i) == 9 || body.at(i) == 10 || body.at(i) == 13)) i++;
  return i < body.len ? i : 0;
}

function serveBinding(c: Conn, name: string): void {
  evData.clear(); evData.buf(body);
  const dct = head.contentType.len > 0 ? head.contentType.toString() : "application/octet-stream";
  newRequestId(tmp); setField(10, tmp.ptr, tmp.len);
  setFieldStr(11, name); setFieldStr(12, "com.dapr.binding"); setFieldStr(13, "1.0"); setFieldStr(14, dct);
  setFieldStr(17, ""); setFieldStr(18, ""); setFieldStr(19, name);
  const status = deliver(c, dct);
  respondJson(c, status == "RETRY" ? 500 : 200, "{\"status\":\"" + status + "\"}");
  finishRequest(status == "RETRY" ? 500 : 200, status == "RETRY" ? "WFN_EVENT_RETRY" : "");
}

/** One delivery: the guest's outcome, outputs sent before the answer (at-least-once). */
function deliver(c: Conn, dct: string): string {
  setFieldStr(0, "POST");
  setFieldStr(1, "/");
  setFieldStr(2, "");
  setField(3, evData.ptr, evData.len);
  const h = field(4);
  h.str("content-type: ").str(dct).str("\nce-id: ").buf(fields[10]).byte(10);
  setFieldStr(6, "event");
  log.requestStart(head.method, pathBuf);
  const outcome = invokeGuest(c);
  if (outcome == 2) return "DROP";
  if (outcome != 0) {
    log.fields2(outcome == 1 ? "info" : "warn", outcome == 1 ? "function asked to retry the event" : "function returned outcome " + outcome.toString() + ", which is not SUCCESS, RETRY or DROP; asking for redelivery", "event", fields[10].toString(), "", "");
    return "RETRY";
  }
  if (resBody.len > 0 && outputs.length > 0) {
    const ct = resContentType.len > 0 ? resContentType.toString() : "application/octet-stream";
    for (let i = 0; i < outputs.length; i++) {
      const o = outputs[i];
      const e = o.pubsub ? publishBytes(o.name, o.target, resBody.ptr, resBody.len, ct, o.metadata) : bindingBytes(o.name, o.target, resBody.ptr, resBody.len, o.metadata);
      if (e != 0) {
        log.fields2("warn", "event not processed, asking for redelivery: output '" + o.name + "' failed", "event", fields[10].toString(), "code", e.toString());
        return "RETRY";
      }
    }
  }
  return "SUCCESS";
}

// ---- one parsed request ----
const pathBuf = new Buf(256);

function serveRequest(c: Conn): void {
  currentStart = c.startNs > 0 ? c.startNs : now();
  currentMethod.clear(); currentMethod.buf(head.method);
  if (validRequestId(head.requestId)) { reqId.clear(); reqId.buf(head.requestId); } else newRequestId(reqId);
  log.requestId.clear(); log.requestId.buf(reqId);
  const t = head.target;
  rest.clear(); query.clear(); pathBuf.clear();
  if (t.len == 0 || t.at(0) != 47) {
    respondError(c, 400, "WFN_BAD_REQUEST", "request target '" + t.toString() + "' is not a path; send an origin-form target like /" + fnNamespace + "/" + fnName);
    finishRequest(400, "WFN_BAD_REQUEST");
    return;
  }
  let q = 0;
  while (q < t.len && t.at(q) != 63) q++;
  if (q < t.len) query.push(t.ptr + <usize>(q + 1), t.len - q - 1);
  if (!percentDecode(t.ptr, q, pathBuf)) {
    rest.push(t.ptr, q);
    respondError(c, 400, "WFN_BAD_REQUEST", "the path has malformed percent-encoding");
    finishRequest(400, "WFN_BAD_REQUEST");
    return;
  }
  const m = head.method;
  const isGet = eqBytes(m.ptr, m.len, "GET") || eqBytes(m.ptr, m.len, "HEAD");
  rest.buf(pathBuf);
  if (isGet && eqBytes(pathBuf.ptr, pathBuf.len, "/healthz")) { respondJson(c, 200, "{\"status\":\"ok\"}"); return; }
  if (isGet && eqBytes(pathBuf.ptr, pathBuf.len, "/readyz")) { respondJson(c, draining ? 503 : 200, draining ? "{\"status\":\"not ready\"}" : "{\"status\":\"ready\"}"); return; }
  if (isGet && eqBytes(pathBuf.ptr, pathBuf.len, "/metrics")) {
    const b = metrics.render();
    respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", b.ptr, b.len, null);
    return;
  }
  if (isGet && eqBytes(pathBuf.ptr, pathBuf.len, "/dapr/subscribe")) {
    respond(c, 200, "application/json", subscribeJson.dataStart, subscribeJson.length, null);
    return;
  }
  if (isGet && eqBytes(pathBuf.ptr, pathBuf.len, "/dapr/config")) { respondJson(c, 200, "{}"); return; }
  const isPost = eqBytes(m.ptr, m.len, "POST");
  if (startsWith(pathBuf.ptr, pathBuf.len, TOPIC_PREFIX) && isPost) {
    const target = t.toString().substring(0, q);
    for (let i = 0; i < topics.length; i++) if (topics[i].route == target) { serveTopic(c, topics[i]); return; }
  }
  if (bindings.length > 0 && pathBuf.len > 1) {
    const name = String.UTF8.decodeUnsafe(pathBuf.ptr + 1, <usize>(pathBuf.len - 1));
    for (let i = 0; i < bindings.length; i++) {
      if (bindings[i] != name) continue;
      if (eqBytes(m.ptr, m.len, "OPTIONS")) { respond(c, 200, "", 0, 0, null); return; }
      if (isPost || eqBytes(m.ptr, m.len, "PUT")) { serveBinding(c, name); return; }
    }
  }
  route(pathBuf);
  serveFunction(c);
}

// ---- reading requests off a connection ----
function fail(c: Conn, status: i32, code: string, message: string): void {
  c.closing = true;
  c.linger = true;
  currentStart = c.startNs > 0 ? c.startNs : now();
  reqId.clear();
  newRequestId(reqId);
  currentMethod.clear(); rest.clear(); pathBuf.clear();
  respondError(c, status, code, message);
  log.fields2("warn", "malformed request", "code", code, "status", status.toString());
  metrics.record(status, code, 0);
}

const MAX_PENDING_OUT = 1 << 20;

/** Parses and serves every complete request in c.rbuf, in order (pipelined answers queue in wbuf, up to 1 MiB). */
function process(c: Conn): void {
  while (!c.closing && c.wbuf.len - c.wpos < MAX_PENDING_OUT && c.rbuf.len > 0) {
    if (c.startNs == 0) c.startNs = now();
    const he = headEnd(c.rbuf.ptr, c.rbuf.len);
    if (he < 0) {
      if (c.rbuf.len > MAX_HEAD) fail(c, 431, "WFN_HEADERS_TOO_LARGE", "the request head is over " + MAX_HEAD.toString() + " bytes");
      return;
    }
    if (he > MAX_HEAD) { fail(c, 431, "WFN_HEADERS_TOO_LARGE", "the request head is over " + MAX_HEAD.toString() + " bytes"); return; }
    const st = parseRequestHead(c.rbuf.ptr, he, head);
    if (st != 0) { fail(c, st, "WFN_BAD_REQUEST", st == 505 ? "only HTTP/1.0 and HTTP/1.1 are served" : "malformed HTTP request"); return; }
    if (head.badTE) { fail(c, 501, "WFN_BAD_REQUEST", "unsupported transfer-encoding; send chunked or a content-length"); return; }
    if (head.chunked && head.contentLength >= 0) { fail(c, 400, "WFN_BAD_REQUEST", "a request may not carry both content-length and transfer-encoding"); return; }
    let consumed = he;
    body.clear();
    if (head.chunked) {
      const r = dechunk(c.rbuf.ptr + <usize>he, c.rbuf.len - he, body, requestBytes);
      if (r == -1) { fail(c, 400, "WFN_BAD_REQUEST", "malformed chunked body"); return; }
      if (r == -2) { tooLarge(c); return; }
      if (r == 0) { expectContinue(c); return; }
      consumed = he + r;
    } else if (head.contentLength > 0) {
      if (head.contentLength > requestBytes) { tooLarge(c); return; }
      if (<i64>(c.rbuf.len - he) < head.contentLength) { expectContinue(c); return; }
      body.push(c.rbuf.ptr + <usize>he, <i32>head.contentLength);
      consumed = he + <i32>head.contentLength;
    }
    if (head.http10 ? !head.keepAlive : head.close) c.closing = true;
    if (draining) c.closing = true;
    serveRequest(c);
    c.rbuf.shift(consumed);
    c.startNs = 0;
    c.continueSent = false;
    body.trim(64 * 1024);
  }
}

function tooLarge(c: Conn): void {
  fail(c, 413, "WFN_BODY_TOO_LARGE", "the request body is over this function's limit of " + requestBytes.toString() + " bytes; send less, or raise limits.requestBody in wasm-fn.yaml");
}

function expectContinue(c: Conn): void {
  if (!head.expectContinue || c.continueSent) return;
  c.continueSent = true;
  c.wbuf.str("HTTP/1.1 100 Continue\r\n\r\n");
}

function flush(c: Conn): void {
  while (c.wpos < c.wbuf.len) {
    const w = net.send(c.fd, c.wbuf.ptr + <usize>c.wpos, c.wbuf.len - c.wpos);
    if (w == -1) return;
    if (w < 0) { c.dead = true; return; }
    c.wpos += w;
  }
  c.wbuf.clear();
  c.wpos = 0;
  c.wbuf.trim(64 * 1024);
  if (!c.closing) return;
  // The answer is out. Linger (see LINGER_NS) when the client may still be sending; if the host
  // cannot shut down one side, close at once as before.
  if (c.linger && c.lingerUntilNs == 0 && sock_shutdown(c.fd, SHUT_WR) == 0) {
    c.lingerUntilNs = now() + LINGER_NS;
    c.rbuf.clear();
    return;
  }
  if (c.lingerUntilNs == 0) c.dead = true;
}

/** A lingering connection's read event: drop what came; close at EOF, an error or the byte bound. */
function drain(c: Conn): void {
  for (;;) {
    c.rbuf.clear();
    const r = net.recv(c.fd, c.rbuf, READ_CHUNK);
    if (r == -1) return;
    if (r <= 0) { c.dead = true; return; }
    c.lingerBytes += r;
    if (c.lingerBytes > LINGER_BYTES) { c.dead = true; return; }
  }
}

// ---- the loop ----
const SUB = 48;
const EVT = 32;
let subs: usize = 0;
let events: usize = 0;
let slots = 0;
const nev = memory.data(8);

function ensureSlots(n: i32): void {
  if (n <= slots) return;
  slots = n + 64;
  if (subs != 0) { heap.free(subs); heap.free(events); }
  subs = heap.alloc(<usize>(slots * SUB));
  events = heap.alloc(<usize>(slots * EVT));
}

function sub(i: i32, userdata: u64, tag: u8, fd: i32): void {
  const s = subs + <usize>(i * SUB);
  memory.fill(s, 0, SUB);
  store<u64>(s, userdata);
  store<u8>(s + 8, tag);
  store<u32>(s + 16, <u32>fd);
}
function clockSub(i: i32, ns: u64): void {
  const s = subs + <usize>(i * SUB);
  memory.fill(s, 0, SUB);
  store<u64>(s, 0);
  store<u8>(s + 8, net.EV_CLOCK);
  store<u32>(s + 16, 1);
  store<u64>(s + 24, ns);
}

/** Between requests with nothing to send: a keep-alive connection that can be closed without losing anything. */
function idle(c: Conn): bool { return !c.dead && c.lingerUntilNs == 0 && c.startNs == 0 && c.rbuf.len == 0 && c.wpos >= c.wbuf.len; }

function anyIdle(): bool {
  for (let i = 0; i < conns.length; i++) if (idle(conns[i])) return true;
  return false;
}
/**
 * At MAX_CONNS, closes the longest-idle keep-alive connection to make room for a new one (as nginx
 * does), so idle connections cannot lock every new client out until they reach IDLE_NS; false
 * when every connection is in the middle of a request.
 */
function evictIdle(): bool {
  let best = -1;
  for (let i = 0; i < conns.length; i++) {
    const c = conns[i];
    if (idle(c) && (best < 0 || c.lastNs < conns[best].lastNs)) best = i;
  }
  if (best < 0) return false;
  conns[best].dead = true; // closed at the end of this turn of the loop
  return true;
}

function acceptAll(): void {
  let live = 0;
  for (let i = 0; i < conns.length; i++) if (!conns[i].dead) live++;
  for (let k = 0; k < 64; k++) {
    if (live >= MAX_CONNS && !anyIdle()) return;
    const e = sock_accept_v2(listenFd, 0, nev);
    if (e == 0) fd_fdstat_set_flags(<i32>load<u32>(nev), FDFLAGS_NONBLOCK);
    if (e == ERRNO_AGAIN || e != 0) return;
    const c = new Conn();
    c.fd = <i32>load<u32>(nev);
    c.lastNs = now();
    if (live >= MAX_CONNS) evictIdle(); else live++;
    conns.push(c);
  }
}

export function serve(port: i32): void {
  listenFd = net.listen(port, 1024);
  if (listenFd < 0) {
    log.error("cannot listen on 0.0.0.0:" + port.toString() + " (errno " + (-listenFd).toString() + "); is the port taken? set PORT to another");
    die();
  }
  log.fields2("info", "listening", "url", "http://0.0.0.0:" + port.toString(), "function", fnLabel);
  while (true) {
    const n = conns.length;
    ensureSlots(n + 2);
    let k = 0;
    if (n < MAX_CONNS || anyIdle()) sub(k++, 1, net.EV_READ, listenFd);
    for (let i = 0; i < n; i++) {
      const c = conns[i];
      sub(k++, <u64>(i + 2), c.wpos < c.wbuf.len ? net.EV_WRITE : net.EV_READ, c.fd);
    }
    clockSub(k++, 1_000_000_000);
    const e = poll_oneoff(subs, events, k, nev);
    if (e != 0) { log.error("poll_oneoff failed (errno " + e.toString() + ")"); die(); }
    const got = <i32>load<u32>(nev);
    let t = now();
    for (let j = 0; j < got; j++) {
      const ev = events + <usize>(j * EVT);
      const ud = load<u64>(ev);
      if (ud == 0) continue;
      if (ud == 1) { acceptAll(); continue; }
      const i = <i32>(ud - 2);
      if (i >= n) continue;
      const c = conns[i];
      if (c.dead) continue;
      const type = load<u8>(ev + 10);
      c.lastNs = t;
      if (c.lingerUntilNs > 0) { drain(c); continue; }
      if (type == net.EV_WRITE) {
        flush(c);
        if (!c.dead) process(c);
        if (!c.dead) flush(c);
        continue;
      }
      const r = net.recv(c.fd, c.rbuf, READ_CHUNK);
      if (r == -1) continue;
      if (r <= 0) { c.dead = true; continue; }
      process(c);
      flush(c);
    }
    // timeouts and closed connections
    t = now();
    let w = 0;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[i];
      if (!c.dead) {
        if (c.lingerUntilNs > 0) {
          if (t > c.lingerUntilNs) c.dead = true;
        } else if (c.startNs > 0 && t > c.startNs + REQUEST_READ_NS && c.wpos >= c.wbuf.len) {
          c.dead = true; // slowloris: the request did not arrive in time
        } else if (c.startNs == 0 && c.rbuf.len == 0 && c.wpos >= c.wbuf.len && t > c.lastNs + IDLE_NS) {
          c.dead = true;
        }
      }
      if (c.dead) { net.close(c.fd); c.rbuf.release(); c.wbuf.release(); continue; }
      conns[w++] = c;
    }
    conns.length = w;
  }
}
