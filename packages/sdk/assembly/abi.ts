// ABI v1 host imports and numbers. Restated from packages/abi/src/abi.ts (the source of truth);
// packages/abi/src/abi.test.ts fails when the two drift.

export const ABI_MAJOR: i32 = 1;
export const ABI_MINOR: i32 = 0;

@external("wfn", "request_get") export declare function request_get(field: i32, buf: usize, cap: i32): i32;
@external("wfn", "request_header") export declare function request_header(name: usize, nameLen: i32, buf: usize, cap: i32): i32;
@external("wfn", "response_status") export declare function response_status(status: i32): void;
@external("wfn", "response_header") export declare function response_header(name: usize, nameLen: i32, value: usize, valueLen: i32): void;
@external("wfn", "response_body") export declare function response_body(ptr: usize, len: i32): void;
@external("wfn", "log") export declare function log(level: i32, ptr: usize, len: i32): void;
@external("wfn", "call") export declare function call(op: i32, ptr: usize, len: i32): i32;
@external("wfn", "result_take") export declare function result_take(buf: usize, cap: i32): i32;

export namespace Field {
  export const METHOD: i32 = 0;
  export const PATH: i32 = 1;
  export const QUERY: i32 = 2;
  export const BODY: i32 = 3;
  export const HEADERS: i32 = 4;
  export const REQUEST_ID: i32 = 5;
  export const KIND: i32 = 6;
  export const FUNCTION: i32 = 7;
  export const EVENT_ID: i32 = 10;
  export const EVENT_SOURCE: i32 = 11;
  export const EVENT_TYPE: i32 = 12;
  export const EVENT_SPECVERSION: i32 = 13;
  export const EVENT_DATACONTENTTYPE: i32 = 14;
  export const EVENT_SUBJECT: i32 = 15;
  export const EVENT_TIME: i32 = 16;
  export const EVENT_TOPIC: i32 = 17;
  export const EVENT_PUBSUBNAME: i32 = 18;
  export const EVENT_INPUT: i32 = 19;
}

export namespace Outcome {
  export const SUCCESS: i32 = 0;
  export const RETRY: i32 = 1;
  export const DROP: i32 = 2;
}

export namespace LogLevel {
  export const DEBUG: i32 = 0;
  export const INFO: i32 = 1;
  export const WARN: i32 = 2;
  export const ERROR: i32 = 3;
}

export namespace Op {
  export const STATE_GET: i32 = 100;
  export const STATE_SAVE: i32 = 101;
  export const STATE_DELETE: i32 = 102;
  export const STATE_BULK_GET: i32 = 103;
  export const STATE_TRANSACT: i32 = 104;
  export const PUBLISH: i32 = 200;
  export const BINDING_INVOKE: i32 = 300;
  export const INVOKE: i32 = 400;
  export const SECRET_GET: i32 = 500;
  export const CONFIG_GET: i32 = 600;
  export const HTTP_FETCH: i32 = 700;
}

export namespace ErrorCode {
  export const OK: i32 = 0;
  export const UNKNOWN_OP: i32 = 1;
  export const INVALID_ARGUMENT: i32 = 2;
  export const NOT_CONFIGURED: i32 = 3;
  export const DENIED: i32 = 4;
  export const NOT_FOUND: i32 = 5;
  export const CONFLICT: i32 = 6;
  export const UNAVAILABLE: i32 = 7;
  export const TIMEOUT: i32 = 8;
  export const TOO_LARGE: i32 = 9;
  export const INTERNAL: i32 = 10;
}
