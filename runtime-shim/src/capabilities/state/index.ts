import { decodeList, decodeMap, ErrorCode, Op, text } from "@wasm-fn/abi";
import { CapabilityError } from "../../instance/instance.js";
import type { Backend, StateOperation } from "../backend.js";
import { answer, Args } from "../errors.js";
import { requireGrant } from "../grants.js";
import type { Capability } from "../index.js";

/**
 * State: get / save / delete with ETags (first-write-wins when an etag is given), bulk get,
 * transactions, TTL through the `ttlInSeconds` metadata key (Dapr's own name), and
 * create-if-absent through `concurrency: first-write` without an etag.
 *
 * @example new CapabilityRouter([stateCapability(backend)])
 */
export function stateCapability(backend: Backend): Capability {
  return {
    name: "state",
    ops: [Op.STATE_GET, Op.STATE_SAVE, Op.STATE_DELETE, Op.STATE_BULK_GET, Op.STATE_TRANSACT],
    handle(op, bytes, ctx) {
      switch (op) {
        case Op.STATE_GET: {
          const a = new Args(bytes, "state.get").need(2, "store, key");
          const store = a.name(0, "store"), key = a.name(1, "key");
          requireGrant(ctx, "states", "state.get", store);
          return answer(() => backend.stateGet(store, key), (e) => (e ? [e.value, e.etag] : []));
        }
        case Op.STATE_SAVE: {
          const a = new Args(bytes, "state.save").need(3, "store, key, value, etag, metadata");
          const store = a.name(0, "store");
          requireGrant(ctx, "states", "state.save", store);
          const item = { key: a.name(1, "key"), value: a.bytes(2), etag: a.str(3), metadata: checkMeta(a.map(4)) };
          return answer(() => backend.stateSave(store, item), () => []);
        }
        case Op.STATE_DELETE: {
          const a = new Args(bytes, "state.delete").need(2, "store, key, etag, metadata");
          const store = a.name(0, "store"), key = a.name(1, "key"), etag = a.str(2), meta = a.map(3);
          requireGrant(ctx, "states", "state.delete", store);
          return answer(() => backend.stateDelete(store, key, etag, meta), () => []);
        }
        case Op.STATE_BULK_GET: {
          const a = new Args(bytes, "state.getBulk").need(1, "store, key...");
          const store = a.name(0, "store"), keys = a.rest(1);
          requireGrant(ctx, "states", "state.getBulk", store);
          return answer(() => backend.stateBulkGet(store, keys), (entries) => keys.flatMap((k, i) => {
            const e = entries[i];
            return e ? [k, e.value, e.etag] : [k, "", ""];
          }));
        }
        case Op.STATE_TRANSACT: {
          const a = new Args(bytes, "state.transact").need(1, "store, op...");
          const store = a.name(0, "store");
          requireGrant(ctx, "states", "state.transact", store);
          const ops = a.restBytes(1).map((b, i) => decodeOperation(b, i));
          return answer(() => backend.stateTransact(store, ops), () => []);
        }
      }
      throw new CapabilityError(ErrorCode.UNKNOWN_OP, `state does not serve op ${op}`);
    },
  };
}

function decodeOperation(bytes: Uint8Array, i: number): StateOperation {
  let items: Uint8Array[];
  try {
    items = decodeList(bytes);
  } catch (e) {
    throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `state.transact: operation ${i} is not a list: ${(e as Error).message}`);
  }
  const kind = text(items[0]);
  const key = text(items[1]);
  if (key === "") throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `state.transact: operation ${i} has no key`);
  const etag = text(items[3]);
  let metadata: Record<string, string>;
  try { metadata = checkMeta(decodeMap(items[4])); } catch (e) {
    if (e instanceof CapabilityError) throw e;
    throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `state.transact: operation ${i} metadata is not a map`);
  }
  if (kind === "upsert") return { kind, key, value: items[2] ?? new Uint8Array(0), etag, metadata };
  if (kind === "delete") return { kind, key, etag, metadata };
  throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `state.transact: operation ${i} kind must be "upsert" or "delete", got "${kind}"`);
}

/**
 * Metadata both backends read: `ttlInSeconds`, and `concurrency: first-write`, which without an
 * etag means "create only if absent" (CONFLICT when the key exists). A bad value is the caller's error.
 */
function checkMeta(m: Record<string, string>): Record<string, string> {
  if (m.concurrency !== undefined && m.concurrency !== "first-write" && m.concurrency !== "last-write") {
    throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `state: metadata concurrency must be "first-write" or "last-write", got "${m.concurrency}"`);
  }
  const ttl = m.ttlInSeconds;
  if (ttl !== undefined && !/^-?\d+$/.test(ttl)) {
    throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `state: metadata ttlInSeconds must be a whole number of seconds (-1 = never expire), got "${ttl}"`);
  }
  return m;
}
