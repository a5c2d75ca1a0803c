// WASI preview1 and WasmEdge's socket extension, as the adapter uses them. Only the adapter calls
// these: the guest's own WASI imports are served by the shims in abi.ts, against the guest's memory.

@external("wasi_snapshot_preview1", "fd_write") export declare function fd_write(fd: i32, iovs: usize, n: i32, nwritten: usize): i32;
@external("wasi_snapshot_preview1", "fd_close") export declare function fd_close(fd: i32): i32;
@external("wasi_snapshot_preview1", "fd_fdstat_set_flags") export declare function fd_fdstat_set_flags(fd: i32, flags: i32): i32;
@external("wasi_snapshot_preview1", "clock_time_get") export declare function clock_time_get(id: i32, precision: i64, out: usize): i32;
@external("wasi_snapshot_preview1", "clock_res_get") export declare function clock_res_get(id: i32, out: usize): i32;
@external("wasi_snapshot_preview1", "random_get") export declare function random_get(buf: usize, len: i32): i32;
@external("wasi_snapshot_preview1", "environ_sizes_get") export declare function environ_sizes_get(count: usize, size: usize): i32;
@external("wasi_snapshot_preview1", "environ_get") export declare function environ_get(environ: usize, buf: usize): i32;
@external("wasi_snapshot_preview1", "proc_exit") export declare function proc_exit(code: i32): void;
@external("wasi_snapshot_preview1", "poll_oneoff") export declare function poll_oneoff(subs: usize, events: usize, n: i32, nevents: usize): i32;

@external("wasi_snapshot_preview1", "sock_open") export declare function sock_open(af: i32, type: i32, fd: usize): i32;
@external("wasi_snapshot_preview1", "sock_bind") export declare function sock_bind(fd: i32, addr: usize, port: i32): i32;
@external("wasi_snapshot_preview1", "sock_listen") export declare function sock_listen(fd: i32, backlog: i32): i32;
@external("wasi_snapshot_preview1", "sock_accept_v2") export declare function sock_accept_v2(fd: i32, flags: i32, out: usize): i32;
@external("wasi_snapshot_preview1", "sock_connect") export declare function sock_connect(fd: i32, addr: usize, port: i32): i32;
@external("wasi_snapshot_preview1", "sock_recv") export declare function sock_recv(fd: i32, iovs: usize, n: i32, flags: i32, outLen: usize, outFlags: usize): i32;
@external("wasi_snapshot_preview1", "sock_send") export declare function sock_send(fd: i32, iovs: usize, n: i32, flags: i32, outLen: usize): i32;
@external("wasi_snapshot_preview1", "sock_shutdown") export declare function sock_shutdown(fd: i32, how: i32): i32;
@external("wasi_snapshot_preview1", "sock_setsockopt") export declare function sock_setsockopt(fd: i32, level: i32, name: i32, value: usize, size: i32): i32;
@external("wasi_snapshot_preview1", "sock_getaddrinfo") export declare function sock_getaddrinfo(node: usize, nodeLen: i32, service: usize, serviceLen: i32, hints: usize, res: usize, max: i32, resLen: usize): i32;

export const ERRNO_SUCCESS = 0;
export const ERRNO_AGAIN = 6;
export const ERRNO_BADF = 8;
export const ERRNO_INPROGRESS = 26;
export const ERRNO_INTR = 27;
export const ERRNO_NOSYS = 52;
export const ERRNO_CONNREFUSED = 14;

export const AF_INET = 1;
export const SOCK_STREAM = 2;
export const FDFLAGS_NONBLOCK = 4;
export const SOL_SOCKET = 0;
export const SO_REUSEADDR = 0;

const scratch = memory.data(64);

export function now(clock: i32 = 1): u64 {
  clock_time_get(clock, 1000, scratch);
  return load<u64>(scratch);
}

/** Writes all of p..p+n to fd (stdout/stderr). */
export function writeAll(fd: i32, p: usize, n: i32): void {
  while (n > 0) {
    store<u32>(scratch, <u32>p);
    store<u32>(scratch + 4, <u32>n);
    const e = fd_write(fd, scratch, 1, scratch + 8);
    if (e != 0) return;
    const w = <i32>load<u32>(scratch + 8);
    if (w <= 0) return;
    p += <usize>w;
    n -= w;
  }
}

/** The process environment, read once. */
export let envNames = new Array<string>();
export let envValues = new Array<string>();
export function loadEnv(): void {
  environ_sizes_get(scratch, scratch + 4);
  const count = <i32>load<u32>(scratch);
  const size = <i32>load<u32>(scratch + 4);
  if (count == 0) return;
  const ptrs = heap.alloc(<usize>(count * 4));
  const buf = heap.alloc(<usize>(size + 1));
  environ_get(ptrs, buf);
  for (let i = 0; i < count; i++) {
    const p = <usize>load<u32>(ptrs + <usize>(i * 4));
    let e = p;
    while (load<u8>(e) != 0) e++;
    const s = String.UTF8.decodeUnsafe(p, e - p);
    const eq = s.indexOf("=");
    if (eq < 0) continue;
    envNames.push(s.substring(0, eq));
    envValues.push(s.substring(eq + 1));
  }
  heap.free(ptrs);
  heap.free(buf);
}
export function env(name: string, dflt: string): string {
  for (let i = 0; i < envNames.length; i++) if (envNames[i] == name) return envValues[i];
  return dflt;
}

/**
 * Ends the process with a failure status everywhere: `proc_exit(n)` does under the `wasmedge` CLI,
 * but crun's WasmEdge handler exits 0 after it (measured), so a container would not count as
 * failed. A trap is a non-zero exit in both; the cause is logged before this is called.
 */
export function die(): void {
  unreachable();
}
