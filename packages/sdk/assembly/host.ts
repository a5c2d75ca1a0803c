// The one path to host capabilities: encode arguments, `call`, take the result or the error.
import { call, result_take, ErrorCode } from "./abi";
import { readList, str } from "./bytes";

/** What every capability call returns: `ok`, or an ABI error `code` with the host's `message`. */
export class Result<T> {
  constructor(public code: i32, public message: string, public value: T) {}
  get ok(): bool { return this.code == ErrorCode.OK; }
  /** e.g. "CONFLICT: etag mismatch for key 'counter'" */
  toString(): string { return errorName(this.code) + ": " + this.message; }
}

export function errorName(code: i32): string {
  switch (code) {
    case ErrorCode.OK: return "OK";
    case ErrorCode.UNKNOWN_OP: return "UNKNOWN_OP";
    case ErrorCode.INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ErrorCode.NOT_CONFIGURED: return "NOT_CONFIGURED";
    case ErrorCode.DENIED: return "DENIED";
    case ErrorCode.NOT_FOUND: return "NOT_FOUND";
    case ErrorCode.CONFLICT: return "CONFLICT";
    case ErrorCode.UNAVAILABLE: return "UNAVAILABLE";
    case ErrorCode.TIMEOUT: return "TIMEOUT";
    case ErrorCode.TOO_LARGE: return "TOO_LARGE";
    case ErrorCode.INTERNAL: return "INTERNAL";
    default: return "ERROR_" + code.toString();
  }
}

/** Raw call: returns the result list, or an error Result with an empty list. */
export function hostCall(op: i32, args: Uint8Array): Result<Array<Uint8Array>> {
  const n = call(op, args.dataStart, args.length);
  const len = n < 0 ? result_take(0, 0) : n;
  const buf = new Uint8Array(len);
  if (len > 0) result_take(buf.dataStart, len);
  if (n < 0) return new Result<Array<Uint8Array>>(-n, str(buf), new Array<Uint8Array>());
  return new Result<Array<Uint8Array>>(ErrorCode.OK, "", readList(buf));
}
