// Sockets through WasmEdge's extension to wasi_snapshot_preview1, with deadlines kept by poll_oneoff.
import {
  sock_open, sock_bind, sock_listen, sock_connect, sock_recv, sock_send, sock_shutdown, sock_setsockopt, sock_getaddrinfo,
  fd_close, fd_fdstat_set_flags, poll_oneoff, now, AF_INET, SOCK_STREAM, FDFLAGS_NONBLOCK, SOL_SOCKET, SO_REUSEADDR, ERRNO_AGAIN, ERRNO_INPROGRESS,
} from "./wasi";
import { Buf } from "./mem";

const scratch = memory.data(256);
const addrBuf = memory.data(16);
const addrStruct = memory.data(8);

/** The last errno of a failed call here. */
export let errno = 0;

function address(ip: u32): usize {
  store<u32>(addrBuf, ip); // network order: a.b.c.d as bytes
  store<u32>(addrStruct, <u32>addrBuf);
  store<u32>(addrStruct + 4, 4);
  return addrStruct;
}

/** a.b.c.d -> the 4 bytes in memory order; 0xffffffff when not a dotted quad. */
export function parseIPv4(s: string): u32 {
  const parts = s.split(".");
  if (parts.length != 4) return 0xffffffff;
  let v: u32 = 0;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length == 0 || p.length > 3) return 0xffffffff;
    let n: u32 = 0;
    for (let k = 0; k < p.length; k++) {
      const c = p.charCodeAt(k);
      if (c < 48 || c > 57) return 0xffffffff;
      n = n * 10 + <u32>(c - 48);
    }
    if (n > 255) return 0xffffffff;
    v |= n << (8 * i);
  }
  return v;
}

/** A non-blocking listening socket on 0.0.0.0:port, or -errno. */
export function listen(port: i32, backlog: i32): i32 {
  errno = sock_open(AF_INET, SOCK_STREAM, scratch);
  if (errno != 0) return -errno;
  const fd = <i32>load<u32>(scratch);
  store<i32>(scratch, 1);
  sock_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, scratch, 4);
  errno = sock_bind(fd, address(0), port);
  if (errno != 0) { fd_close(fd); return -errno; }
  errno = sock_listen(fd, backlog);
  if (errno != 0) { fd_close(fd); return -errno; }
  fd_fdstat_set_flags(fd, FDFLAGS_NONBLOCK);
  return fd;
}

/** Reads what is available into buf (at most max bytes). >0 bytes read, 0 peer closed, -1 would block, -2 error. */
export function recv(fd: i32, buf: Buf, max: i32): i32 {
  buf.reserve(max);
  store<u32>(scratch, <u32>(buf.ptr + <usize>buf.len));
  store<u32>(scratch + 4, <u32>max);
  errno = sock_recv(fd, scratch, 1, 0, scratch + 8, scratch + 12);
  if (errno == ERRNO_AGAIN) return -1;
  if (errno != 0) return -2;
  const n = <i32>load<u32>(scratch + 8);
  buf.len += n;
  return n;
}

/** Sends what it can of p..p+n. >=0 bytes sent, -1 would block, -2 error. */
export function send(fd: i32, p: usize, n: i32): i32 {
  store<u32>(scratch, <u32>p);
  store<u32>(scratch + 4, <u32>n);
  errno = sock_send(fd, scratch, 1, 0, scratch + 8);
  if (errno == ERRNO_AGAIN) return -1;
  if (errno != 0) return -2;
  return <i32>load<u32>(scratch + 8);
}

export function close(fd: i32): void {
  sock_shutdown(fd, 3);
  fd_close(fd);
}

// poll_oneoff: subscriptions of 48 bytes, events of 32 bytes (WASI preview1).
export const EV_CLOCK: u8 = 0;
export const EV_READ: u8 = 1;
export const EV_WRITE: u8 = 2;
const ONE_SUB = memory.data(96);
const ONE_EV = memory.data(64);

/** Waits until fd is readable (or writable) or the deadline (monotonic ns) passes. True when ready. */
export function waitFd(fd: i32, write: bool, deadline: u64): bool {
  const t = now();
  if (t >= deadline) return false;
  memory.fill(ONE_SUB, 0, 96);
  store<u64>(ONE_SUB, 1);
  store<u8>(ONE_SUB + 8, write ? EV_WRITE : EV_READ);
  store<u32>(ONE_SUB + 16, <u32>fd);
  store<u64>(ONE_SUB + 48, 2);
  store<u8>(ONE_SUB + 56, EV_CLOCK);
  store<u32>(ONE_SUB + 64, 1); // monotonic
  store<u64>(ONE_SUB + 72, deadline - t);
  store<u64>(ONE_SUB + 80, 0);
  store<u16>(ONE_SUB + 88, 0);
  const e = poll_oneoff(ONE_SUB, ONE_EV, 2, scratch + 64);
  if (e != 0) return false;
  const n = <i32>load<u32>(scratch + 64);
  for (let i = 0; i < n; i++) if (load<u64>(ONE_EV + <usize>(i * 32)) == 1) return true;
  return false;
}

/**
 * Connects to ip:port (ip as from parseIPv4), non-blocking with a deadline. fd >= 0, or
 * -1 refused/unreachable (errno set), -2 timed out.
 */
export function connect(ip: u32, port: i32, deadline: u64): i32 {
  errno = sock_open(AF_INET, SOCK_STREAM, scratch);
  if (errno != 0) return -1;
  const fd = <i32>load<u32>(scratch);
  errno = sock_connect(fd, address(ip), port);
  if (errno != 0 && errno != ERRNO_INPROGRESS) { fd_close(fd); return -1; }
  fd_fdstat_set_flags(fd, FDFLAGS_NONBLOCK);
  return fd;
}

/** Sends all of p..p+n before the deadline. */
export function sendAll(fd: i32, p: usize, n: i32, deadline: u64): bool {
  while (n > 0) {
    const w = send(fd, p, n);
    if (w == -2) return false;
    if (w == -1) { if (!waitFd(fd, true, deadline)) return false; continue; }
    p += <usize>w;
    n -= w;
  }
  return true;
}

/** Resolves a host name to an IPv4 address (sock_getaddrinfo); 0xffffffff when it cannot. */
export function resolve(host: string): u32 {
  const literal = parseIPv4(host);
  if (literal != 0xffffffff) return literal;
  const node = String.UTF8.encode(host);
  // hints: struct addrinfo { flags u16, family u8, socktype u8, protocol u8, addrlen u32, addr ptr, canonname ptr, canonname_len u32, next ptr }
  const hints = heap.alloc(64);
  memory.fill(hints, 0, 64);
  store<u8>(hints + 2, AF_INET);
  store<u8>(hints + 3, SOCK_STREAM);
  // results: room for one addrinfo + sockaddr + its data
  const res = heap.alloc(256);
  memory.fill(res, 0, 256);
  const ai = res + 16;
  const sa = res + 64;
  const sadata = res + 96;
  const canon = res + 160;
  store<u32>(ai + 8, <u32>sa);
  store<u32>(ai + 12, <u32>canon);
  store<u32>(ai + 16, 30);
  store<u32>(sa + 4, <u32>sadata);
  store<u32>(sa + 8, 26);
  store<u32>(res, <u32>ai);
  const e = sock_getaddrinfo(changetype<usize>(node), node.byteLength, 0, 0, hints, res, 1, res + 8);
  let out: u32 = 0xffffffff;
  if (e == 0 && load<u32>(res + 8) > 0) {
    // sockaddr data: port (2 bytes, big endian) then the 4 address bytes
    out = load<u32>(sadata + 2);
  }
  heap.free(hints);
  heap.free(res);
  return out;
}
