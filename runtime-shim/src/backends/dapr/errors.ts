import { BackendError, BackendErrors, type BackendErrorCode } from "../../capabilities/backend.js";

// daprd reports a missing component in several wordings (and status codes), so it is recognised by message.
const MISSING_COMPONENT = /\b(state store|pubsub|pub\/sub|binding|secret store|configuration store|component)( [\w.:-]+)? (is )?(not found|not configured|isn't configured)|(failed finding|couldn't find|no) (state store|pubsub|output binding|binding|secret store|configuration store|component)|ERR_[A-Z_]*(STORE|PUBSUB)[A-Z_]*_NOT_(FOUND|CONFIGURED)/i;
// A key that does not exist (a secret): daprd says "secret <key> not found".
const MISSING_KEY = /\bsecret \S+ not found|ERR_SECRET_GET/i;
const ETAG_MISMATCH = /etag mismatch|possible etag|ERR_STATE_SAVE.*etag|concurrency/i;
// Redis' state script refuses a first-write by failing the write itself.
const WRITE_REFUSED = /failed to (set|delete) key .*user_script/i;
// A store behind daprd (Redis...) that is down shows up as a transport error inside daprd's message.
const STORE_DOWN = /connection refused|dial tcp|i\/o timeout|connection reset|broken pipe|no route to host|context deadline exceeded|LOADING|EOF$/i;
const APP_UNREACHABLE = /failed to invoke|ERR_DIRECT_INVOKE/i;

/** What the transport already knows about an error answer. */
export type ErrorHint = "conflict" | "invalid" | "not-found" | "denied" | "internal";

/**
 * Turns an error answer of daprd (HTTP or gRPC) into a BackendError, once, by its message first
 * (the most specific signal daprd gives) and the transport's hint second.
 */
export function classifyDaprMessage(what: string, msg: string, hint: ErrorHint): BackendError {
  const make = (code: BackendErrorCode, text: string) => new BackendError(code, `${what}: ${text}`);
  if (MISSING_COMPONENT.test(msg)) return make(BackendErrors.NOT_CONFIGURED, `${msg} (add the component to daprd's resources path)`);
  // ERR_SECRET_GET is daprd's code for every failed secret read: a store that is down is not a missing key.
  if (MISSING_KEY.test(msg) && !STORE_DOWN.test(msg)) return make(BackendErrors.NOT_FOUND, msg);
  if (hint === "conflict" || ETAG_MISMATCH.test(msg) || WRITE_REFUSED.test(msg)) return make(BackendErrors.CONFLICT, `etag mismatch: someone else wrote first; read it again and retry (${msg})`);
  if (APP_UNREACHABLE.test(msg)) return make(BackendErrors.UNAVAILABLE, `daprd could not reach the app: ${msg}`);
  if (STORE_DOWN.test(msg)) return make(BackendErrors.UNAVAILABLE, `daprd could not reach the store behind it: ${msg}`);
  if (hint === "invalid") return make(BackendErrors.INVALID, msg);
  if (hint === "not-found") return make(BackendErrors.NOT_FOUND, msg);
  if (hint === "denied") return make(BackendErrors.DENIED, msg);
  return make(BackendErrors.INTERNAL, msg);
}

/** gRPC status codes (the SDK's ConnectRPC client raises ConnectError with these). */
const Code = { Canceled: 1, InvalidArgument: 3, DeadlineExceeded: 4, NotFound: 5, PermissionDenied: 7, FailedPrecondition: 9, Aborted: 10, Unavailable: 14, Unauthenticated: 16 } as const;

/**
 * Maps a failed gRPC call to daprd. `what` names the call ("state.save statestore/counter");
 * `sidecar` is daprd's address.
 */
export function mapDaprError(e: unknown, what: string, sidecar: string, timeoutMs: number): BackendError {
  if (e instanceof BackendError) return e;
  // Duck-typed so this module does not depend on the SDK's transport package directly.
  const ce = e as { code?: unknown; rawMessage?: unknown; message?: unknown };
  const code = typeof ce.code === "number" ? ce.code : -1;
  const msg = typeof ce.rawMessage === "string" ? ce.rawMessage : String(ce.message ?? e);
  const wrap = (c: BackendErrorCode, text: string) => new BackendError(c, `${what}: ${text}`, { cause: e });
  if (code === Code.DeadlineExceeded) return wrap(BackendErrors.TIMEOUT, `daprd at ${sidecar} did not answer within ${timeoutMs} ms (is the store behind it, e.g. Redis, reachable? raise --dapr-timeout if it is only slow)`);
  if (code === Code.Canceled) return wrap(BackendErrors.TIMEOUT, `the call to daprd was cancelled: ${msg}`);
  if (code === Code.Unavailable && !STORE_DOWN.test(msg)) {
    return wrap(BackendErrors.UNAVAILABLE, `daprd at ${sidecar} is unreachable (${msg}); is the sidecar running? (wasm-fn run --dapr starts one)`);
  }
  const hint: ErrorHint = code === Code.Aborted || code === Code.FailedPrecondition ? "conflict"
    : code === Code.InvalidArgument ? "invalid" : code === Code.NotFound ? "not-found"
    : code === Code.PermissionDenied || code === Code.Unauthenticated ? "denied" : "internal";
  const mapped = classifyDaprMessage(what, msg, hint === "conflict" && !ETAG_MISMATCH.test(msg) && !WRITE_REFUSED.test(msg) ? "internal" : hint);
  return new BackendError(mapped.code, mapped.message, { cause: e });
}
