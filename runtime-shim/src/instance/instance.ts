import { ErrorCode, WfnError } from "@wasm-fn/abi";
import { ShimErrors } from "../errors.js";
import { Invocation, type InvocationResult } from "./invocation.js";
import { GuestExit, wasiImports } from "./wasi.js";

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
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * One live instance of a function: the ABI's host side. Copies request fields in on demand,
 * collects the response, and drives asyncify so `wfn.call` can await host I/O.
 * Not reentrant: the pool hands it to one invocation at a time. After a trap it is `broken`.
 */
export class Instance {
  broken = false;
  uses = 0;
  private exports!: GuestExports;
  private inv: Invocation | null = null;
  private deadline = 0;
  private asyncData = 0;
  private pendingCall: Promise<Uint8Array> | null = null;
  private resumeValue = 0;
  private readonly fuel: number;
  private timedOut = false;

  constructor(readonly module: WebAssembly.Module, private readonly host: HostCalls, private readonly opts: InstanceOptions, private readonly source: string) {
    this.fuel = opts.fuel ?? DEFAULT_FUEL;
  }

  /** Instantiates and runs the guest's initialiser (`_start` for AssemblyScript, `_initialize` for WASI reactors). */
  init(): number {
    const instance = new WebAssembly.Instance(this.module, { wfn: this.hostImports(), wasi_snapshot_preview1: wasiImports(this.wasiHost()) });
    this.exports = instance.exports as unknown as GuestExports;
    this.deadline = performance.now() + this.opts.timeoutMs;
    this.guard(() => {
      if (this.exports._initialize) this.exports._initialize();
      else if (this.exports._start) this.exports._start();
    });
    if (this.exports.asyncify_start_unwind) {
      const ptr = this.exports.wfn_alloc(ASYNCIFY_STACK + 8);
      this.asyncData = ptr;
    }
    return this.exports.wfn_abi_version();
  }

  /** Runs the handler for one invocation. Throws a WfnError (trap, timeout, memory) and marks itself broken. */
  async invoke(inv: Invocation): Promise<InvocationResult> {
    this.inv = inv;
    this.uses++;
    this.deadline = performance.now() + this.opts.timeoutMs;
    this.timedOut = false;
    try {
      let outcome = this.guard(() => this.exports.wfn_handle());
      while (this.pendingCall) {
        this.exports.asyncify_stop_unwind!();
        const call = this.pendingCall;
        this.pendingCall = null;
        this.resumeValue = this.settle(await this.withDeadline(call));
        this.exports.asyncify_start_rewind!(this.asyncData);
        outcome = this.guard(() => this.exports.wfn_handle());
      }
      return inv.result(outcome);
    } finally {
      this.inv = null;
    }
  }

  /** Runs guest code; maps a trap to a WfnError and marks the instance broken. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      this.broken = true;
      throw this.mapTrap(e);
    }
  }

  private mapTrap(e: unknown): WfnError {
    if (e instanceof WfnError) return e;
    if (this.timedOut) return new WfnError(ShimErrors.TIMEOUT, `${this.source} ran past its timeout of ${this.opts.timeoutMs} ms and was stopped`, { status: 504 });
    if (e instanceof GuestExit) return new WfnError(ShimErrors.EXIT, `${this.source} exited with code ${e.code} (an abort in the handler?)`, { status: 500 });
    const msg = e instanceof Error ? e.message : String(e);
    const pages = this.exports?.memory ? this.exports.memory.buffer.byteLength / 65536 : 0;
    if (pages >= this.opts.maxMemoryPages || /out of memory|memory access out of bounds.*grow/i.test(msg)) {
      return new WfnError(ShimErrors.MEMORY_LIMIT, `${this.source} hit its memory limit of ${this.opts.maxMemoryPages} pages (${(this.opts.maxMemoryPages * 64) / 1024} MiB): ${msg}`, { status: 500 });
    }
    return new WfnError(ShimErrors.TRAP, `${this.source} trapped: ${msg}`, { status: 500, cause: e });
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
            reject(new WfnError(ShimErrors.TIMEOUT, `${this.source} ran past its timeout of ${this.opts.timeoutMs} ms while waiting on a host call`, { status: 504 }));
          }, Math.max(0, left));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Turns a capability answer into what `wfn.call` returns: length, or -code with the message pending. */
  private settle(result: Uint8Array | CapabilityError): number {
    if (result instanceof CapabilityError) {
      this.inv!.pending = enc.encode(result.message);
      return -result.code;
    }
    this.inv!.pending = result;
    return result.length;
  }

  private mem(): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer);
  }

  private copyOut(src: Uint8Array | null, buf: number, cap: number): number {
    if (src === null) return -1;
    if (cap > 0) this.mem().set(cap >= src.length ? src : src.subarray(0, cap), buf);
    return src.length;
  }

  private hostImports(): Record<string, (...a: number[]) => number | void> {
    return {
      request_get: (field, buf, cap) => this.copyOut(this.inv!.field(field), buf, cap),
      request_header: (np, nl, buf, cap) => this.copyOut(this.inv!.header(dec.decode(this.mem().subarray(np, np + nl))), buf, cap),
      response_status: (status) => { this.inv!.status = status; },
      response_header: (np, nl, vp, vl) => {
        const m = this.mem();
        this.inv!.headers.push([dec.decode(m.subarray(np, np + nl)), dec.decode(m.subarray(vp, vp + vl))]);
      },
      response_body: (ptr, len) => {
        if (!this.inv!.append(this.mem().slice(ptr, ptr + len))) {
          throw new WfnError(ShimErrors.RESPONSE_TOO_LARGE, `${this.source} wrote a response body over its limit of ${this.inv!.maxResponseBytes} bytes; raise limits.responseBody`, { status: 500 });
        }
      },
      log: (level, ptr, len) => this.inv?.guestLog(level, dec.decode(this.mem().subarray(ptr, ptr + len))),
      call: (op, ptr, len) => this.call(op, ptr, len),
      result_take: (buf, cap) => {
        const p = this.inv!.pending ?? new Uint8Array(0);
        const n = this.copyOut(p, buf, cap);
        if (cap >= p.length) this.inv!.pending = null;
        return n;
      },
      interrupt: () => {
        if (performance.now() > this.deadline) {
          this.timedOut = true;
          throw new WfnError(ShimErrors.TIMEOUT, `${this.source} ran past its timeout of ${this.opts.timeoutMs} ms and was stopped`, { status: 504 });
        }
        return this.fuel;
      },
    };
  }

  private call(op: number, ptr: number, len: number): number {
    const ex = this.exports;
    if (ex.asyncify_get_state && ex.asyncify_get_state() === 2) {
      // Rewinding: the guest re-enters here to receive the answer it was waiting for.
      ex.asyncify_stop_rewind!();
      return this.resumeValue;
    }
    const args = this.mem().slice(ptr, ptr + len);
    let answer: Uint8Array | Promise<Uint8Array>;
    try {
      answer = this.host.call(op, args, this.inv!);
    } catch (e) {
      return this.settle(asCapabilityError(e));
    }
    if (!(answer instanceof Promise)) return this.settle(answer);
    if (!ex.asyncify_start_unwind || !this.asyncData) {
      answer.catch(() => undefined);
      return this.settle(new CapabilityError(ErrorCode.INTERNAL, "this module was not built with asyncify, so it cannot wait for host I/O; rebuild it with `wasm-fn build`"));
    }
    this.pendingCall = answer.then((v) => v, (e: unknown) => asCapabilityError(e) as unknown as Uint8Array);
    const view = new DataView(ex.memory.buffer);
    view.setUint32(this.asyncData, this.asyncData + 8, true);
    view.setUint32(this.asyncData + 4, this.asyncData + 8 + ASYNCIFY_STACK, true);
    ex.asyncify_start_unwind(this.asyncData);
    return 0;
  }

  private wasiHost() {
    return {
      memory: () => this.exports.memory,
      output: (fd: number, text: string) => {
        const msg = text.replace(/\n$/, "");
        if (this.inv) this.inv.guestLog(fd === 2 ? 3 : 1, msg);
      },
    };
  }
}

function asCapabilityError(e: unknown): CapabilityError {
  if (e instanceof CapabilityError) return e;
  return new CapabilityError(ErrorCode.INTERNAL, e instanceof Error ? e.message : String(e));
}
