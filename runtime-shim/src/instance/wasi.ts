/**
 * The WASI subset a guest gets: stdout/stderr into the structured log, clocks, random, exit.
 * Deny by default: no files, no directories, no environment, no arguments, no sockets
 * (every fd but 1 and 2 is EBADF). Hand-written because it is a security boundary and must
 * cost nothing per instance (docs/abi.md says why @wasmer/wasi is not used here).
 */
import { randomFillSync } from "node:crypto";

const ERRNO_SUCCESS = 0;
const ERRNO_BADF = 8;
const ERRNO_INVAL = 28;
const ERRNO_NOSYS = 52;

/** Thrown by proc_exit; the instance is discarded. */
export class GuestExit extends Error {
  constructor(readonly code: number) { super(`guest called proc_exit(${code})`); }
}

export interface WasiHost {
  memory(): WebAssembly.Memory;
  /** How many of `len` bytes written to fd 1 or 2 to decode (the log budget's room); all when absent. */
  room?(fd: number, len: number): number;
  /** A line (or partial line) the guest wrote to fd 1 or 2: `text` is the decoded part of its `len` bytes. */
  output(fd: number, text: string, len: number): void;
}

const dec = new TextDecoder();

export function wasiImports(host: WasiHost): Record<string, (...args: number[]) => number | void> {
  const view = () => new DataView(host.memory().buffer);
  const bytes = () => new Uint8Array(host.memory().buffer);
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, nwritten: number): number {
      if (fd !== 1 && fd !== 2) return ERRNO_BADF;
      const v = view();
      const mem = bytes();
      let total = 0;
      for (let i = 0; i < iovsLen; i++) total += v.getUint32(iovs + i * 8 + 4, true);
      // A guest may write far more than its log keeps: only that much is decoded; all of it counts as written.
      let room = host.room ? host.room(fd, total) : total;
      let text = "";
      for (let i = 0; i < iovsLen && room > 0; i++) {
        const ptr = v.getUint32(iovs + i * 8, true);
        const len = Math.min(v.getUint32(iovs + i * 8 + 4, true), room);
        text += dec.decode(mem.subarray(ptr, ptr + len));
        room -= len;
      }
      v.setUint32(nwritten, total, true);
      host.output(fd, text, total);
      return ERRNO_SUCCESS;
    },
    fd_read: () => ERRNO_BADF,
    fd_close: () => ERRNO_BADF,
    fd_seek: () => ERRNO_BADF,
    fd_fdstat_get: (fd: number) => (fd <= 2 ? ERRNO_NOSYS : ERRNO_BADF),
    fd_prestat_get: () => ERRNO_BADF,
    fd_prestat_dir_name: () => ERRNO_BADF,
    proc_exit(code: number): void {
      throw new GuestExit(code);
    },
    random_get(buf: number, len: number): number {
      randomFillSync(bytes().subarray(buf, buf + len));
      return ERRNO_SUCCESS;
    },
    clock_time_get(id: number, _precision: bigint | number, out: number): number {
      let ns: bigint;
      if (id === 0) ns = BigInt(Date.now()) * 1_000_000n;
      else if (id === 1 || id === 2 || id === 3) ns = process.hrtime.bigint();
      else return ERRNO_INVAL;
      view().setBigUint64(out, ns, true);
      return ERRNO_SUCCESS;
    },
    clock_res_get(_id: number, out: number): number {
      view().setBigUint64(out, 1000n, true);
      return ERRNO_SUCCESS;
    },
    environ_sizes_get(count: number, size: number): number {
      const v = view();
      v.setUint32(count, 0, true);
      v.setUint32(size, 0, true);
      return ERRNO_SUCCESS;
    },
    environ_get: () => ERRNO_SUCCESS,
    args_sizes_get(count: number, size: number): number {
      const v = view();
      v.setUint32(count, 0, true);
      v.setUint32(size, 0, true);
      return ERRNO_SUCCESS;
    },
    args_get: () => ERRNO_SUCCESS,
    sched_yield: () => ERRNO_SUCCESS,
    poll_oneoff: () => ERRNO_NOSYS,
  } as unknown as Record<string, (...args: number[]) => number | void>;
}
