// The exports every wasm-fn guest has. `wasm-fn build` adds this file's exports to the module
// and generates `wfn_handle`, which calls `run(handle)` with the user's handler.
import { ABI_MAJOR, ABI_MINOR, response_status, response_header, response_body, Outcome } from "./abi";
import { utf8 } from "./bytes";
import { Request } from "./request";
import { Response } from "./response";

export function wfn_abi_version(): i32 {
  return (ABI_MAJOR << 16) | ABI_MINOR;
}

/** Host-owned scratch memory inside the guest (the host frees nothing: it reuses what it asked for). */
export function wfn_alloc(size: i32): usize {
  return heap.alloc(<usize>size);
}

export function wfn_free(ptr: usize): void {
  heap.free(ptr);
}

export type Handler = (req: Request) => Response;

/** Runs a handler for the current request and hands its response to the host. */
export function run(handler: Handler): i32 {
  const res = handler(new Request());
  response_status(res.status);
  for (let i = 0; i < res.headerNames.length; i++) {
    const n = utf8(res.headerNames[i]);
    const v = utf8(res.headerValues[i]);
    response_header(n.dataStart, n.length, v.dataStart, v.length);
  }
  if (res.body.length > 0) response_body(res.body.dataStart, res.body.length);
  return res.outcome == Outcome.SUCCESS && res.status >= 500 ? Outcome.RETRY : res.outcome;
}
