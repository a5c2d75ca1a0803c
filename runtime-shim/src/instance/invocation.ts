import { Field, LogLevel } from "@wasm-fn/abi";
import type { Logger } from "../logger.js";
import { defaultLogBudget, RequestLog, type FunctionLogBudget } from "./guest-log.js";

/** CloudEvent attributes of an async invocation (pubsub or input binding). */
export interface EventAttributes {
  id?: string;
  source?: string;
  type?: string;
  specversion?: string;
  datacontenttype?: string;
  subject?: string;
  time?: string;
  topic?: string;
  pubsubname?: string;
  input?: string;
}

/** What a guest sees of one request or event, and what it answers. */
export interface InvocationInput {
  requestId: string;
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
  event?: EventAttributes;
  /** The client's connection, when there is one: its close ends the invocation's host calls. Never sent to a worker. */
  client?: ClientConnection;
}

/** What an invocation needs of a client's connection (a net.Socket). */
export interface ClientConnection {
  readonly destroyed: boolean;
  once(event: "close", listener: () => void): unknown;
  removeListener(event: "close", listener: () => void): unknown;
}

/** The reason a request's AbortSignal carries: the request ended while a host call ran. */
export class RequestEnded extends Error {
  override readonly name = "RequestEnded";
  constructor(readonly why: string) { super(`the request ended (${why}) before this host call finished`); }
}

export interface InvocationResult {
  status: number;
  headers: [string, string][];
  body: Uint8Array;
  outcome: number;
}

const EMPTY = new Uint8Array(0);
/** UTF-8 bytes of a string; Buffer.from takes small strings from Node's pool (cheaper than TextEncoder). */
const utf8 = (s: string): Uint8Array => (s.length === 0 ? EMPTY : Buffer.from(s, "utf8"));

/** `limits.hostCalls`: calls an invocation may start at once, then how many a second. */
export interface HostCallPace {
  burst: number;
  perSecond: number;
}

/** The default pacing (packages/build config.ts keeps the same numbers for wasm-fn.yaml). */
export const DEFAULT_HOST_CALL_PACE: HostCallPace = { burst: 100, perSecond: 200 };

/** Per-invocation state the host imports read and write. One instance serves one invocation at a time. */
export class Invocation {
  status = 200;
  headers: [string, string][] = [];
  /** Bytes counted against limits.responseBody so far: the body and the headers. */
  size = 0;
  /** The body so far: its first `bodyLen` bytes. One buffer, grown by doubling, however many appends made it. */
  private body: Buffer | null = null;
  private bodyLen = 0;
  /** Bytes of the last `call` result (or error message), until the guest takes them. */
  pending: Uint8Array | null = null;
  /** Set once the guest made a host call (`wfn.call`): from then on it has had effects outside itself. */
  calledHost = false;
  /** The last field read: guests ask for a field twice in a row (its length, then a copy). */
  private lastField = -1;
  private lastValue: Uint8Array | null = null;
  /** The function's guest log budget (guest-log.ts); a shared default when none is set. */
  logBudget: FunctionLogBudget | null = null;
  /** This invocation's share of it, made on its first log line. */
  protected rlog: RequestLog | null = null;
  /** Host-call pacing (limits.hostCalls); null: none. */
  pace: HostCallPace | null = null;
  /** Tokens left (below zero: calls already waiting) and when they were counted (ms, performance.now()); -1 until the first host call. */
  private tokens = 0;
  private tokensAt = -1;
  /** Made on the first host call only: most invocations make none. */
  private ac: AbortController | null = null;
  /** Why the request ended for this invocation's host calls (answered, timed out, client gone); null while it runs. */
  private endedWhy: string | null = null;
  private onGone: (() => void) | null = null;

  constructor(
    readonly input: InvocationInput,
    readonly functionName: string,
    readonly log: Logger,
    readonly maxResponseBytes: number,
  ) {}

  /**
   * How long (ms) the next host call must wait: 0 while the burst lasts, then one call per
   * 1/perSecond. Waiting, not refusing: a guest that loops on calls is slowed, never made to spin
   * on errors (a spin after a host call holds the main thread to its deadline).
   */
  callDelay(): number {
    const p = this.pace;
    if (!p) return 0;
    const now = performance.now();
    this.tokens = this.tokensAt < 0 ? p.burst : Math.min(p.burst, this.tokens + ((now - this.tokensAt) * p.perSecond) / 1000);
    this.tokensAt = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / p.perSecond;
  }

  /** Bytes of a request field, or null when absent. */
  field(f: number): Uint8Array | null {
    if (f === this.lastField) return this.lastValue;
    const v = this.computeField(f);
    this.lastField = f;
    this.lastValue = v;
    return v;
  }

  private computeField(f: number): Uint8Array | null {
    const i = this.input;
    const ev = i.event;
    switch (f) {
      case Field.METHOD: return utf8(i.method);
      case Field.PATH: return utf8(i.path);
      case Field.QUERY: return utf8(i.query);
      case Field.BODY: return i.body ?? EMPTY;
      case Field.HEADERS: {
        let s = "";
        for (const [k, v] of Object.entries(i.headers)) if (v !== undefined) s += `${k}: ${Array.isArray(v) ? v.join(", ") : v}\n`;
        return utf8(s);
      }
      case Field.REQUEST_ID: return utf8(i.requestId);
      case Field.KIND: return utf8(ev ? "event" : "http");
      case Field.FUNCTION: return utf8(this.functionName);
    }
    if (!ev) return null;
    const key = EVENT_FIELDS[f];
    const v = key ? ev[key] : undefined;
    return v === undefined ? null : utf8(v);
  }

  header(name: string): Uint8Array | null {
    const v = this.input.headers[name.toLowerCase()];
    if (v === undefined) return null;
    return utf8(Array.isArray(v) ? v.join(", ") : v);
  }

  /**
   * Appends `len` bytes of guest memory at `ptr` to the body; the caller checked the response limit.
   * Every append is copied into one buffer, so a million 1-byte appends hold one buffer of about
   * a megabyte, not a million objects (~1.1 GB once, for 8 MiB of body).
   */
  appendFrom(mem: Buffer, ptr: number, len: number): void {
    if (len === 0) return;
    const need = this.bodyLen + len;
    let b = this.body;
    if (b === null) b = this.body = Buffer.allocUnsafe(len); // the usual single write: exact size
    else if (need > b.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, Math.min(b.length * 2, this.maxResponseBytes), 1024));
      b.copy(grown, 0, 0, this.bodyLen);
      b = this.body = grown;
    }
    mem.copy(b, this.bodyLen, ptr, ptr + len);
    this.bodyLen = need;
    this.size += len;
  }

  /**
   * Aborted when the request ends for this invocation: answered, timed out, trapped, or the client
   * went away. Every host call gets it, so outbound HTTP and sidecar calls stop with the request.
   */
  get signal(): AbortSignal {
    if (this.ac === null) {
      this.ac = new AbortController();
      if (this.endedWhy !== null) this.ac.abort(new RequestEnded(this.endedWhy));
      else this.watchClient();
    }
    return this.ac.signal;
  }

  /** Non-null once the request ended: a host call started now fails at once. */
  get ended(): string | null {
    return this.endedWhy;
  }

  /** The request is over for this invocation: cancels its host calls still running. Idempotent. */
  end(why: string): void {
    if (this.endedWhy !== null) return;
    this.endedWhy = why;
    this.endLog();
    if (this.onGone) { this.input.client?.removeListener("close", this.onGone); this.onGone = null; }
    this.ac?.abort(new RequestEnded(why));
  }

  private watchClient(): void {
    const c = this.input.client;
    if (!c) return;
    if (c.destroyed) return this.end("the client closed its connection");
    this.onGone = () => { this.onGone = null; this.end("the client closed its connection"); };
    c.once("close", this.onGone);
  }

  private requestLog(): RequestLog {
    return (this.rlog ??= new RequestLog(this.logBudget ?? defaultLogBudget(this.log)));
  }

  /** Bytes of a `len`-byte guest log line worth reading out of guest memory: 0 when its budget will drop it. */
  logRoom(len: number): number {
    return this.requestLog().room(len);
  }

  /**
   * A guest's log line, `len` bytes long in the guest (`msg` may be only the prefix logRoom allowed):
   * counted against the request's and the function's budget, cut when too long, dropped past them.
   */
  guestLog(level: number, msg: string, len = Buffer.byteLength(msg)): void {
    const text = this.requestLog().admit(msg, len);
    if (text !== null) this.emitLog(level, text);
  }

  /** Writes an admitted guest line (on a worker thread: posts it to the main thread). */
  protected emitLog(level: number, msg: string): void {
    const l = level <= LogLevel.DEBUG ? "debug" : level === LogLevel.INFO ? "info" : level === LogLevel.WARN ? "warn" : "error";
    this.log.log(l, msg, { requestId: this.input.requestId, fn: this.functionName, source: "guest" });
  }

  /** Lines a worker thread dropped or cut for this invocation (the worker side of remote.ts). */
  logDropped(bytes: number, lines: number, cutBytes: number, cutLines: number): void {
    this.requestLog().add(bytes, lines, cutBytes, cutLines);
  }

  /** The invocation ended: one marker line for what its request budget dropped. */
  protected endLog(): void {
    this.rlog?.end(this.log, { requestId: this.input.requestId, fn: this.functionName });
  }

  result(outcome: number): InvocationResult {
    const b = this.body;
    const body = b === null ? EMPTY : b.length === this.bodyLen ? b : b.subarray(0, this.bodyLen);
    return { status: this.status, headers: this.headers, body, outcome };
  }
}

const EVENT_FIELDS: Record<number, keyof EventAttributes> = {
  [Field.EVENT_ID]: "id",
  [Field.EVENT_SOURCE]: "source",
  [Field.EVENT_TYPE]: "type",
  [Field.EVENT_SPECVERSION]: "specversion",
  [Field.EVENT_DATACONTENTTYPE]: "datacontenttype",
  [Field.EVENT_SUBJECT]: "subject",
  [Field.EVENT_TIME]: "time",
  [Field.EVENT_TOPIC]: "topic",
  [Field.EVENT_PUBSUBNAME]: "pubsubname",
  [Field.EVENT_INPUT]: "input",
};
