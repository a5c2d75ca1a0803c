// The WasmEdge form of a wasm-fn function: this adapter, merged with the guest module by
// `wasm-fn build`, is a WASI command that serves the function over HTTP on $PORT and reaches Dapr
// over its HTTP API on 127.0.0.1:$DAPR_HTTP_PORT. See docs/wasmedge.md.
import { loadEnv, env, die } from "./wasi";
import { loadConfig, fnLabel } from "./config";
import { guest_init, guest_abi_version } from "./glue";
import * as caps from "./caps";
import * as log from "./log";
import { serve } from "./server";

export {
  request_get, request_header, response_status, response_header, response_body, log_ as log, call, result_take, interrupt,
  wasi_fd_write, wasi_fd_read, wasi_fd_close, wasi_fd_seek, wasi_fd_fdstat_get, wasi_fd_prestat_get, wasi_fd_prestat_dir_name,
  wasi_proc_exit, wasi_random_get, wasi_clock_time_get, wasi_clock_res_get, wasi_environ_sizes_get, wasi_environ_get,
  wasi_args_sizes_get, wasi_args_get, wasi_sched_yield, wasi_poll_oneoff,
} from "./abi";

function intEnv(name: string, dflt: i32): i32 {
  const v = env(name, "");
  if (v.length == 0) return dflt;
  const n = I32.parseInt(v);
  if (n <= 0 || n > 65535) { log.error(name + "='" + v + "' is not a port number"); die(); }
  return n;
}

/** The command's body; the linker exports `_start` = AssemblyScript's initialiser, then this. */
export function wfn_main(): void {
  loadEnv();
  loadConfig();
  const version = guest_abi_version();
  if ((version >>> 16) != 1) {
    log.error(fnLabel + " was built for wasm-fn ABI v" + (version >>> 16).toString() + "." + (version & 0xffff).toString() + ", but this adapter serves ABI v1; rebuild it with this wasm-fn");
    die();
  }
  caps.daprPort = intEnv("DAPR_HTTP_PORT", 3500);
  caps.daprToken = env("DAPR_API_TOKEN", "");
  caps.daprGrpcPort = intEnv("DAPR_GRPC_PORT", 50001);
  const t = env("WFN_DAPR_TIMEOUT_MS", "");
  if (t.length > 0) caps.daprTimeoutMs = I64.parseInt(t);
  guest_init();
  serve(intEnv("PORT", 8080));
}
