import { decodeList, decodeMap, encodeList, ErrorCode, text, type Item } from "@wasm-fn/abi";
import { CapabilityError } from "../instance/instance.js";
import { BackendError, BackendErrors, type MaybePromise } from "./backend.js";

/** The one place a backend error becomes an ABI error code the guest sees. */
const CODE_OF: Record<string, number> = {
  [BackendErrors.CONFLICT]: ErrorCode.CONFLICT,
  [BackendErrors.NOT_FOUND]: ErrorCode.NOT_FOUND,
  [BackendErrors.NOT_CONFIGURED]: ErrorCode.NOT_CONFIGURED,
  [BackendErrors.INVALID]: ErrorCode.INVALID_ARGUMENT,
  [BackendErrors.UNAVAILABLE]: ErrorCode.UNAVAILABLE,
  [BackendErrors.TIMEOUT]: ErrorCode.TIMEOUT,
  [BackendErrors.DENIED]: ErrorCode.DENIED,
  [BackendErrors.INTERNAL]: ErrorCode.INTERNAL,
};

export function toCapabilityError(e: unknown): CapabilityError {
  if (e instanceof CapabilityError) return e;
  if (e instanceof BackendError) return new CapabilityError(CODE_OF[e.code] ?? ErrorCode.INTERNAL, e.message);
  return new CapabilityError(ErrorCode.INTERNAL, e instanceof Error ? e.message : String(e));
}

/**
 * Runs a backend call and encodes its answer, keeping a synchronous answer synchronous (so the
 * guest does not unwind) and mapping any error once.
 *
 * @example return answer(() => backend.stateGet(store, key), (e) => (e ? [e.value, e.etag] : []));
 */
export function answer<T>(call: () => MaybePromise<T>, encode: (v: T) => Item[]): Uint8Array | Promise<Uint8Array> {
  let r: MaybePromise<T>;
  try {
    r = call();
  } catch (e) {
    throw toCapabilityError(e);
  }
  if (r instanceof Promise) return r.then((v) => encodeList(encode(v)), (e: unknown) => { throw toCapabilityError(e); });
  return encodeList(encode(r));
}

/** Decoded `call` arguments with checked access; a malformed list is INVALID_ARGUMENT naming the op. */
export class Args {
  private readonly items: Uint8Array[];
  constructor(bytes: Uint8Array, private readonly op: string) {
    try {
      this.items = decodeList(bytes);
    } catch (e) {
      throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `${op}: arguments are not a well-formed list: ${(e as Error).message}`);
    }
  }
  get length(): number { return this.items.length; }
  need(n: number, names: string): this {
    if (this.items.length < n) throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `${this.op} takes (${names}), got ${this.items.length} argument(s)`);
    return this;
  }
  bytes(i: number): Uint8Array { return this.items[i] ?? new Uint8Array(0); }
  str(i: number): string { return text(this.items[i]); }
  /** A required, non-empty string argument. */
  name(i: number, what: string): string {
    const s = this.str(i);
    if (s === "") throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `${this.op}: ${what} must not be empty`);
    return s;
  }
  map(i: number): Record<string, string> {
    try {
      return decodeMap(this.items[i]);
    } catch (e) {
      throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `${this.op}: argument ${i} is not a map: ${(e as Error).message}`);
    }
  }
  /** Items from index `from` on, as strings. */
  rest(from: number): string[] { return this.items.slice(from).map((b) => text(b)); }
  restBytes(from: number): Uint8Array[] { return this.items.slice(from); }
}
