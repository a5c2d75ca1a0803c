/**
 * The WASI 0.2 host a component gets in the shim: `wasi:http/proxy`'s imports (io, clocks, random,
 * stdio, http types and the outgoing handler) and nothing else that reaches the machine. It is
 * written here, not taken from @bytecodealliance/preview2-shim, because that shim is built for
 * trusted code: it preopens the host's file system, passes the process environment and opens
 * sockets. Here a component sees no file (no preopens), an environment the operator chose, stdout
 * and stderr as its log, and outgoing HTTP only through the shim's capability layer (the same
 * grants as the AssemblyScript ABI; docs/abi.md, "Components").
 *
 * It runs on the component's worker thread. Waiting (`poll`, `block`, a `blocking-*` call on a
 * response not yet there) blocks that thread until the main thread answers (`HostIo.wait`): a
 * component is synchronous code and has no other way to wait.
 *
 * Resources are plain classes: jco's generated bindings check `instanceof` on what comes back.
 * A `result` error is thrown as `{ payload }` (jco's convention for imports).
 */
import { getRandomValues } from "node:crypto";

/** What the host needs from the thread it runs on. */
export interface HostIo {
  /** Starts an outgoing request (on the main thread); its answer arrives through `wait`. */
  send(id: number, req: OutgoingWire): void;
  /** Blocks until something arrives for this thread or `ms` passes; delivers answers with `deliver`. */
  wait(ms: number): void;
  /** A log line of the component (stdout: info, stderr: error). */
  log(level: "info" | "error", line: string): void;
  /** performance.now() by which the invocation must end; a wait past it throws `Deadline`. */
  deadline(): number;
  /** Largest response body the function may answer with (limits.responseBody). */
  maxResponseBytes: number;
}

/** An outgoing request as it crosses to the main thread. */
export interface OutgoingWire {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array;
}

/** Its answer. `error`: a wasi:http error-code tag and a sentence. */
export interface IncomingWire {
  status?: number;
  headers?: [string, string][];
  body?: Uint8Array;
  error?: { tag: string; message: string };
}

/** Thrown out of a wait that ran past the invocation's deadline. */
export class Deadline extends Error {
  override readonly name = "Deadline";
}

/** Thrown by wasi:cli/exit. */
export class ComponentExit extends Error {
  override readonly name = "ComponentExit";
  constructor(readonly code: number) { super(`the component exited with status ${code}`); }
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const EMPTY = new Uint8Array(0);
const err = (payload: unknown) => ({ payload });
const closed = () => err({ tag: "closed" });

// ---------------------------------------------------------------- io

class IoError {
  constructor(private readonly msg: string) {}
  toDebugString(): string { return this.msg; }
}

/** A pollable is ready when its test says so; `at` (ns, monotonic) for timers. */
export class Pollable {
  constructor(readonly test: () => boolean, readonly at: bigint | null = null) {}
  ready(): boolean { return this.test(); }
  block(): void { poll([this]); }
}

const READY = () => true;

let host: HostIo;

/** wasi:io/poll.poll: the indexes of the ready pollables, waiting until there is one. */
function poll(list: Pollable[]): Uint32Array {
  if (list.length === 0) throw new Error("wasi:io/poll.poll called with an empty list");
  for (;;) {
    const ready: number[] = [];
    let next: bigint | null = null;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (p.test()) ready.push(i);
      else if (p.at !== null && (next === null || p.at < next)) next = p.at;
    }
    if (ready.length > 0) return Uint32Array.from(ready);
    const left = host.deadline() - performance.now();
    if (left <= 0) throw new Deadline("the component waited past its deadline");
    const timerMs = next === null ? Infinity : Number(next - monoNow()) / 1e6;
    host.wait(Math.max(0, Math.min(left, timerMs)));
  }
}

/** Bytes read by the guest from a buffer (a request or response body). */
export class InputStream {
  private off = 0;
  constructor(private readonly bytes: Uint8Array) {}
  read(len: bigint): Uint8Array {
    if (this.off >= this.bytes.length) throw closed();
    const n = Math.min(Number(len), this.bytes.length - this.off);
    const out = this.bytes.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }
  blockingRead(len: bigint): Uint8Array { return this.read(len); }
  skip(len: bigint): bigint {
    if (this.off >= this.bytes.length) throw closed();
    const n = Math.min(Number(len), this.bytes.length - this.off);
    this.off += n;
    return BigInt(n);
  }
  blockingSkip(len: bigint): bigint { return this.skip(len); }
  subscribe(): Pollable { return new Pollable(READY); }
  /** What is left, at once (splice). */
  rest(): Uint8Array {
    const out = this.bytes.subarray(this.off);
    this.off = this.bytes.length;
    return out;
  }
}

/** Where an output stream's bytes go. */
interface Sink {
  write(b: Uint8Array): void;
  /** Bytes it still takes (check-write); Infinity when unbounded. */
  room(): number;
}

const MAX_CHECK_WRITE = 1 << 20;

/** Set when the response body outgrew limits.responseBody during this request (handleRequest reads it). */
let responseOverLimit = false;

export class OutputStream {
  closedBy: string | null = null;
  constructor(private readonly sink: Sink, private readonly isResponse = false) {}
  checkWrite(): bigint {
    if (this.closedBy) throw closed();
    return BigInt(Math.max(0, Math.min(MAX_CHECK_WRITE, this.sink.room())));
  }
  write(contents: Uint8Array): void {
    if (this.closedBy) throw closed();
    if (contents.length > this.sink.room()) {
      this.closedBy = "limit";
      if (this.isResponse) responseOverLimit = true;
      throw err({ tag: "last-operation-failed", val: new IoError("the body is larger than the function's limit (limits.responseBody)") });
    }
    this.sink.write(contents);
  }
  blockingWriteAndFlush(contents: Uint8Array): void { this.write(contents); }
  flush(): void { if (this.closedBy) throw closed(); }
  blockingFlush(): void { this.flush(); }
  subscribe(): Pollable { return new Pollable(READY); }
  writeZeroes(len: bigint): void { this.write(new Uint8Array(Number(len))); }
  blockingWriteZeroesAndFlush(len: bigint): void { this.writeZeroes(len); }
  splice(src: InputStream, len: bigint): bigint {
    const b = src.read(len);
    this.write(b);
    return BigInt(b.length);
  }
  blockingSplice(src: InputStream, len: bigint): bigint { return this.splice(src, len); }
}

/** A growing byte buffer with a cap. */
class Buf implements Sink {
  private parts: Uint8Array[] = [];
  size = 0;
  constructor(private readonly cap: number) {}
  write(b: Uint8Array): void { this.parts.push(b.slice()); this.size += b.length; }
  room(): number { return this.cap - this.size; }
  bytes(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

/**
 * stdout / stderr into the function's log: one record per write that ends a line (console.log's
 * message, a stack trace and all, is one record); a write without a newline waits for the rest.
 * A record longer than MAX_LINE is cut into pieces.
 */
const MAX_LINE = 16 * 1024;
class LogSink implements Sink {
  private pending = "";
  constructor(private readonly level: "info" | "error") {}
  write(b: Uint8Array): void {
    const s = this.pending + dec.decode(b, { stream: true });
    const end = s.lastIndexOf("\n");
    if (end < 0) {
      this.pending = s;
      while (this.pending.length > MAX_LINE) { host.log(this.level, this.pending.slice(0, MAX_LINE)); this.pending = this.pending.slice(MAX_LINE); }
      return;
    }
    this.pending = s.slice(end + 1);
    this.emit(s.slice(0, end));
  }
  private emit(s: string): void {
    for (let i = 0; i < s.length || i === 0; i += MAX_LINE) host.log(this.level, s.slice(i, i + MAX_LINE));
  }
  room(): number { return Infinity; }
  flush(): void { if (this.pending) { this.emit(this.pending); this.pending = ""; } }
}

// ---------------------------------------------------------------- clocks, random

const monoNow = (): bigint => process.hrtime.bigint();

// ---------------------------------------------------------------- http

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Hop-by-hop and framing headers the host owns (as wasmtime refuses them). */
const FORBIDDEN = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings", "te"]);

export class Fields {
  /** [lower-cased name, value] in order. */
  list: [string, Uint8Array][] = [];
  immutable = false;
  static fromList(entries: [string, Uint8Array][]): Fields {
    const f = new Fields();
    for (const [k, v] of entries) {
      f.check(k, v);
      f.list.push([k.toLowerCase(), v.slice()]);
    }
    return f;
  }
  private check(name: string, value?: Uint8Array): void {
    if (!TOKEN.test(name)) throw err({ tag: "invalid-syntax" });
    if (FORBIDDEN.has(name.toLowerCase())) throw err({ tag: "forbidden" });
    if (value) for (const c of value) if (c === 0 || c === 10 || c === 13) throw err({ tag: "invalid-syntax" });
  }
  private mutable(): void { if (this.immutable) throw err({ tag: "immutable" }); }
  get(name: string): Uint8Array[] {
    const n = name.toLowerCase();
    return this.list.filter(([k]) => k === n).map(([, v]) => v.slice());
  }
  has(name: string): boolean { const n = name.toLowerCase(); return this.list.some(([k]) => k === n); }
  set(name: string, values: Uint8Array[]): void {
    this.mutable();
    this.check(name);
    for (const v of values) this.check(name, v);
    const n = name.toLowerCase();
    this.list = this.list.filter(([k]) => k !== n);
    for (const v of values) this.list.push([n, v.slice()]);
  }
  delete(name: string): void {
    this.mutable();
    this.check(name);
    const n = name.toLowerCase();
    this.list = this.list.filter(([k]) => k !== n);
  }
  append(name: string, value: Uint8Array): void {
    this.mutable();
    this.check(name, value);
    this.list.push([name.toLowerCase(), value.slice()]);
  }
  entries(): [string, Uint8Array][] { return this.list.map(([k, v]) => [k, v.slice()]); }
  clone(): Fields { const f = new Fields(); f.list = this.entries(); return f; }
  /** As strings, for the wire. */
  strings(): [string, string][] { return this.list.map(([k, v]) => [k, dec.decode(v)]); }
  static frozen(pairs: [string, string][]): Fields {
    const f = new Fields();
    for (const [k, v] of pairs) if (TOKEN.test(k)) f.list.push([k.toLowerCase(), enc.encode(v)]);
    f.immutable = true;
    return f;
  }
}

type Method = { tag: string; val?: string };
const METHODS = new Set(["get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"]);
const toMethod = (m: string): Method => (METHODS.has(m.toLowerCase()) ? { tag: m.toLowerCase() } : { tag: "other", val: m });
const fromMethod = (m: Method): string => (m.tag === "other" ? m.val ?? "" : m.tag.toUpperCase());

class FutureTrailers {
  private taken = false;
  subscribe(): Pollable { return new Pollable(READY); }
  get(): unknown {
    if (this.taken) return { tag: "err", val: undefined };
    this.taken = true;
    return { tag: "ok", val: { tag: "ok", val: undefined } };
  }
}

export class IncomingBody {
  private streamed = false;
  constructor(private readonly bytes: Uint8Array) {}
  stream(): InputStream {
    if (this.streamed) throw err(undefined);
    this.streamed = true;
    return new InputStream(this.bytes);
  }
  static finish(_b: IncomingBody): FutureTrailers { return new FutureTrailers(); }
}

export class IncomingRequest {
  private consumed = false;
  private readonly fields: Fields;
  constructor(private readonly m: string, private readonly path: string, private readonly auth: string, headers: [string, string][], private readonly bodyBytes: Uint8Array) {
    this.fields = Fields.frozen(headers);
  }
  method(): Method { return toMethod(this.m); }
  pathWithQuery(): string | undefined { return this.path; }
  scheme(): unknown { return { tag: "HTTP" }; }
  authority(): string | undefined { return this.auth; }
  headers(): Fields { return this.fields; }
  consume(): IncomingBody {
    if (this.consumed) throw err(undefined);
    this.consumed = true;
    return new IncomingBody(this.bodyBytes);
  }
}

export class OutgoingBody {
  readonly buf: Buf;
  private written = false;
  finished = false;
  constructor(cap: number, private readonly isResponse = false) { this.buf = new Buf(cap); }
  write(): OutputStream {
    if (this.written) throw err(undefined);
    this.written = true;
    return new OutputStream(this.buf, this.isResponse);
  }
  static finish(b: OutgoingBody, _trailers: Fields | undefined): void {
    if (b.finished) throw err({ tag: "internal-error", val: "the body was finished twice" });
    b.finished = true;
    b.onFinish?.();
  }
  onFinish: (() => void) | null = null;
}

export class OutgoingResponse {
  private status = 200;
  private readonly fields: Fields;
  private bodyRes: OutgoingBody | null = null;
  constructor(headers: Fields) { this.fields = headers; headers.immutable = true; }
  statusCode(): number { return this.status; }
  setStatusCode(s: number): void {
    if (!Number.isInteger(s) || s < 100 || s > 999) throw err(undefined);
    this.status = s;
  }
  headers(): Fields { return this.fields; }
  body(): OutgoingBody {
    if (this.bodyRes) throw err(undefined);
    return (this.bodyRes = new OutgoingBody(host.maxResponseBytes, true));
  }
  /** What the host answers the client. */
  answer(): { status: number; headers: [string, string][]; body: Uint8Array; finished: boolean } {
    return { status: this.status, headers: this.fields.strings(), body: this.bodyRes?.buf.bytes() ?? EMPTY, finished: this.bodyRes?.finished ?? true };
  }
}

/** Where `ResponseOutparam.set` puts the guest's answer. */
export class ResponseOutparam {
  result: { tag: "ok"; val: OutgoingResponse } | { tag: "err"; val: { tag: string; val?: unknown } } | null = null;
  static set(p: ResponseOutparam, r: ResponseOutparam["result"]): void {
    if (p.result) throw new Error("response-outparam.set called twice");
    p.result = r;
  }
}

class RequestOptions {
  private t: (bigint | undefined)[] = [undefined, undefined, undefined];
  connectTimeout(): bigint | undefined { return this.t[0]; }
  setConnectTimeout(d: bigint | undefined): void { this.t[0] = d; }
  firstByteTimeout(): bigint | undefined { return this.t[1]; }
  setFirstByteTimeout(d: bigint | undefined): void { this.t[1] = d; }
  betweenBytesTimeout(): bigint | undefined { return this.t[2]; }
  setBetweenBytesTimeout(d: bigint | undefined): void { this.t[2] = d; }
}

/** Outgoing request bodies: the same cap as a response (the capability layer has its own too). */
export class OutgoingRequest {
  private m: Method = { tag: "get" };
  private path: string | undefined = undefined;
  private sch: { tag: string; val?: string } | undefined = undefined;
  private auth: string | undefined = undefined;
  private readonly fields: Fields;
  bodyRes: OutgoingBody | null = null;
  constructor(headers: Fields) { this.fields = headers; headers.immutable = true; }
  body(): OutgoingBody {
    if (this.bodyRes) throw err(undefined);
    return (this.bodyRes = new OutgoingBody(host.maxResponseBytes));
  }
  method(): Method { return this.m; }
  setMethod(m: Method): void {
    if (m.tag === "other" && !TOKEN.test(m.val ?? "")) throw err(undefined);
    this.m = m;
  }
  pathWithQuery(): string | undefined { return this.path; }
  setPathWithQuery(p: string | undefined): void { this.path = p; }
  scheme(): unknown { return this.sch; }
  setScheme(s: { tag: string; val?: string } | undefined): void { this.sch = s; }
  authority(): string | undefined { return this.auth; }
  setAuthority(a: string | undefined): void {
    if (a !== undefined && /[\s/?#@]/.test(a)) throw err(undefined);
    this.auth = a;
  }
  headers(): Fields { return this.fields; }
  wire(): OutgoingWire {
    const scheme = this.sch === undefined || this.sch.tag === "HTTP" ? "http" : this.sch.tag === "HTTPS" ? "https" : this.sch.val ?? "http";
    return { method: fromMethod(this.m), url: `${scheme}://${this.auth ?? ""}${this.path ?? "/"}`, headers: this.fields.strings(), body: this.bodyRes?.buf.bytes() ?? EMPTY };
  }
}

export class IncomingResponse {
  private consumed = false;
  private readonly fields: Fields;
  constructor(private readonly s: number, headers: [string, string][], private readonly bytes: Uint8Array) { this.fields = Fields.frozen(headers); }
  status(): number { return this.s; }
  headers(): Fields { return this.fields; }
  consume(): IncomingBody {
    if (this.consumed) throw err(undefined);
    this.consumed = true;
    return new IncomingBody(this.bytes);
  }
}

/** Answers of outgoing requests by id, filled by `deliver`. */
const answers = new Map<number, IncomingWire>();
let nextId = 1;

export class FutureIncomingResponse {
  private taken = false;
  private sent = false;
  constructor(private readonly id: number, private readonly req: OutgoingRequest) {
    const body = req.bodyRes;
    // Sent once its body is finished (or at once when it has none): a guest may call handle first
    // and stream the body after (wasi:http allows both orders).
    if (!body) this.send();
    else if (body.finished) this.send();
    else body.onFinish = () => this.send();
  }
  private send(): void {
    if (this.sent) return;
    this.sent = true;
    host.send(this.id, this.req.wire());
  }
  subscribe(): Pollable {
    return new Pollable(() => { this.send(); return answers.has(this.id) || this.taken; });
  }
  get(): unknown {
    if (this.taken) return { tag: "err", val: undefined };
    const a = answers.get(this.id);
    if (!a) return undefined;
    this.taken = true;
    answers.delete(this.id);
    if (a.error) return { tag: "ok", val: { tag: "err", val: errorCode(a.error) } };
    return { tag: "ok", val: { tag: "ok", val: new IncomingResponse(a.status ?? 502, a.headers ?? [], a.body ?? EMPTY) } };
  }
}

function errorCode(e: { tag: string; message: string }): { tag: string; val?: unknown } {
  switch (e.tag) {
    case "HTTP-request-denied": case "connection-refused": case "connection-timeout": case "destination-not-found":
    case "destination-IP-prohibited": case "HTTP-response-timeout": case "connection-terminated":
      return { tag: e.tag };
    case "HTTP-response-body-size": return { tag: e.tag, val: undefined };
    default: return { tag: "internal-error", val: e.message };
  }
}

/** The main thread's answer to an outgoing request (called by the thread's `wait`). */
export function deliver(id: number, a: IncomingWire): void { answers.set(id, a); }

// ---------------------------------------------------------------- the import object

/** Interfaces that exist only to be denied: a component may import them and never gets anything through them. */
function denied(what: string): Record<string, unknown> {
  const fail = () => { throw err(what.startsWith("wasi:sockets") ? "access-denied" : "access"); };
  return new Proxy({}, {
    get(_t, key) {
      if (typeof key !== "string") return undefined;
      if (key === "getDirectories") return () => [];
      if (key === "filesystemErrorCode") return () => undefined;
      // Classes (instanceof checks in the bindings) and functions alike: calling one fails with access denied.
      return class Denied { constructor() { fail(); } static [Symbol.hasInstance]() { return false; } };
    },
  });
}

export interface P2Options {
  io: HostIo;
  /** wasi:cli/environment's variables (the function's config, never the shim's own). */
  env: [string, string][];
}

/** The interfaces this host implements, by name without version (jco's import keys). */
export const PROVIDED = [
  "wasi:io/error", "wasi:io/poll", "wasi:io/streams",
  "wasi:clocks/monotonic-clock", "wasi:clocks/wall-clock",
  "wasi:random/random", "wasi:random/insecure", "wasi:random/insecure-seed",
  "wasi:cli/stdout", "wasi:cli/stderr", "wasi:cli/stdin", "wasi:cli/environment", "wasi:cli/exit",
  "wasi:cli/terminal-input", "wasi:cli/terminal-output", "wasi:cli/terminal-stdin", "wasi:cli/terminal-stdout", "wasi:cli/terminal-stderr",
  "wasi:http/types", "wasi:http/outgoing-handler",
  "wasi:filesystem/preopens", "wasi:filesystem/types",
  "wasi:sockets/network", "wasi:sockets/instance-network", "wasi:sockets/tcp", "wasi:sockets/tcp-create-socket",
  "wasi:sockets/udp", "wasi:sockets/udp-create-socket", "wasi:sockets/ip-name-lookup",
] as const;

/** The import object for jco's `instantiate` (keys as jco names them: package/interface, no version). */
export function p2Imports(opts: P2Options): { imports: Record<string, unknown>; flush(): void } {
  host = opts.io;
  const stdout = new LogSink("info");
  const stderr = new LogSink("error");
  const outStream = new OutputStream(stdout);
  const errStream = new OutputStream(stderr);
  const randomBytes = (len: bigint): Uint8Array => {
    const n = Number(len);
    if (n > 1 << 24) throw new Error(`get-random-bytes asked for ${n} bytes`);
    const out = new Uint8Array(n);
    for (let o = 0; o < n; o += 65536) getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
    return out;
  };
  const u64 = (): bigint => new BigUint64Array(randomBytes(8n).buffer)[0]!;
  class TerminalInput {}
  class TerminalOutput {}
  const imports: Record<string, unknown> = {
    "wasi:io/error": { Error: IoError },
    "wasi:io/poll": { Pollable, poll },
    "wasi:io/streams": { InputStream, OutputStream },
    "wasi:clocks/monotonic-clock": {
      now: monoNow,
      resolution: () => 1n,
      subscribeInstant: (when: bigint) => new Pollable(() => monoNow() >= when, when),
      subscribeDuration: (d: bigint) => { const when = monoNow() + d; return new Pollable(() => monoNow() >= when, when); },
    },
    "wasi:clocks/wall-clock": {
      now: () => { const ms = Date.now(); return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1e6 }; },
      resolution: () => ({ seconds: 0n, nanoseconds: 1e6 }),
    },
    "wasi:random/random": { getRandomBytes: randomBytes, getRandomU64: u64 },
    "wasi:random/insecure": { getInsecureRandomBytes: randomBytes, getInsecureRandomU64: u64 },
    "wasi:random/insecure-seed": { insecureSeed: () => [u64(), u64()] },
    "wasi:cli/stdout": { getStdout: () => outStream },
    "wasi:cli/stderr": { getStderr: () => errStream },
    "wasi:cli/stdin": { getStdin: () => new InputStream(EMPTY) },
    "wasi:cli/environment": { getEnvironment: () => opts.env.map(([k, v]) => [k, v]), getArguments: () => [], initialCwd: () => undefined },
    "wasi:cli/exit": { exit: (r: { tag: string }) => { throw new ComponentExit(r.tag === "ok" ? 0 : 1); }, exitWithCode: (c: number) => { throw new ComponentExit(c); } },
    "wasi:cli/terminal-input": { TerminalInput },
    "wasi:cli/terminal-output": { TerminalOutput },
    "wasi:cli/terminal-stdin": { getTerminalStdin: () => undefined },
    "wasi:cli/terminal-stdout": { getTerminalStdout: () => undefined },
    "wasi:cli/terminal-stderr": { getTerminalStderr: () => undefined },
    "wasi:http/types": {
      Fields, FutureIncomingResponse, FutureTrailers, IncomingBody, IncomingRequest, IncomingResponse,
      OutgoingBody, OutgoingRequest, OutgoingResponse, RequestOptions, ResponseOutparam,
      httpErrorCode: () => undefined,
    },
    "wasi:http/outgoing-handler": {
      handle: (req: OutgoingRequest, _o: RequestOptions | undefined) => new FutureIncomingResponse(nextId++, req),
    },
  };
  for (const name of PROVIDED) if (!(name in imports)) imports[name] = denied(name);
  return { imports, flush: () => { stdout.flush(); stderr.flush(); } };
}

/** Runs `handle` for one request and returns the component's answer. */
export function handleRequest(
  handler: { handle(req: IncomingRequest, out: ResponseOutparam): void },
  req: { method: string; path: string; authority: string; headers: [string, string][]; body: Uint8Array },
): { status: number; headers: [string, string][]; body: Uint8Array } {
  const out = new ResponseOutparam();
  responseOverLimit = false;
  let trapped = false;
  try {
    handler.handle(new IncomingRequest(req.method, req.path, req.authority, req.headers, req.body), out);
  } catch (e) {
    // A write past the limit fails in the guest, which may give up with a trap: the limit is the reason.
    if (!responseOverLimit) throw e;
    trapped = true;
  }
  if (responseOverLimit) throw new ResponseTooLarge(`the component wrote a response body over its limit of ${host.maxResponseBytes} bytes; raise limits.responseBody`, trapped);
  const r = out.result;
  if (r === null) throw new ComponentAnswer("the component returned from wasi:http/incoming-handler.handle without setting a response (response-outparam.set)");
  if (r.tag === "err") throw new ComponentAnswer(`the component answered with the error ${r.val.tag}${r.val.val !== undefined ? ` (${String(r.val.val)})` : ""}`);
  const a = r.val.answer();
  if (!a.finished) throw new ComponentAnswer("the component set a response but did not finish its body (outgoing-body.finish)");
  let size = a.body.length;
  for (const [k, v] of a.headers) size += k.length + v.length + 4;
  if (a.headers.length > MAX_RESPONSE_HEADERS || size > host.maxResponseBytes) {
    throw new ResponseTooLarge(`the component answered with headers over its limits (at most ${MAX_RESPONSE_HEADERS} headers, counted with the body against limits.responseBody of ${host.maxResponseBytes} bytes)`);
  }
  return a;
}

/** Headers a response may carry (as for core modules). */
const MAX_RESPONSE_HEADERS = 100;

/** The response outgrew limits.responseBody. */
export class ResponseTooLarge extends Error {
  override readonly name = "ResponseTooLarge";
  /** The guest trapped on it: its instance cannot be used again. */
  constructor(message: string, readonly trapped = false) { super(message); }
}

/** The component's answer is not one to pass on. */
export class ComponentAnswer extends Error {
  override readonly name = "ComponentAnswer";
}
