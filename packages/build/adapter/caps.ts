// Capability calls (ABI `call`) over Dapr's HTTP API on 127.0.0.1:$DAPR_HTTP_PORT, with the error
// codes and sentences of the Node shim (runtime-shim/src/backends/dapr), and outbound HTTP.
import { Buf, ListWriter, readList, str, utf8, eqBytes, hex } from "./mem";
import * as client from "./client";
import { isJson, firstMember, nextMember, kStart, kEnd, vStart, vEnd, unescape, valueIsString, stringMember } from "./json";
import { resolve, parseIPv4 } from "./net";
import { hosts, fnName, grantStates, grantPublish, grantBindings, grantSecrets, grantConfiguration, grantInvoke } from "./config";
import * as grpc from "./grpc";

// ABI error codes (packages/abi/src/abi.ts)
const UNKNOWN_OP = 1;
const INVALID_ARGUMENT = 2;
const NOT_CONFIGURED = 3;
const DENIED = 4;
const NOT_FOUND = 5;
const CONFLICT = 6;
const UNAVAILABLE = 7;
const TIMEOUT = 8;
const TOO_LARGE = 9;
const INTERNAL = 10;

export let daprPort = 3500;
export let daprToken = "";
export let daprGrpcPort = 50001;
export let daprTimeoutMs: i64 = 5000;
const LOOPBACK = parseIPv4("127.0.0.1");
const MAX_ANSWER: i64 = 16 << 20;

let out: Buf = new Buf(0);
const hdr = new Buf(256);
const path = new Buf(256);
const json = new Buf(1024);

function fail(code: i32, msg: string): i32 { out.clear(); out.str(msg); return code; }

function seg(b: Buf, v: Uint8Array): void {
  for (let i = 0; i < v.length; i++) {
    const c = <i32>v[i];
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46 || c == 95 || c == 126) b.byte(c);
    else { b.byte(37); b.byte(upper(hex(c >> 4))); b.byte(upper(hex(c & 15))); }
  }
}
function upper(c: i32): i32 { return c >= 97 ? c - 32 : c; }

function metaQuery(b: Buf, meta: Uint8Array, first: bool): void {
  const items = readList(meta.dataStart, meta.length);
  if (items === null) return;
  for (let i = 0; i + 1 < items.length; i += 2) {
    b.byte(first ? 63 : 38); first = false;
    b.str("metadata."); seg(b, items[i]); b.byte(61); seg(b, items[i + 1]);
  }
}
function metaJson(b: Buf, meta: Uint8Array, skipConcurrency: bool): i32 {
  const items = readList(meta.dataStart, meta.length);
  let n = 0;
  b.byte(123);
  if (items !== null) {
    for (let i = 0; i + 1 < items.length; i += 2) {
      if (skipConcurrency && eqBytes(items[i].dataStart, items[i].length, "concurrency")) continue;
      if (n > 0) b.byte(44);
      b.jbytes(items[i].dataStart, items[i].length).byte(58).jbytes(items[i + 1].dataStart, items[i + 1].length);
      n++;
    }
  }
  b.byte(125);
  return n;
}
function metaValue(meta: Uint8Array, key: string): string {
  const items = readList(meta.dataStart, meta.length);
  if (items === null) return "";
  for (let i = 0; i + 1 < items.length; i += 2) if (eqBytes(items[i].dataStart, items[i].length, key)) return str(items[i + 1]);
  return "";
}

/** A JSON value for daprd: the bytes as they are when they are one JSON value, else a JSON string of them. */
function jsonValue(b: Buf, v: Uint8Array): void {
  if (v.length == 0) { b.str("null"); return; }
  if (isJson(v.dataStart, v.dataStart + <usize>v.length)) b.bytes(v);
  else b.jbytes(v.dataStart, v.length);
}

/** Sends a request to daprd's HTTP API; returns 0 with client.head/body set, or an error code with `out` holding the sentence. */
function dapr(what: string, method: string, body: Buf | null, contentType: string, pass: bool = false, extra: Buf | null = null): i32 {
  hdr.clear();
  if (daprToken.length > 0) hdr.str("dapr-api-token: ").str(daprToken).str("\r\n");
  if (contentType.length > 0) hdr.str("content-type: ").str(contentType).str("\r\n");
  if (extra !== null) hdr.buf(extra);
  const addr = "127.0.0.1:" + daprPort.toString();
  const r = client.request(LOOPBACK, daprPort, addr, method, path.toString(), hdr, body !== null ? body.ptr : 0, body !== null ? body.len : 0, daprTimeoutMs, MAX_ANSWER);
  if (r == client.REFUSED) return fail(UNAVAILABLE, what + ": daprd at " + addr + " is unreachable (ECONNREFUSED); is the sidecar running? (run daprd beside the function: --app-port $PORT --dapr-http-port $DAPR_HTTP_PORT)");
  if (r == client.TIMEOUT) return fail(TIMEOUT, what + ": daprd at " + addr + " did not answer within " + daprTimeoutMs.toString() + " ms (is the store behind it, e.g. Redis, reachable? raise WFN_DAPR_TIMEOUT_MS if it is only slow)");
  if (r == client.TOO_LARGE) return fail(TOO_LARGE, what + ": daprd's answer is larger than " + MAX_ANSWER.toString() + " bytes");
  if (r != client.OK) return fail(UNAVAILABLE, what + ": daprd at " + addr + " closed the connection or answered malformed HTTP");
  const st = client.head.status;
  if (st >= 400 && !pass) return daprError(what, st);
  return 0;
}

function daprError(what: string, status: i32): i32 {
  const b = client.body;
  const end = b.ptr + <usize>b.len;
  let msg = "";
  let code = "";
  const m = stringMember(b.ptr, end, "message");
  const c = stringMember(b.ptr, end, "errorCode");
  if (m !== null) msg = m.toString(); else msg = String.UTF8.decodeUnsafe(b.ptr, <usize>(b.len > 500 ? 500 : b.len));
  if (c !== null) code = c.toString();
  return classify(what, status, msg, code);
}

/** daprd's error (HTTP status, or a gRPC code mapped to one) in the shim's codes and sentences (backends/dapr/errors.ts). */
function classify(what: string, status: i32, msg: string, code: string): i32 {
  const full = msg + (code.length > 0 ? " (" + code + ")" : "");
  const lower = full.toLowerCase();
  const storeDown = has(lower, "connection refused") || has(lower, "dial tcp") || has(lower, "i/o timeout") || has(lower, "connection reset") || has(lower, "broken pipe") || has(lower, "no route to host") || has(lower, "context deadline exceeded") || has(lower, "loading");
  const component = has(lower, "state store") || has(lower, "pubsub") || has(lower, "pub/sub") || has(lower, "binding") || has(lower, "secret store") || has(lower, "configuration store") || has(lower, "component");
  if ((component && (has(lower, "not found") || has(lower, "not configured") || has(lower, "isn't configured") || has(lower, "failed finding") || has(lower, "couldn't find"))) || (has(code, "_NOT_FOUND") && (has(code, "STORE") || has(code, "PUBSUB"))) || (has(code, "NOT_CONFIGURED"))) {
    return fail(NOT_CONFIGURED, what + ": " + full + " (add the component to daprd's resources path)");
  }
  if ((has(lower, "secret ") && has(lower, "not found") || has(code, "ERR_SECRET_GET")) && !storeDown) return fail(NOT_FOUND, what + ": " + full);
  if (status == 409 || has(lower, "etag mismatch") || has(lower, "possible etag") || (has(code, "ERR_STATE_SAVE") && has(lower, "etag")) || has(lower, "concurrency") || (has(lower, "failed to set key") && has(lower, "user_script")) || (has(lower, "failed to delete key") && has(lower, "user_script"))) {
    return fail(CONFLICT, what + ": etag mismatch: someone else wrote first; read it again and retry (" + full + ")");
  }
  if (has(lower, "failed to invoke") || has(code, "ERR_DIRECT_INVOKE")) return fail(UNAVAILABLE, what + ": daprd could not reach the app: " + full);
  if (storeDown) return fail(UNAVAILABLE, what + ": daprd could not reach the store behind it: " + full);
  if (status == 400) return fail(INVALID_ARGUMENT, what + ": " + full);
  if (status == 404) return fail(NOT_FOUND, what + ": " + full);
  if (status == 401 || status == 403) return fail(DENIED, what + ": " + full);
  return fail(INTERNAL, what + ": " + full);
}
function has(s: string, w: string): bool { return s.indexOf(w) >= 0; }

/** A unary call to daprd's gRPC API; 0 with the reply in grpc.reply, else an error code with `out` set. */
function daprGrpc(what: string, method: string, msg: Buf): i32 {
  const addr = "127.0.0.1:" + daprGrpcPort.toString();
  const r = grpc.call(daprGrpcPort, method, msg, daprToken, daprTimeoutMs);
  if (r == grpc.REFUSED) return fail(UNAVAILABLE, what + ": daprd's gRPC API at " + addr + " is unreachable (ECONNREFUSED); is the sidecar running, and is DAPR_GRPC_PORT its gRPC port?");
  if (r == grpc.TIMEOUT) return fail(TIMEOUT, what + ": daprd at " + addr + " did not answer within " + daprTimeoutMs.toString() + " ms (is the store behind it, e.g. Redis, reachable? raise WFN_DAPR_TIMEOUT_MS if it is only slow)");
  if (r == grpc.TOO_LARGE) return fail(TOO_LARGE, what + ": over 60 KiB, more than this host sends to daprd's gRPC API in one call");
  if (r != grpc.OK) return fail(UNAVAILABLE, what + ": daprd at " + addr + " closed the connection or answered malformed HTTP/2" + (grpc.message.length > 0 ? " (" + grpc.message + ")" : ""));
  const st = grpc.status;
  if (st == 0) return 0;
  if (st == 4) return fail(TIMEOUT, what + ": daprd at " + addr + " did not answer within " + daprTimeoutMs.toString() + " ms: " + grpc.message);
  const lower = grpc.message.toLowerCase();
  if (st == 14 && !(has(lower, "connection refused") || has(lower, "dial tcp"))) return fail(UNAVAILABLE, what + ": daprd at " + addr + " is unavailable: " + grpc.message);
  return classify(what, st == 3 ? 400 : st == 5 ? 404 : st == 7 || st == 16 ? 403 : 500, grpc.message, "");
}

/** True for values daprd's HTTP state API stores byte for byte: a JSON number, literal, or plain string. */
function httpSafe(v: Uint8Array): bool {
  const n = v.length;
  if (n == 0 || n > 64) return false;
  const c0 = v[0];
  if (c0 == 34) {
    if (v[n - 1] != 34 || n < 2) return false;
    for (let i = 1; i < n - 1; i++) { const c = v[i]; if (c < 0x20 || c >= 0x7f || c == 34 || c == 92 || c == 60 || c == 62 || c == 38) return false; }
    return true;
  }
  if (eqBytes(v.dataStart, n, "true") || eqBytes(v.dataStart, n, "false") || eqBytes(v.dataStart, n, "null")) return true;
  // integers without a leading zero, as Go prints them back
  if (n > 15) return false;
  let i = c0 == 45 ? 1 : 0;
  if (i >= n || (v[i] == 48 && n > i + 1)) return false;
  for (; i < n; i++) if (v[i] < 48 || v[i] > 57) return false;
  return !(c0 == 45 && n == 2 && v[1] == 48);
}

const pb = new Buf(256);
/** A StateItem message (dapr/proto/common/v1): key, value, etag, metadata, options.concurrency. */
function pbStateItem(b: Buf, key: Uint8Array, value: Uint8Array, etag: Uint8Array, meta: Uint8Array, withValue: bool): void {
  const firstWrite = etag.length > 0 || metaValue(meta, "concurrency") == "first-write";
  grpc.pbBytes(b, 1, key.dataStart, key.length);
  if (withValue) grpc.pbBytes(b, 2, value.dataStart, value.length);
  if (etag.length > 0) { const e = new Buf(64); grpc.pbBytes(e, 1, etag.dataStart, etag.length); grpc.pbBytes(b, 3, e.ptr, e.len); e.release(); }
  grpc.pbMap(b, 4, readList(meta.dataStart, meta.length), "concurrency");
  const o = new Buf(8); grpc.pbTag(o, 1, 0); grpc.pbVarint(o, firstWrite ? 1 : 2); grpc.pbBytes(b, 5, o.ptr, o.len); o.release();
}

function arity(args: Array<Uint8Array>, n: i32, name: string): bool {
  if (args.length >= n) return true;
  fail(INVALID_ARGUMENT, name + ": expected " + n.toString() + " arguments, got " + args.length.toString());
  return false;
}

/** Runs capability `op` with encoded `args`; the result list (or the error sentence) goes to `result`. Returns 0 or an error code. */
export function dispatch(op: i32, raw: Uint8Array, result: Buf): i32 {
  out = result;
  if (!((op >= 100 && op <= 104) || op == 200 || op == 300 || op == 400 || op == 500 || op == 600 || op == 700)) {
    return fail(UNKNOWN_OP, "op " + op.toString() + " is not part of the wasm-fn ABI v1");
  }
  const a = readList(raw.dataStart, raw.length);
  if (a === null) return fail(INVALID_ARGUMENT, "malformed arguments: not a byte-string list");
  const args = changetype<Array<Uint8Array>>(a);
  const denied = checkGrant(op, args);
  if (denied != 0) return denied;
  switch (op) {
    case 100: return stateGet(args);
    case 101: return stateSave(args);
    case 102: return stateDelete(args);
    case 103: return stateBulkGet(args);
    case 104: return stateTransact(args);
    case 200: return publish(args);
    case 300: return bindingInvoke(args);
    case 400: return invoke(args);
    case 500: return secretGet(args);
    case 600: return configGet(args);
    case 700: return httpFetch(args);
  }
  return fail(UNKNOWN_OP, "op " + op.toString() + " is not part of the wasm-fn ABI v1");
}

// ---- per-function scoping: the same rule as the shim's capabilities/grants.ts ----

function granted(list: Array<string>, name: string): bool {
  for (let i = 0; i < list.length; i++) if (list[i] == name) return true;
  return false;
}

/** "orders/new" is under "orders" and "orders/", not under "ord"; '.' and '..' segments never match. */
function underPrefix(target: string, prefix: string): bool {
  const q = target.indexOf("?");
  const method = q >= 0 ? target.substring(0, q) : target;
  let p = prefix;
  while (p.startsWith("/")) p = p.substring(1);
  while (p.endsWith("/")) p = p.substring(0, p.length - 1);
  const segs = method.split("/");
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i].toLowerCase();
    if (s == "." || s == ".." || s.indexOf("%2e") >= 0 || s.indexOf("%2f") >= 0) return false;
  }
  return p.length == 0 || method == p || method.startsWith(p + "/");
}

function invokeGranted(appId: string, method: string): bool {
  for (let i = 0; i < grantInvoke.length; i++) {
    const g = grantInvoke[i];
    const slash = g.indexOf("/");
    if (slash < 0 ? g == appId : g.substring(0, slash) == appId && underPrefix(method, g.substring(slash + 1))) return true;
  }
  return false;
}

function deny(op: string, what: string, name: string, how: string): i32 {
  return fail(DENIED, op + ": " + what + " '" + name + "' is not granted to function '" + fnName + "'; in its wasm-fn.yaml " + how);
}

/** DENIED unless the function's config names the store, topic, binding or app id; 0 when granted. */
function checkGrant(op: i32, args: Array<Uint8Array>): i32 {
  if (args.length < 1) return 0; // the op's own arity check answers
  const name = str(args[0]);
  if (op >= 100 && op <= 104) {
    if (!granted(grantStates, name)) return deny("state", "state store", name, "add it under states: (states: [" + name + "])");
  } else if (op == 200) {
    const topic = args.length > 1 ? str(args[1]) : "";
    if (!granted(grantPublish, name + "/" + topic) && !granted(grantPublish, name + "/*")) {
      return fail(DENIED, "pubsub.publish: topic '" + topic + "' of pubsub '" + name + "' is not granted to function '" + fnName + "'; in its wasm-fn.yaml add it under permissions.publish (permissions: {publish: [" + name + "/" + topic + "]}), or as an output");
    }
  } else if (op == 300) {
    if (!granted(grantBindings, name)) return deny("bindings.invoke", "output binding", name, "add it under permissions.bindings (permissions: {bindings: [" + name + "]}), or as an output");
  } else if (op == 400) {
    let method = args.length > 1 ? str(args[1]) : "";
    while (method.startsWith("/")) method = method.substring(1);
    if (!invokeGranted(name, method)) {
      return fail(DENIED, "invoke.call: app '" + name + "' (method '" + method + "') is not granted to function '" + fnName + "'; in its wasm-fn.yaml add it under permissions.invoke (permissions: {invoke: [" + name + "]}, or " + name + "/<method-prefix>)");
    }
  } else if (op == 500) {
    if (!granted(grantSecrets, name)) return deny("secrets.get", "secret store", name, "add it under permissions.secrets (permissions: {secrets: [" + name + "]})");
  } else if (op == 600) {
    if (!granted(grantConfiguration, name)) return deny("config.get", "configuration store", name, "add it under permissions.configuration (permissions: {configuration: [" + name + "]})");
  }
  return 0;
}

function finish(w: ListWriter): i32 { const b = w.finish(); out.clear(); out.buf(b); heap.free(b.ptr); return 0; }

function stateGet(args: Array<Uint8Array>): i32 {
  if (!arity(args, 2, "state.get")) return INVALID_ARGUMENT;
  const what = "state.get " + str(args[0]) + "/" + str(args[1]);
  path.clear(); path.str("/v1.0/state/"); seg(path, args[0]); path.byte(47); seg(path, args[1]);
  const e = dapr(what, "GET", null, "");
  if (e != 0) return e;
  const w = new ListWriter();
  if (client.head.status == 204) return finish(w);
  w.buf(client.body).buf(client.head.etag);
  return finish(w);
}

function saveItem(b: Buf, key: Uint8Array, value: Uint8Array, etag: Uint8Array, meta: Uint8Array, withValue: bool): void {
  const firstWrite = etag.length > 0 || metaValue(meta, "concurrency") == "first-write";
  b.str("{\"key\":").jbytes(key.dataStart, key.length);
  if (withValue) { b.str(",\"value\":"); jsonValue(b, value); }
  if (etag.length > 0) b.str(",\"etag\":").jbytes(etag.dataStart, etag.length);
  b.str(",\"options\":{\"concurrency\":\"").str(firstWrite ? "first-write" : "last-write").str("\"}");
  const mark = b.len;
  b.str(",\"metadata\":");
  if (metaJson(b, meta, true) == 0) b.len = mark;
  b.byte(125);
}

function stateSave(args: Array<Uint8Array>): i32 {
  if (!arity(args, 4, "state.save")) return INVALID_ARGUMENT;
  const meta = args.length > 4 ? args[4] : new Uint8Array(0);
  if (!httpSafe(args[2])) {
    // daprd's HTTP API would store these bytes re-encoded as JSON: SaveState over gRPC keeps them.
    pb.clear(); grpc.pbBytes(pb, 1, args[0].dataStart, args[0].length);
    const item = new Buf(64); pbStateItem(item, args[1], args[2], args[3], meta, true); grpc.pbBytes(pb, 2, item.ptr, item.len); item.release();
    const e = daprGrpc("state.save " + str(args[0]) + "/" + str(args[1]), "SaveState", pb);
    return e != 0 ? e : finish(new ListWriter());
  }
  json.clear(); json.byte(91); saveItem(json, args[1], args[2], args[3], meta, true); json.byte(93);
  path.clear(); path.str("/v1.0/state/"); seg(path, args[0]);
  const e = dapr("state.save " + str(args[0]) + "/" + str(args[1]), "POST", json, "application/json");
  return e != 0 ? e : finish(new ListWriter());
}

function stateDelete(args: Array<Uint8Array>): i32 {
  if (!arity(args, 3, "state.delete")) return INVALID_ARGUMENT;
  const meta = args.length > 3 ? args[3] : new Uint8Array(0);
  const etag = args[2];
  const firstWrite = etag.length > 0 || metaValue(meta, "concurrency") == "first-write";
  path.clear(); path.str("/v1.0/state/"); seg(path, args[0]); path.byte(47); seg(path, args[1]);
  path.str("?concurrency=").str(firstWrite ? "first-write" : "last-write");
  const items = readList(meta.dataStart, meta.length);
  if (items !== null) for (let i = 0; i + 1 < items.length; i += 2) {
    if (eqBytes(items[i].dataStart, items[i].length, "concurrency")) continue;
    path.str("&metadata."); seg(path, items[i]); path.byte(61); seg(path, items[i + 1]);
  }
  const extra = new Buf(64);
  if (etag.length > 0) extra.str("if-match: ").bytes(etag).str("\r\n");
  const e = dapr("state.delete " + str(args[0]) + "/" + str(args[1]), "DELETE", null, "", false, extra);
  extra.release();
  return e != 0 ? e : finish(new ListWriter());
}

function stateBulkGet(args: Array<Uint8Array>): i32 {
  if (!arity(args, 1, "state.bulkGet")) return INVALID_ARGUMENT;
  const w = new ListWriter();
  for (let i = 1; i < args.length; i++) {
    path.clear(); path.str("/v1.0/state/"); seg(path, args[0]); path.byte(47); seg(path, args[i]);
    const e = dapr("state.get " + str(args[0]) + "/" + str(args[i]), "GET", null, "");
    if (e != 0) return e;
    w.bytes(args[i]);
    if (client.head.status == 204) { w.str(""); w.str(""); }
    else { w.buf(client.body); w.buf(client.head.etag); }
  }
  return finish(w);
}

function stateTransact(args: Array<Uint8Array>): i32 {
  if (!arity(args, 1, "state.transact")) return INVALID_ARGUMENT;
  let safe = true;
  for (let i = 1; i < args.length; i++) {
    const l = readList(args[i].dataStart, args[i].length);
    if (l !== null && l.length >= 4 && str(l[0]) == "upsert" && !httpSafe(l[2])) safe = false;
  }
  if (!safe) return stateTransactGrpc(args);
  json.clear(); json.str("{\"operations\":[");
  for (let i = 1; i < args.length; i++) {
    const l = readList(args[i].dataStart, args[i].length);
    if (l === null || l.length < 4) return fail(INVALID_ARGUMENT, "state.transact: operation " + i.toString() + " is not [kind, key, value, etag, metadata]");
    const kind = str(l[0]);
    if (kind != "upsert" && kind != "delete") return fail(INVALID_ARGUMENT, "state.transact: operation kind must be upsert or delete, got '" + kind + "'");
    if (i > 1) json.byte(44);
    json.str("{\"operation\":\"").str(kind).str("\",\"request\":");
    saveItem(json, l[1], l[2], l[3], l.length > 4 ? l[4] : new Uint8Array(0), kind == "upsert");
    json.byte(125);
  }
  json.str("]}");
  path.clear(); path.str("/v1.0/state/"); seg(path, args[0]); path.str("/transaction");
  const e = dapr("state.transact " + str(args[0]), "POST", json, "application/json");
  return e != 0 ? e : finish(new ListWriter());
}

function stateTransactGrpc(args: Array<Uint8Array>): i32 {
  pb.clear(); grpc.pbBytes(pb, 1, args[0].dataStart, args[0].length);
  const op = new Buf(128);
  const item = new Buf(64);
  for (let i = 1; i < args.length; i++) {
    const l = readList(args[i].dataStart, args[i].length);
    if (l === null || l.length < 4) { op.release(); item.release(); return fail(INVALID_ARGUMENT, "state.transact: operation " + i.toString() + " is not [kind, key, value, etag, metadata]"); }
    const kind = str(l[0]);
    if (kind != "upsert" && kind != "delete") { op.release(); item.release(); return fail(INVALID_ARGUMENT, "state.transact: operation kind must be upsert or delete, got '" + kind + "'"); }
    op.clear(); item.clear();
    grpc.pbStr(op, 1, kind);
    pbStateItem(item, l[1], l[2], l[3], l.length > 4 ? l[4] : new Uint8Array(0), kind == "upsert");
    grpc.pbBytes(op, 2, item.ptr, item.len);
    grpc.pbBytes(pb, 2, op.ptr, op.len);
  }
  op.release(); item.release();
  const e = daprGrpc("state.transact " + str(args[0]), "ExecuteStateTransaction", pb);
  return e != 0 ? e : finish(new ListWriter());
}

export function publishBytes(pubsub: string, topic: string, dataPtr: usize, dataLen: i32, ct: string, meta: Uint8Array): i32 {
  path.clear(); path.str("/v1.0/publish/"); seg(path, utf8(pubsub)); path.byte(47); seg(path, utf8(topic)); metaQuery(path, meta, true);
  json.clear(); json.push(dataPtr, dataLen);
  return dapr("pubsub.publish " + pubsub + "/" + topic, "POST", json, ct.length > 0 ? ct : "application/octet-stream");
}

function publish(args: Array<Uint8Array>): i32 {
  if (!arity(args, 3, "pubsub.publish")) return INVALID_ARGUMENT;
  const ct = args.length > 3 && args[3].length > 0 ? str(args[3]) : "application/json";
  const e = publishBytes(str(args[0]), str(args[1]), args[2].dataStart, args[2].length, ct, args.length > 4 ? args[4] : new Uint8Array(0));
  return e != 0 ? e : finish(new ListWriter());
}

/** The output binding's answer data (bindingBytes). */
export const bindingData = new Buf(256);

/** InvokeBinding over gRPC: daprd's HTTP API would hand the binding the data re-encoded as JSON. */
export function bindingBytes(name: string, operation: string, dataPtr: usize, dataLen: i32, meta: Uint8Array): i32 {
  pb.clear();
  grpc.pbStr(pb, 1, name);
  grpc.pbBytes(pb, 2, dataPtr, dataLen);
  grpc.pbMap(pb, 3, readList(meta.dataStart, meta.length), "");
  grpc.pbStr(pb, 4, operation);
  const e = daprGrpc("bindings.invoke " + name + "/" + operation, "InvokeBinding", pb);
  if (e != 0) return e;
  bindingData.clear();
  grpc.pbField(grpc.reply.ptr, grpc.reply.len, 1, bindingData);
  return 0;
}

function bindingInvoke(args: Array<Uint8Array>): i32 {
  if (!arity(args, 3, "bindings.invoke")) return INVALID_ARGUMENT;
  const e = bindingBytes(str(args[0]), str(args[1]), args[2].dataStart, args[2].length, args.length > 3 ? args[3] : new Uint8Array(0));
  if (e != 0) return e;
  const w = new ListWriter();
  w.buf(bindingData);
  w.bytes(new ListWriter().finish().toBytes());
  return finish(w);
}

function invoke(args: Array<Uint8Array>): i32 {
  if (!arity(args, 4, "invoke")) return INVALID_ARGUMENT;
  const method = str(args[1]);
  let verb = str(args[2]).toUpperCase();
  if (verb.length == 0) verb = "POST";
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c <= 32 || c >= 127 || c == 35 || c == 92) return fail(INVALID_ARGUMENT, "invoke " + str(args[0]) + ": method '" + method + "' must be a path without spaces or '#'");
  }
  if (method.indexOf("..") >= 0) return fail(INVALID_ARGUMENT, "invoke " + str(args[0]) + ": method '" + method + "' must be a path without '..' segments");
  path.clear(); path.str("/v1.0/invoke/"); seg(path, args[0]); path.str("/method/"); path.str(method.startsWith("/") ? method.substring(1) : method);
  const ct = args.length > 4 && args[4].length > 0 ? str(args[4]) : "application/octet-stream";
  json.clear(); json.bytes(args[3]);
  const what = "invoke " + str(args[0]) + "/" + method;
  const e = dapr(what, verb, verb == "GET" || verb == "HEAD" ? null : json, ct, true);
  if (e != 0) return e;
  const st = client.head.status;
  if (st >= 500) {
    const c = stringMember(client.body.ptr, client.body.ptr + <usize>client.body.len, "errorCode");
    if (c !== null && (c.toString().startsWith("ERR_DIRECT_INVOKE") || c.toString() == "ERR_INVOKE_OUTPUT_BINDING")) {
      return fail(UNAVAILABLE, what + ": daprd could not reach app '" + str(args[0]) + "': " + client.body.toString());
    }
  }
  const w = new ListWriter();
  w.str(st.toString()).buf(client.body);
  w.str(client.head.contentType.len > 0 ? client.head.contentType.toString() : "application/octet-stream");
  return finish(w);
}

function secretGet(args: Array<Uint8Array>): i32 {
  if (!arity(args, 2, "secrets.get")) return INVALID_ARGUMENT;
  path.clear(); path.str("/v1.0/secrets/"); seg(path, args[0]); path.byte(47); seg(path, args[1]);
  if (args.length > 2) metaQuery(path, args[2], true);
  const e = dapr("secrets.get " + str(args[0]) + "/" + str(args[1]), "GET", null, "");
  if (e != 0) return e;
  const w = new ListWriter();
  const b = client.body;
  const end = b.ptr + <usize>b.len;
  let cur = firstMember(b.ptr, end);
  const tmp = new Buf(64);
  while (cur != 0) {
    tmp.clear(); unescape(kStart - 1, kEnd + 1, tmp); w.buf(tmp);
    tmp.clear(); if (valueIsString()) unescape(vStart, vEnd, tmp); else tmp.push(vStart, <i32>(vEnd - vStart)); w.buf(tmp);
    cur = nextMember(cur, end);
  }
  return finish(w);
}

function configGet(args: Array<Uint8Array>): i32 {
  if (!arity(args, 1, "config.get")) return INVALID_ARGUMENT;
  path.clear(); path.str("/v1.0/configuration/"); seg(path, args[0]);
  for (let i = 1; i < args.length; i++) { path.byte(i == 1 ? 63 : 38); path.str("key="); seg(path, args[i]); }
  const e = dapr("config.get " + str(args[0]), "GET", null, "");
  if (e != 0) return e;
  const w = new ListWriter();
  const b = client.body;
  const end = b.ptr + <usize>b.len;
  let cur = firstMember(b.ptr, end);
  const tmp = new Buf(64);
  while (cur != 0) {
    tmp.clear(); unescape(kStart - 1, kEnd + 1, tmp); w.buf(tmp);
    const vs = vStart; const ve = vEnd;
    const v = stringMember(vs, ve, "value");
    const ver = stringMember(vs, ve, "version");
    if (v !== null) w.buf(v); else w.str("");
    if (ver !== null) w.buf(ver); else w.str("");
    cur = nextMember(ve, end);
  }
  return finish(w);
}

// ---- outbound HTTP (deny by default: permissions.hosts) ----
/**
 * The permissions.hosts entry that grants host:port: 0 none, 1 an entry without a port (grants 80
 * and 443 only), 2 an entry that names the port ("host:8080", "host:*"), which internal addresses need.
 */
export function hostGrant(host: string, port: i32): i32 {
  let found = 0;
  for (let i = 0; i < hosts.length; i++) {
    let e = hosts[i].trim();
    if (e.startsWith("http://")) e = e.substring(7);
    else if (e.startsWith("https://")) e = e.substring(8);
    const slash = e.indexOf("/");
    if (slash >= 0) e = e.substring(0, slash);
    let h = e;
    let p = "";
    const colon = e.lastIndexOf(":");
    if (colon > 0 && !e.endsWith("]")) { h = e.substring(0, colon); p = e.substring(colon + 1); }
    if (h.startsWith("[") && h.endsWith("]")) h = h.substring(1, h.length - 1);
    if (p.length == 0 ? port != 80 && port != 443 : p != "*" && p != port.toString()) continue;
    const ok = h == "*" || h == host || (h.startsWith("*.") && host.endsWith(h.substring(1)) && host.length > h.length - 1);
    if (!ok) continue;
    if (p.length > 0) return 2;
    found = 1;
  }
  return found;
}

/** Loopback, link-local (cloud metadata), private, shared, unspecified, multicast: ip as parseIPv4 gives it (a.b.c.d in memory order). */
function internalIPv4(ip: u32): bool {
  const a = ip & 255;
  const b = (ip >> 8) & 255;
  return a == 0 || a == 10 || a == 127 || (a == 100 && b >= 64 && b < 128) || (a == 169 && b == 254) || (a == 172 && b >= 16 && b < 32) ||
    (a == 192 && b == 168) || (a == 192 && b == 0 && ((ip >> 16) & 255) == 0) || (a == 198 && (b == 18 || b == 19)) || a >= 224;
}

function httpFetch(args: Array<Uint8Array>): i32 {
  if (!arity(args, 4, "http.fetch")) return INVALID_ARGUMENT;
  const method = str(args[0]).length > 0 ? str(args[0]).toUpperCase() : "GET";
  const url = str(args[1]);
  if (url.startsWith("https://")) return fail(NOT_CONFIGURED, "http.fetch " + url + ": https is not available inside WasmEdge (no TLS in the sandbox); reach the service through a Dapr HTTP output binding (bindings.http) instead");
  if (!url.startsWith("http://")) return fail(INVALID_ARGUMENT, "http.fetch: '" + url + "' is not an absolute http:// URL");
  const rest = url.substring(7);
  let slash = rest.indexOf("/");
  const q = rest.indexOf("?");
  if (q >= 0 && (slash < 0 || q < slash)) slash = q;
  const authority = slash < 0 ? rest : rest.substring(0, slash);
  let target = slash < 0 ? "/" : rest.substring(slash);
  if (target.startsWith("?")) target = "/" + target;
  if (authority.indexOf("@") >= 0 || authority.length == 0) return fail(INVALID_ARGUMENT, "http.fetch: '" + url + "' has no host (or has credentials in it)");
  let host = authority.toLowerCase();
  let port = 80;
  const colon = host.lastIndexOf(":");
  if (colon > 0 && !host.endsWith("]")) {
    port = <i32>I32.parseInt(host.substring(colon + 1));
    host = host.substring(0, colon);
    if (port <= 0 || port > 65535) return fail(INVALID_ARGUMENT, "http.fetch: '" + url + "' has an invalid port");
  }
  const grant = hostGrant(host, port);
  if (grant == 0) {
    return fail(DENIED, "http.fetch to " + authority + " is denied: function '" + fnName + "' may reach only the hosts in its config; add \"" + authority + "\" to permissions.hosts in its wasm-fn.yaml");
  }
  // resolved once: the connection goes to the address checked here
  const ip = resolve(host.startsWith("[") ? host.substring(1, host.length - 1) : host);
  if (ip == 0xffffffff) return fail(UNAVAILABLE, "http.fetch " + url + ": cannot resolve " + host);
  if (grant != 2 && internalIPv4(ip)) {
    return fail(DENIED, "http.fetch to " + authority + " is denied: it resolves to a loopback, link-local or private address (where the sidecar and this host's routes live); function '" + fnName + "' may reach it only through a permissions.hosts entry that names the host with its port, e.g. \"" + host + ":" + port.toString() + "\"");
  }
  // guest headers: "name: value\n" lines -> CRLF lines; Host and framing are the adapter's
  const extra = new Buf(256);
  const lines = args[2];
  let p = 0;
  while (p < lines.length) {
    let e = p;
    while (e < lines.length && lines[e] != 10) e++;
    let colonAt = -1;
    for (let k = p; k < e; k++) if (lines[k] == 58) { colonAt = k; break; }
    if (colonAt > p) {
      const name = String.UTF8.decodeUnsafe(lines.dataStart + <usize>p, <usize>(colonAt - p)).trim().toLowerCase();
      let bad = false;
      for (let k = p; k < e; k++) if (lines[k] == 13 || lines[k] == 0) bad = true;
      if (!bad && name != "host" && name != "content-length" && name != "transfer-encoding" && name != "connection") {
        extra.push(lines.dataStart + <usize>p, e - p).str("\r\n");
      }
    }
    p = e + 1;
  }
  const r = client.request(ip, port, authority, method, target, extra, args[3].dataStart, args[3].length, daprTimeoutMs, MAX_ANSWER);
  if (r == client.REFUSED) return fail(UNAVAILABLE, "http.fetch " + url + ": connection refused");
  if (r == client.TIMEOUT) return fail(TIMEOUT, "http.fetch " + url + ": no answer within " + daprTimeoutMs.toString() + " ms");
  if (r == client.TOO_LARGE) return fail(TOO_LARGE, "http.fetch " + url + ": the answer is larger than " + MAX_ANSWER.toString() + " bytes");
  if (r != client.OK) return fail(UNAVAILABLE, "http.fetch " + url + ": the connection was cut or the answer is not HTTP");
  const w = new ListWriter();
  w.str(client.head.status.toString()).buf(client.head.lines).buf(client.body);
  return finish(w);
}
