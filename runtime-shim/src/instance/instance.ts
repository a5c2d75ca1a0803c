import { setTimeout as sleep } from "node:timers/promises";
import { ErrorCode, WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../errors.js";
import { withCallSignal } from "./host-call.js";
import { Invocation, type InvocationResult } from "./invocation.js";
import { GuestExit, wasiImports } from "./wasi.js";
import { MemorySnapshot, type SnapshotPlan } from "./snapshot.js";

/** An error a capability raises; it reaches the guest as `-code` and a message. */
export class CapabilityError extends Error {
  constructor(readonly code: number, message: string) { super(message); }
}

/** Who answers `wfn.call`: the capability layer. A synchronous answer avoids an asyncify round trip. */
export interface HostCalls {
  call(op: number, args: Uint8Array, inv: Invocation): Uint8Array | Promise<Uint8Array>;
}

export interface InstanceOptions {
  timeoutMs: number;
  maxMemoryPages: number;
  /** Loop iterations (and calls) between deadline checks. */
  fuel?: number;
  /**
   * Main thread only: how long guest code may run without yielding before the host gives up on
   * running it here. Past it, an invocation that has not made a host call yet stops with `Offload`
   * (it had no effect outside itself, so the caller may replay it on a worker thread); one that
   * has keeps running to its deadline. Infinity (the default) disables the check.
   */
  sliceMs?: number;
  /** Fresh isolation by reset: which globals to save with the memory after init (snapshot.ts). */
  snapshot?: SnapshotPlan;
  /** Host calls that may run at once on this instance (default MAX_HOST_CALLS_IN_FLIGHT). */
  maxHostCalls?: number;
}

/**
 * Host calls one instance may have running at once. A guest built by `wasm-fn build` waits for
 * each call (asyncify), so it has one; only a module that fakes the suspension can start more,
 * and past this each further call fails at once with UNAVAILABLE instead of queueing.
 */
export const MAX_HOST_CALLS_IN_FLIGHT = 8;

/** Thrown when an invocation used up its main-thread slice before any host call: replay it elsewhere. */
export class Offload extends WfnError {
  constructor(source: string, sliceMs: number) {
    super(ShimErrors.OFFLOAD, `${source} ran for more than ${sliceMs} ms on the main thread without yielding`, { status: 503 });
  }
}

/** The pooled unit, wherever it runs (this thread: Instance; a worker thread: RemoteInstance). */
export interface Runner {
  /** True after a trap or timeout: the pool drops it and never reuses it. */
  broken: boolean;
  /** Runs one invocation. `budgetMs` (default: the function's timeout) caps this invocation's run time. */
  invoke(inv: Invocation, budgetMs?: number): InvocationResult | Promise<InvocationResult>;
  /** Restores pristine state for fresh isolation; false when it cannot (the pool then drops it). */
  reset?(): boolean;
  dispose?(): void;
}

interface GuestExports {
  memory: WebAssembly.Memory;
  wfn_handle(): number;
  wfn_alloc(size: number): number;
  wfn_abi_version(): number;
  _start?: () => void;
  _initialize?: () => void;
  asyncify_start_unwind?: (ptr: number) => void;
  asyncify_stop_unwind?: () => void;
  asyncify_start_rewind?: (ptr: number) => void;
  asyncify_stop_rewind?: () => void;
  asyncify_get_state?: () => number;
}

const ASYNCIFY_STACK = 16 * 1024;
const DEFAULT_FUEL = 20_000;
const EMPTY = new Uint8Array(0);

/**
 * One live instance of a function: the ABI's host side. Copies request fields in on demand,
 * collects the response, and drives asyncify so `wfn.call` can await host I/O.
 * Not reentrant: the pool hands it to one invocation at a time. After a trap it is `broken`.
 *
 * The common case (no host I/O) is synchronous end to end: `invoke` returns the result, not a promise.
 */
/** The most headers a guest may set on one response. */
export const MAX_RESPONSE_HEADERS = 100;

export class Instance implements Runner {
  broken = false;
  uses = 0;
  /** Set when an invocation ran past its main-thread slice after a host call (so it could not be replayed). */
  overran = false;
  /** Main-thread time (ms) the last invocation's synchronous runs took, host calls' waits excluded. */
  ranMs = 0;
  private exports!: GuestExports;
  /** A Buffer view of linear memory; replaced when a grow detaches the old one (byteLength 0). */
  private view: Buffer = Buffer.alloc(0);
  private inv: Invocation | null = null;
  private deadline = 0;
  private sliceEnd = Infinity;
  private asyncData = 0;
  private pendingCall: Promise<Uint8Array | CapabilityError> | null = null;
  private resumeValue = 0;
  private readonly fuel: number;
  private readonly sliceMs: number;
  private timedOut = false;
  private lastGuestError = "";
  private snap: MemorySnapshot | null = null;
  /** Host calls started here and not settled yet (an ended invocation's included), and their argument bytes. */
  private inflight = 0;
  private inflightBytes = 0;
  private readonly maxHostCalls: number;

  constructor(readonly module: WebAssembly.Module, private readonly host: HostCalls, private readonly opts: InstanceOptions, private readonly source: string) {
    this.fuel = opts.fuel ?? DEFAULT_FUEL;
    this.sliceMs = opts.sliceMs ?? Infinity;
    this.maxHostCalls = opts.maxHostCalls ?? MAX_HOST_CALLS_IN_FLIGHT;
  }

  /** Instantiates and runs the guest's initialiser (`_start` for AssemblyScript, `_initialize` for WASI reactors). */
  init(): number {
    // The deadline before instantiating: a module's start function runs inside the constructor,
    // under fuel (with none set yet, its first fuel check reported a timeout), and its trap is the guest's.
    this.deadline = performance.now() + this.opts.timeoutMs;
    this.sliceEnd = Infinity;
    let instance: WebAssembly.Instance;
    let version: number;
    try {
      instance = new WebAssembly.Instance(this.module, { wfn: this.hostImports(), wasi_snapshot_preview1: wasiImports(this.wasiHost()) });
      this.exports = instance.exports as unknown as GuestExports;
      if (this.exports._initialize) this.exports._initialize();
      else if (this.exports._start) this.exports._start();
      if (this.exports.asyncify_start_unwind) this.asyncData = this.exports.wfn_alloc(ASYNCIFY_STACK + 8);
      version = this.exports.wfn_abi_version();
    } catch (e) {
      this.broken = true;
      throw this.mapTrap(e);
    }
    if (this.opts.snapshot) this.snap = new MemorySnapshot(instance, this.opts.snapshot);
    return version;
  }

  /** Runs the handler for one invocation. Throws a WfnError (trap, timeout, memory, Offload) and marks itself broken. */
  invoke(inv: Invocation, budgetMs = this.opts.timeoutMs): InvocationResult | Promise<InvocationResult> {
    this.inv = inv;
    this.uses++;
    const now = performance.now();
    this.deadline = now + budgetMs;
    this.sliceEnd = now + this.sliceMs;
    this.timedOut = false;
    this.lastGuestError = "";
    let outcome: number;
    try {
      outcome = this.exports.wfn_handle();
    } catch (e) {
      this.ranMs = performance.now() - now;
      this.inv = null;
      this.broken = true;
      const err = this.mapTrap(e);
      inv.end(err.code);
      throw err;
    }
    this.ranMs = performance.now() - now;
    if (this.pendingCall === null) {
      this.inv = null;
      // Calls a guest started without waiting for them (no asyncify) stop with the request.
      inv.end("answered");
      return inv.result(outcome);
    }
    return this.resume(inv);
  }

  /** The asyncify loop: wait for the host call, rewind into the guest, repeat until it returns. */
  private async resume(inv: Invocation): Promise<InvocationResult> {
    try {
      let outcome = 0;
      while (this.pendingCall) {
        this.exports.asyncify_stop_unwind!();
        const call = this.pendingCall;
        this.pendingCall = null;
        this.resumeValue = this.settle(await this.withDeadline(call));
        this.exports.asyncify_start_rewind!(this.asyncData);
        // The event loop had a turn while the guest waited: its main-thread slice starts over.
        const t = performance.now();
        this.sliceEnd = t + this.sliceMs;
        try {
          outcome = this.exports.wfn_handle();
        } catch (e) {
          this.broken = true;
          throw this.mapTrap(e);
        } finally {
          this.ranMs += performance.now() - t;
        }
      }
      return inv.result(outcome);
    } catch (e) {
      inv.end(e instanceof WfnError ? e.code : "failed");
      throw e;
    } finally {
      this.inv = null;
      inv.end("answered");
    }
  }

  /** Fresh isolation: puts memory and mutable globals back as they were after init. */
  reset(): boolean {
    return this.snap !== null && !this.broken && this.snap.restore();
  }

  private mapTrap(e: unknown): WfnError {
    if (e instanceof WfnError) return e;
    if (this.timedOut) return this.timeoutError("");
    const msg = e instanceof GuestExit ? `exited with code ${e.code}` : e instanceof Error ? e.message : String(e);
    const said = this.lastGuestError ? ` (the guest said: ${this.lastGuestError.slice(0, 300)})` : "";
    this.lastGuestError = "";
    const pages = this.exports?.memory ? this.exports.memory.buffer.byteLength / 65536 : 0;
    const max = this.opts.maxMemoryPages;
    // A failed memory.grow is invisible to the host: the guest's allocator traps (`unreachable`) or
    // aborts. Memory at the cap, an allocator message, or an `unreachable` with most of the allowance
    // in use is reported as the memory limit.
    if (pages >= max || /out of memory|allocation too large/i.test(msg + said) || (/unreachable/.test(msg) && pages > max / 2)) {
      return new WfnError(ShimErrors.MEMORY_LIMIT, `${this.source} ran out of memory: it had ${pages} of its ${max} pages (${(max * 64) / 1024} MiB, limits.memory) when it failed (${msg}${said}); raise limits.memory in wasm-fn.yaml if it needs more`, { status: 500 });
    }
    if (e instanceof GuestExit) return new WfnError(ShimErrors.EXIT, `${this.source} exited with code ${e.code}${said || " (an abort in the handler?)"}`, { status: 500 });
    if (e instanceof RangeError && /call stack/i.test(msg)) return new WfnError(ShimErrors.TRAP, `${this.source} trapped: stack overflow (unbounded recursion?)`, { status: 500, cause: e });
    return new WfnError(ShimErrors.TRAP, `${this.source} trapped: ${msg}${said}`, { status: 500, cause: e });
  }

  private async withDeadline<T>(p: Promise<T>): Promise<T> {
    const left = this.deadline - performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            this.broken = true;
            reject(this.timeoutError(" while waiting on a host call"));
          }, Math.max(0, left));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private timeoutError(where: string): WfnError {
    return new WfnError(ShimErrors.TIMEOUT, `${this.source} ran past its timeout of ${this.opts.timeoutMs} ms${where} and was stopped (limits.timeout)`, { status: 504 });
  }

  /** Turns a capability answer into what `wfn.call` returns: length, or -code with the message pending. */
  private settle(result: Uint8Array | CapabilityError): number {
    if (result instanceof CapabilityError) {
      this.inv!.pending = Buffer.from(result.message, "utf8");
      return -result.code;
    }
    this.inv!.pending = result;
    return result.length;
  }

  private mem(): Buffer {
    const v = this.view;
    if (v.byteLength !== 0) return v;
    return (this.view = Buffer.from(this.exports.memory.buffer));
  }

  /** Linear memory, after checking that [ptr, ptr + len) lies inside it (a guest-supplied range): else a trap. */
  private guestRange(ptr: number, len: number): Buffer {
    const m = this.mem();
    if (ptr < 0 || len < 0 || ptr + len > m.length) throw new RangeError(`out of bounds memory access: [${ptr >>> 0}, +${len >>> 0}) in a host call`);
    return m;
  }

  private text(ptr: number, len: number): string {
    return this.mem().toString("utf8", ptr, ptr + len);
  }

  private copyOut(src: Uint8Array | null, buf: number, cap: number): number {
    if (src === null) return -1;
    if (cap > 0 && src.length > 0) this.mem().set(cap >= src.length ? src : src.subarray(0, cap), buf);
    return src.length;
  }

  private hostImports(): Record<string, (...a: number[]) => number | void> {
    return {
      request_get: (field, buf, cap) => this.copyOut(this.inv!.field(field), buf, cap),
      request_header: (np, nl, buf, cap) => this.copyOut(this.inv!.header(this.text(np, nl)), buf, cap),
      response_status: (status) => { this.inv!.status = status; },
      response_header: (np, nl, vp, vl) => {
        const inv = this.inv!;
        // Headers count against limits.responseBody too, and their number is bounded: checked
        // before the host copies anything out of the guest.
        if (inv.headers.length >= MAX_RESPONSE_HEADERS || nl + vl + 4 > inv.maxResponseBytes - inv.size) {
          throw new WfnError(ShimErrors.RESPONSE_TOO_LARGE, `${this.source} wrote response headers over its limits (at most ${MAX_RESPONSE_HEADERS} headers, counted with the body against limits.responseBody of ${inv.maxResponseBytes} bytes)`, { status: 500 });
        }
        inv.size += nl + vl + 4;
        inv.headers.push([this.text(np, nl), this.text(vp, vl)]);
      },
      response_body: (ptr, len) => {
        const inv = this.inv!;
        // Checked before allocating: a huge `len` must not make the host allocate it first.
        if (len > inv.maxResponseBytes - inv.size) {
          throw new WfnError(ShimErrors.RESPONSE_TOO_LARGE, `${this.source} wrote a response body over its limit of ${inv.maxResponseBytes} bytes; raise limits.responseBody`, { status: 500 });
        }
        // Bounds first: a short copy would leave the rest of the unzeroed buffer (host memory) in the response.
        inv.appendFrom(this.guestRange(ptr, len), ptr, len);
      },
      log: (level, ptr, len) => {
        const inv = this.inv;
        if (!inv) return;
        // Only what the log budget keeps is read out of guest memory: a dropped line costs no decoding.
        const n = Math.max(0, Math.min(len >>> 0, this.mem().length - (ptr >>> 0)));
        inv.guestLog(level, this.text(ptr >>> 0, inv.logRoom(n)), n);
      },
      call: (op, ptr, len) => this.call(op, ptr, len),
      result_take: (buf, cap) => {
        const p = this.inv!.pending ?? EMPTY;
        const n = this.copyOut(p, buf, cap);
        if (cap >= p.length) this.inv!.pending = null;
        return n;
      },
      interrupt: () => this.interrupt(),
    };
  }

  /** Runs every `fuel` loop iterations: past the deadline it traps; past the main-thread slice it may offload. */
  private interrupt(): number {
    const now = performance.now();
    if (now > this.deadline) {
      this.timedOut = true;
      throw this.timeoutError("");
    }
    if (now > this.sliceEnd) {
      this.sliceEnd = Infinity;
      // Nothing outside this instance has seen the invocation yet: it may be replayed elsewhere.
      if (this.inv && !this.inv.calledHost) throw new Offload(this.source, this.sliceMs);
      this.overran = true;
    }
    return this.fuel;
  }

  private call(op: number, ptr: number, len: number): number {
    const ex = this.exports;
    if (ex.asyncify_get_state && ex.asyncify_get_state() === 2) {
      // Rewinding: the guest re-enters here to receive the answer it was waiting for.
      ex.asyncify_stop_rewind!();
      return this.resumeValue;
    }
    const inv = this.inv!;
    inv.calledHost = true;
    const refused = this.refuseCall(inv, len);
    if (refused) return this.settle(refused);
    const args = this.guestRange(ptr, len).slice(ptr, ptr + len);
    let answer: Uint8Array | Promise<Uint8Array>;
    const wait = inv.callDelay();
    try {
      answer = wait > 0 ? this.later(inv, wait, op, args) : withCallSignal(inv.signal, () => this.host.call(op, args, inv));
    } catch (e) {
      return this.settle(asCapabilityError(e));
    }
    if (!(answer instanceof Promise)) return this.settle(answer);
    // Counted until it settles, even after its invocation ended (its signal then cancels it).
    this.inflight++;
    this.inflightBytes += len;
    const settled = answer.then(
      (v) => { this.inflight--; this.inflightBytes -= len; return v; },
      (e: unknown) => { this.inflight--; this.inflightBytes -= len; return asCapabilityError(e); },
    );
    if (!ex.asyncify_start_unwind || !this.asyncData) {
      return this.settle(new CapabilityError(ErrorCode.INTERNAL, "this module was not built with asyncify, so it cannot wait for host I/O; rebuild it with `wasm-fn build`"));
    }
    this.pendingCall = settled;
    const view = new DataView(ex.memory.buffer);
    view.setUint32(this.asyncData, this.asyncData + 8, true);
    view.setUint32(this.asyncData + 4, this.asyncData + 8 + ASYNCIFY_STACK, true);
    ex.asyncify_start_unwind(this.asyncData);
    return 0;
  }

  /** A host call past its invocation's burst (limits.hostCalls): started after `ms`, unless the request ended meanwhile. */
  private async later(inv: Invocation, ms: number, op: number, args: Uint8Array): Promise<Uint8Array> {
    try {
      await sleep(ms, undefined, { signal: inv.signal });
    } catch { /* the request ended while this call waited */ }
    const ended = inv.ended;
    if (ended !== null) throw new CapabilityError(ErrorCode.UNAVAILABLE, `the request already ended (${ended}); no further host calls run for it`);
    return withCallSignal(inv.signal, () => this.host.call(op, args, inv));
  }

  /** Why a host call may not start: the request ended, or this instance has too many calls (or bytes) in flight. */
  private refuseCall(inv: Invocation, len: number): CapabilityError | null {
    const ended = inv.ended;
    if (ended !== null) return new CapabilityError(ErrorCode.UNAVAILABLE, `the request already ended (${ended}); no further host calls run for it`);
    if (this.inflight >= this.maxHostCalls) {
      return new CapabilityError(ErrorCode.UNAVAILABLE, `${this.source} already has ${this.inflight} host calls in flight, the most one instance may have (a guest waits for each call); this one was refused, not queued`);
    }
    // Arguments held for calls in flight stay within what the guest may hold itself (limits.memory).
    if (this.inflightBytes + len > this.opts.maxMemoryPages * 65536) {
      return new CapabilityError(ErrorCode.TOO_LARGE, `${this.source}: ${this.inflightBytes + len} bytes of host-call arguments would be in flight, over limits.memory`);
    }
    return null;
  }

  private wasiHost() {
    return {
      memory: () => this.exports.memory,
      // What fd_write decodes: what the log budget keeps, and on stderr enough for a trap's message.
      room: (fd: number, len: number) => Math.max(this.inv ? this.inv.logRoom(len) : 0, fd === 2 ? Math.min(len, 512) : 0),
      output: (fd: number, text: string, len: number) => {
        const msg = text.replace(/\n$/, "");
        if (fd === 2) this.lastGuestError = msg;
        if (this.inv) this.inv.guestLog(fd === 2 ? 3 : 1, msg, len);
      },
    };
  }
}

function asCapabilityError(e: unknown): CapabilityError {
  if (e instanceof CapabilityError) return e;
  return new CapabilityError(ErrorCode.INTERNAL, e instanceof Error ? e.message : String(e));
}
