/**
 * ABI v1: the contract between a wasm-fn guest module and a host. Only i32s and bytes in linear
 * memory cross it, so any language that targets wasm32 can implement it (see docs/abi.md).
 * The AssemblyScript SDK (packages/sdk/assembly/abi.ts) and the C header (packages/sdk/include/wasm_fn.h)
 * restate these numbers; `abi.test.ts` fails when they drift from this file.
 */

/** Major.minor of the ABI this host serves. A module of another major is refused. */
export const ABI_MAJOR = 1;
export const ABI_MINOR = 0;

/** The one host module every wasm-fn import comes from (besides `wasi_snapshot_preview1`). */
export const HOST_MODULE = "wfn";
export const WASI_MODULE = "wasi_snapshot_preview1";

/** Exports a guest must have. `wfn_abi_version` returns (major << 16) | minor. */
export const REQUIRED_EXPORTS = ["memory", "wfn_abi_version", "wfn_alloc", "wfn_handle"] as const;
/** Exports a guest may have: WASI reactor/command initialisers, called once per instance. */
export const OPTIONAL_EXPORTS = ["_initialize", "_start", "wfn_free"] as const;

/** Host imports: name -> [params, results], every value an i32. */
export const HOST_IMPORTS = {
  /** (field, buf, cap) -> total length, or -1 if the field is absent; copies min(cap, len) bytes. */
  request_get: [3, 1],
  /** (name_ptr, name_len, buf, cap) -> total length, or -1 when the header is absent. Names are case-insensitive. */
  request_header: [4, 1],
  /** (status) -> (). */
  response_status: [1, 0],
  /** (name_ptr, name_len, value_ptr, value_len) -> (); repeated names append. */
  response_header: [4, 0],
  /** (ptr, len) -> (); appends to the response body. */
  response_body: [2, 0],
  /** (level, ptr, len) -> (). */
  log: [3, 0],
  /** (op, in_ptr, in_len) -> result length >= 0, or -ErrorCode. May suspend the guest while the host does I/O. */
  call: [3, 1],
  /** (buf, cap) -> length of the pending result (or error message) of the last `call`; copies min(cap, len) bytes and clears it once cap >= len. */
  result_take: [2, 1],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * Imports that `wasm-fn build` (or the host, for modules built elsewhere) adds when it instruments a
 * module; a guest never calls them itself. `interrupt` runs when the guest's fuel (a counter
 * decremented at every loop head and function entry) runs out: it returns fresh fuel, or traps
 * when the invocation is past its deadline.
 */
export const INSTRUMENT_IMPORTS = {
  interrupt: [0, 1],
} as const satisfies Record<string, readonly [number, number]>;

export type HostImportName = keyof typeof HOST_IMPORTS;

/** Imports that may suspend the guest (the host answers them asynchronously). */
export const ASYNC_IMPORTS: readonly HostImportName[] = ["call"];

/** Request fields readable with `request_get`. */
export const Field = {
  METHOD: 0,
  PATH: 1,
  QUERY: 2,
  BODY: 3,
  /** All headers as `name: value\n` lines, names lower-cased. */
  HEADERS: 4,
  REQUEST_ID: 5,
  /** "http" or "event". */
  KIND: 6,
  /** The function's own name. */
  FUNCTION: 7,
  EVENT_ID: 10,
  EVENT_SOURCE: 11,
  EVENT_TYPE: 12,
  EVENT_SPECVERSION: 13,
  EVENT_DATACONTENTTYPE: 14,
  EVENT_SUBJECT: 15,
  EVENT_TIME: 16,
  EVENT_TOPIC: 17,
  EVENT_PUBSUBNAME: 18,
  /** Name of the input (pubsub component or binding) that delivered the event. */
  EVENT_INPUT: 19,
} as const;

/** Values `wfn_handle` returns. For HTTP requests only an error outcome matters. */
export const Outcome = { SUCCESS: 0, RETRY: 1, DROP: 2 } as const;

export const LogLevel = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 } as const;

/**
 * Capability operations for `call`. Arguments and results are byte-string lists (see `encodeList`).
 * The comment on each op lists its arguments -> results.
 */
export const Op = {
  /** (store, key) -> [] when absent, or [value, etag] */
  STATE_GET: 100,
  /** (store, key, value, etag, metadata) -> []; etag "" = last write wins, else first-write; metadata: ttlInSeconds, concurrency ("first-write" without an etag = create only if absent) */
  STATE_SAVE: 101,
  /** (store, key, etag, metadata) -> [] */
  STATE_DELETE: 102,
  /** (store, key1, key2, ...) -> [key, value, etag, key, value, etag, ...] (absent keys give an empty value and etag) */
  STATE_BULK_GET: 103,
  /** (store, op1, op2, ...) each op a nested list [kind "upsert"|"delete", key, value, etag, metadata] -> [] */
  STATE_TRANSACT: 104,
  /** (pubsub, topic, data, contentType, metadata) -> [] */
  PUBLISH: 200,
  /** (binding, operation, data, metadata) -> [data, metadata] */
  BINDING_INVOKE: 300,
  /** (appId, method, httpVerb, data, contentType) -> [status, data, contentType] */
  INVOKE: 400,
  /** (store, key, metadata) -> [name, value, name, value, ...] */
  SECRET_GET: 500,
  /** (store, key1, key2, ...) -> [key, value, version, key, value, version, ...] */
  CONFIG_GET: 600,
  /** (method, url, headers ("name: value\n" lines), body) -> [status, headers, body] */
  HTTP_FETCH: 700,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/** Error codes, returned negated by `call`. The error message is then available via `result_take`. */
export const ErrorCode = {
  UNKNOWN_OP: 1,
  INVALID_ARGUMENT: 2,
  /** No backend serves this capability (e.g. no state store configured). */
  NOT_CONFIGURED: 3,
  /** The function's config does not grant this (e.g. an outbound host not allowed). */
  DENIED: 4,
  NOT_FOUND: 5,
  /** ETag mismatch: someone else wrote first. */
  CONFLICT: 6,
  /** The backend (Dapr, Redis, ...) could not be reached. */
  UNAVAILABLE: 7,
  TIMEOUT: 8,
  TOO_LARGE: 9,
  INTERNAL: 10,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export function errorCodeName(code: number): string {
  for (const [name, value] of Object.entries(ErrorCode)) if (value === code) return name;
  return `UNKNOWN_${code}`;
}

export function opName(op: number): string | undefined {
  for (const [name, value] of Object.entries(Op)) if (value === op) return name;
  return undefined;
}

/** Packs an ABI version the way `wfn_abi_version` returns it. */
export function packVersion(major: number, minor: number): number {
  return ((major & 0xffff) << 16) | (minor & 0xffff);
}
export function unpackVersion(v: number): { major: number; minor: number } {
  return { major: (v >>> 16) & 0xffff, minor: v & 0xffff };
}
