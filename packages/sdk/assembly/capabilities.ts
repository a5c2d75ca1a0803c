// Host capabilities: state, pub/sub, output bindings, service invocation, secrets, configuration
// and outbound HTTP. Each call is synchronous from the handler's view (the host suspends the
// instance while it does the I/O) and returns a typed Result with an ABI error code.
import { Op, ErrorCode } from "./abi";
import { ListWriter, str, readMap } from "./bytes";
import { hostCall, Result } from "./host";

export class StateItem {
  constructor(public key: string, public value: Uint8Array, public etag: string) {}
  text(): string { return str(this.value); }
}

/** One operation of a state transaction. */
export class StateOp {
  constructor(public kind: string, public key: string, public value: Uint8Array, public etag: string = "") {}
  static upsert(key: string, value: Uint8Array, etag: string = ""): StateOp { return new StateOp("upsert", key, value, etag); }
  static delete(key: string, etag: string = ""): StateOp { return new StateOp("delete", key, new Uint8Array(0), etag); }
}

function fail<T>(r: Result<Array<Uint8Array>>, empty: T): Result<T> {
  return new Result<T>(r.code, r.message, empty);
}

export namespace state {
  /** Reads a key. `value` is null when the key is absent. */
  export function get(store: string, key: string): Result<StateItem | null> {
    const r = hostCall(Op.STATE_GET, new ListWriter().str(store).str(key).finish());
    if (!r.ok) return fail<StateItem | null>(r, null);
    if (r.value.length < 2) return new Result<StateItem | null>(ErrorCode.OK, "", null);
    return new Result<StateItem | null>(ErrorCode.OK, "", new StateItem(key, r.value[0], str(r.value[1])));
  }
  /** Saves a key. With an etag the write succeeds only if nobody wrote since (code CONFLICT otherwise). */
  export function set(store: string, key: string, value: Uint8Array, etag: string = "", metadata: Map<string, string> | null = null): Result<bool> {
    const r = hostCall(Op.STATE_SAVE, new ListWriter().str(store).str(key).bytes(value).str(etag).map(metadata).finish());
    return new Result<bool>(r.code, r.message, r.ok);
  }
  /**
   * Creates a key only if it does not exist yet (first-write without an etag); code CONFLICT when
   * it exists. With `get` and `set(..., etag)` this makes race-free read-modify-write loops:
   * `let it = state.get(s, k); if (it.value == null) r = state.create(s, k, v); else r = state.set(s, k, v, it.value!.etag);`
   */
  export function create(store: string, key: string, value: Uint8Array): Result<bool> {
    const m = new Map<string, string>();
    m.set("concurrency", "first-write");
    return set(store, key, value, "", m);
  }
  /** Saves a key that expires after ttlSeconds. */
  export function setWithTtl(store: string, key: string, value: Uint8Array, ttlSeconds: i32): Result<bool> {
    const m = new Map<string, string>();
    m.set("ttlInSeconds", ttlSeconds.toString());
    return set(store, key, value, "", m);
  }
  export function del(store: string, key: string, etag: string = ""): Result<bool> {
    const r = hostCall(Op.STATE_DELETE, new ListWriter().str(store).str(key).str(etag).map(null).finish());
    return new Result<bool>(r.code, r.message, r.ok);
  }
  /** Reads many keys at once; absent keys come back with an empty value and etag. */
  export function getBulk(store: string, keys: Array<string>): Result<Array<StateItem>> {
    const w = new ListWriter().str(store);
    for (let i = 0; i < keys.length; i++) w.str(keys[i]);
    const r = hostCall(Op.STATE_BULK_GET, w.finish());
    const out = new Array<StateItem>();
    if (!r.ok) return fail<Array<StateItem>>(r, out);
    for (let i = 0; i + 2 < r.value.length; i += 3) {
      out.push(new StateItem(str(r.value[i]), r.value[i + 1], str(r.value[i + 2])));
    }
    return new Result<Array<StateItem>>(ErrorCode.OK, "", out);
  }
  /** Applies upserts and deletes atomically. */
  export function transact(store: string, ops: Array<StateOp>): Result<bool> {
    const w = new ListWriter().str(store);
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i];
      w.bytes(new ListWriter().str(o.kind).str(o.key).bytes(o.value).str(o.etag).map(null).finish());
    }
    const r = hostCall(Op.STATE_TRANSACT, w.finish());
    return new Result<bool>(r.code, r.message, r.ok);
  }
}

export namespace pubsub {
  /** Publishes data to a topic (wrapped in a CloudEvent by Dapr unless the metadata says rawPayload). */
  export function publish(pubsubName: string, topic: string, data: Uint8Array, contentType: string = "application/json", metadata: Map<string, string> | null = null): Result<bool> {
    const r = hostCall(Op.PUBLISH, new ListWriter().str(pubsubName).str(topic).bytes(data).str(contentType).map(metadata).finish());
    return new Result<bool>(r.code, r.message, r.ok);
  }
}

export class BindingResponse {
  constructor(public data: Uint8Array, public metadata: Map<string, string>) {}
  text(): string { return str(this.data); }
}

export namespace bindings {
  /** Invokes an output binding, e.g. invoke("pushgateway", "post", body, meta). */
  export function invoke(name: string, operation: string, data: Uint8Array, metadata: Map<string, string> | null = null): Result<BindingResponse | null> {
    const r = hostCall(Op.BINDING_INVOKE, new ListWriter().str(name).str(operation).bytes(data).map(metadata).finish());
    if (!r.ok) return fail<BindingResponse | null>(r, null);
    const data2 = r.value.length > 0 ? r.value[0] : new Uint8Array(0);
    const meta = r.value.length > 1 ? readMap(r.value[1]) : new Map<string, string>();
    return new Result<BindingResponse | null>(ErrorCode.OK, "", new BindingResponse(data2, meta));
  }
}

export class InvokeResponse {
  constructor(public status: i32, public body: Uint8Array, public contentType: string) {}
  text(): string { return str(this.body); }
}

export namespace invoke {
  /** Calls a method of another app (or another function in this shim, by its app id). */
  export function call(appId: string, method: string, verb: string = "POST", data: Uint8Array = new Uint8Array(0), contentType: string = "application/json"): Result<InvokeResponse | null> {
    const r = hostCall(Op.INVOKE, new ListWriter().str(appId).str(method).str(verb).bytes(data).str(contentType).finish());
    if (!r.ok) return fail<InvokeResponse | null>(r, null);
    if (r.value.length < 3) return new Result<InvokeResponse | null>(ErrorCode.INTERNAL, "short invoke result", null);
    return new Result<InvokeResponse | null>(ErrorCode.OK, "", new InvokeResponse(I32.parseInt(str(r.value[0])), r.value[1], str(r.value[2])));
  }
}

export namespace secrets {
  /** Reads a secret; a secret may hold several named values. */
  export function get(store: string, key: string): Result<Map<string, string>> {
    const r = hostCall(Op.SECRET_GET, new ListWriter().str(store).str(key).map(null).finish());
    const m = new Map<string, string>();
    if (!r.ok) return fail<Map<string, string>>(r, m);
    for (let i = 0; i + 1 < r.value.length; i += 2) m.set(str(r.value[i]), str(r.value[i + 1]));
    return new Result<Map<string, string>>(ErrorCode.OK, "", m);
  }
}

export class ConfigItem {
  constructor(public key: string, public value: string, public version: string) {}
}

export namespace config {
  export function get(store: string, keys: Array<string>): Result<Array<ConfigItem>> {
    const w = new ListWriter().str(store);
    for (let i = 0; i < keys.length; i++) w.str(keys[i]);
    const r = hostCall(Op.CONFIG_GET, w.finish());
    const out = new Array<ConfigItem>();
    if (!r.ok) return fail<Array<ConfigItem>>(r, out);
    for (let i = 0; i + 2 < r.value.length; i += 3) out.push(new ConfigItem(str(r.value[i]), str(r.value[i + 1]), str(r.value[i + 2])));
    return new Result<Array<ConfigItem>>(ErrorCode.OK, "", out);
  }
}

export class FetchResponse {
  constructor(public status: i32, public headers: string, public body: Uint8Array) {}
  text(): string { return str(this.body); }
}

export namespace http {
  /** Outbound HTTP. Denied (code DENIED) unless the function's config allows the host. */
  export function fetch(url: string, method: string = "GET", body: Uint8Array = new Uint8Array(0), headers: string = ""): Result<FetchResponse | null> {
    const r = hostCall(Op.HTTP_FETCH, new ListWriter().str(method).str(url).str(headers).bytes(body).finish());
    if (!r.ok) return fail<FetchResponse | null>(r, null);
    if (r.value.length < 3) return new Result<FetchResponse | null>(ErrorCode.INTERNAL, "short fetch result", null);
    return new Result<FetchResponse | null>(ErrorCode.OK, "", new FetchResponse(I32.parseInt(str(r.value[0])), str(r.value[1]), r.value[2]));
  }
}
