/**
 * The worker thread that runs one instance of a `wasi:http/proxy` component (runner.ts is the main
 * thread's side). The component is jco's transpiled JS (transpile.ts) with the core modules the
 * main thread compiled once; the WASI host is wasi-p2.ts. One instance answers one request at a
 * time and is kept for the next (a component that must not be reused is written so: docs/runtime.md).
 *
 * Waiting is synchronous: the thread blocks on a shared counter (Atomics.wait) that the main
 * thread bumps after posting an answer on `answers`, read with receiveMessageOnPort.
 */
import { pathToFileURL } from "node:url";
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import { ComponentAnswer, ComponentExit, Deadline, deliver, handleRequest, p2Imports, ResponseTooLarge, type IncomingWire, type OutgoingWire } from "./wasi-p2.js";

export interface ComponentWorkerInit {
  /** The transpiled JS (an ES module exporting `instantiate`). */
  jsPath: string;
  /** Core modules by the file name jco gave them. */
  modules: Record<string, WebAssembly.Module>;
  /** The export that handles requests (jco's name for wasi:http/incoming-handler@0.2.x). */
  handlerExport: string;
  env: [string, string][];
  maxResponseBytes: number;
  /** Log lines one request may post before the rest are counted, not sent. */
  maxLogLines: number;
  signal: SharedArrayBuffer;
  answers: MessagePort;
}

/** `notAfter` (epoch ms): the request's deadline; one still queued by then is skipped (its caller had its 504). */
export type ToComponentWorker = { t: "invoke"; job: number; notAfter: number; req: WireRequest };

export interface WireRequest { method: string; path: string; authority: string; headers: [string, string][]; body: Uint8Array }

export type FromComponentWorker =
  | { t: "ready"; ms: number }
  /** `memory`: bytes of the component's linear memory after the request (it never shrinks). */
  | { t: "done"; job: number; status: number; headers: [string, string][]; body: Uint8Array; dropped: number; memory: number }
  | { t: "fail"; job: number; kind: "trap" | "deadline" | "exit" | "answer" | "toolarge" | "late"; message: string; dropped: number; broken: boolean }
  | { t: "fetch"; job: number; id: number; req: OutgoingWire }
  | { t: "log"; job: number; level: "info" | "error"; line: string };

/** The answer the main thread posts on `answers`. */
export interface AnswerMessage { id: number; answer: IncomingWire }

const port = parentPort!;
/** A spare thread (started before it had a component: runner.ts) gets its init as its first message. */
const init: ComponentWorkerInit = (workerData as ComponentWorkerInit | null) ?? await new Promise<ComponentWorkerInit>((resolve) => {
  port.once("message", (m: { t: "init"; init: ComponentWorkerInit }) => resolve(m.init));
});
const flag = new Int32Array(init.signal);
let job = 0;
let deadline = 0;
let lines = 0;
let dropped = 0;

function drain(): number {
  let n = 0;
  for (let m = receiveMessageOnPort(init.answers); m; m = receiveMessageOnPort(init.answers)) {
    const a = m.message as AnswerMessage;
    deliver(a.id, a.answer);
    n++;
  }
  return n;
}

const t0 = performance.now();
const { imports, flush } = p2Imports({
  env: init.env,
  io: {
    maxResponseBytes: init.maxResponseBytes,
    deadline: () => deadline,
    send: (id, req) => port.postMessage({ t: "fetch", job, id, req } satisfies FromComponentWorker),
    wait: (ms) => {
      const seen = Atomics.load(flag, 0);
      if (drain() > 0) return;
      Atomics.wait(flag, 0, seen, Number.isFinite(ms) ? ms : undefined);
      drain();
    },
    log: (level, line) => {
      if (lines >= init.maxLogLines) { dropped++; return; }
      lines++;
      port.postMessage({ t: "log", job, level, line } satisfies FromComponentWorker);
    },
  },
});
const mod = (await import(pathToFileURL(init.jsPath).href)) as { instantiate(get: (name: string) => WebAssembly.Module, imports: Record<string, unknown>): Record<string, unknown> };
/** The linear memories of the component's core instances: their size after a request says how close it came to limits.memory. */
const memories: WebAssembly.Memory[] = [];
const exportsObj = (mod.instantiate as (g: unknown, i: unknown, c: unknown) => Record<string, unknown>)((name: string) => {
  const m = init.modules[name];
  if (!m) throw new Error(`the transpiled component asks for a core module ${name} it was not given`);
  return m;
}, imports, (m: WebAssembly.Module, imp: WebAssembly.Imports) => {
  const inst = new WebAssembly.Instance(m, imp);
  for (const v of Object.values(inst.exports)) if (v instanceof WebAssembly.Memory) memories.push(v);
  return inst;
});
const memoryBytes = () => memories.reduce((n, m) => Math.max(n, m.buffer.byteLength), 0);
const handler = exportsObj[init.handlerExport] as { handle(req: unknown, out: unknown): void } | undefined;
if (!handler || typeof handler.handle !== "function") throw new Error(`the component has no ${init.handlerExport}.handle export`);
port.postMessage({ t: "ready", ms: performance.now() - t0 } satisfies FromComponentWorker);

port.on("message", (m: ToComponentWorker) => {
  if (m.t !== "invoke") return;
  job = m.job;
  const left = m.notAfter - Date.now();
  if (left <= 0) {
    port.postMessage({ t: "fail", job, kind: "late", message: "its deadline passed while it waited", dropped: 0, broken: false } satisfies FromComponentWorker);
    return;
  }
  deadline = performance.now() + left;
  lines = 0;
  dropped = 0;
  try {
    const r = handleRequest(handler as never, m.req);
    flush();
    port.postMessage({ t: "done", job, status: r.status, headers: r.headers, body: r.body, dropped, memory: memoryBytes() } satisfies FromComponentWorker, r.body.byteLength > 0 && r.body.buffer.byteLength === r.body.byteLength ? [r.body.buffer as ArrayBuffer] : []);
  } catch (e) {
    flush();
    const broken = !(e instanceof ComponentAnswer) && !(e instanceof ResponseTooLarge && !e.trapped);
    const kind = e instanceof Deadline ? "deadline" : e instanceof ComponentExit ? "exit" : e instanceof ComponentAnswer ? "answer" : e instanceof ResponseTooLarge ? "toolarge" : "trap";
    port.postMessage({ t: "fail", job, kind, message: e instanceof Error ? e.message : String(e), dropped, broken } satisfies FromComponentWorker);
  }
});
