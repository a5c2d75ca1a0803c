/**
 * Small real HTTP servers the Dapr suites point components at: a recorder that plays a Dapr app
 * (subscriptions, deliveries), an HTTP binding target and an invocation target. Loopback, port 0.
 *
 * @example const rec = await startRecorder({ subscriptions: [{ pubsubname: "pubsub", topic: "t", route: "/events" }] });
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DeliveredEvent } from "../../runtime-shim/dist/capabilities/backend.js";
import { parseCloudEvent } from "../../runtime-shim/dist/gateway/dapr-app.js";

export interface Recorded { method: string; url: string; body: string; headers: IncomingMessage["headers"] }

export interface Recorder {
  port: number;
  url: string;
  /** Every request, in arrival order. */
  requests: Recorded[];
  /** Events posted to /events (parsed CloudEvents). */
  events: DeliveredEvent[];
  /** Resolves with the next event posted to /events. */
  nextEvent(): Promise<DeliveredEvent>;
  /** Resolves when `pred` holds for the recorded requests (polls; rejects after timeoutMs). */
  waitFor(pred: (r: Recorded[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Answers: GET /dapr/subscribe (the given subscriptions), POST /events (records, SUCCESS),
 * /sink* ("sink ok"), /echo ("echo " + body), /teapot (418), anything else 404.
 */
export async function startRecorder(opts: { subscriptions?: unknown[] } = {}): Promise<Recorder> {
  const requests: Recorded[] = [];
  const events: DeliveredEvent[] = [];
  const waiters: ((e: DeliveredEvent) => void)[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? "/").split("?")[0]!;
      requests.push({ method: req.method ?? "", url: req.url ?? "", body: body.toString("utf8"), headers: req.headers });
      const send = (status: number, text: string, type = "text/plain") => { res.writeHead(status, { "content-type": type }); res.end(text); };
      if (path === "/dapr/subscribe") return send(200, JSON.stringify(opts.subscriptions ?? []), "application/json");
      if (path === "/events") {
        const ev = parseCloudEvent(body, String(req.headers["content-type"] ?? ""), "", "");
        events.push(ev);
        const w = waiters.shift();
        if (w) w(ev);
        return send(200, JSON.stringify({ status: "SUCCESS" }), "application/json");
      }
      if (path.startsWith("/sink") || path.startsWith("/hook")) return send(200, "sink ok");
      if (path === "/echo") return send(200, `echo ${body.toString("utf8")}`);
      if (path === "/teapot") return send(418, "short and stout");
      send(404, "not found");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port, url: `http://127.0.0.1:${port}`, requests, events,
    nextEvent: () => new Promise((r) => waiters.push(r)),
    async waitFor(pred, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(requests)) {
        if (Date.now() > deadline) throw new Error(`recorder: condition not met in ${timeoutMs} ms; ${requests.length} requests: ${requests.slice(-5).map((r) => `${r.method} ${r.url}`).join(", ")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** Polls `fn` until it returns a value other than undefined (or throws after timeoutMs). */
export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Builds a function with the real CLI unless its dist/<name>.wasm is newer than its sources and
 * the SDK. A lock directory keeps two test files from building the same function at once.
 */
export async function ensureBuilt(dir: string): Promise<void> {
  const { cli, ROOT } = await import("./cli.js");
  const fs = await import("node:fs");
  const path = await import("node:path");
  const abs = path.resolve(ROOT, dir);
  const lock = path.join(abs, ".build-lock");
  const newest = (p: string): number => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return 0;
    if (!st.isDirectory()) return st.mtimeMs;
    return Math.max(0, ...fs.readdirSync(p).map((n) => newest(path.join(p, n))));
  };
  const name = /^name:\s*(\S+)/m.exec(fs.readFileSync(path.join(abs, "wasm-fn.yaml"), "utf8"))?.[1] ?? path.basename(abs);
  const wasm = path.join(abs, "dist", `${name}.wasm`);
  // C functions: their .c/.h files beside wasm-fn.yaml and the SDK's headers.
  const cSources = () => Math.max(0, ...fs.readdirSync(abs).filter((n) => /\.[ch]$/.test(n)).map((n) => newest(path.join(abs, n))), newest(path.join(ROOT, "packages", "sdk", "include")));
  const fresh = () => newest(wasm) > Math.max(newest(path.join(abs, "assembly")), newest(path.join(abs, "wasm-fn.yaml")), newest(path.join(ROOT, "packages", "sdk", "assembly")), cSources(), newest(path.join(ROOT, "packages", "build", "adapter")), newest(path.join(ROOT, "packages", "build", "src", "instrument.ts")));
  for (let i = 0; ; i++) {
    if (fresh()) return;
    try { fs.mkdirSync(lock); break; } catch {
      if (i > 1200) throw new Error(`${lock} held for 2 minutes; remove it if no build is running`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    if (fresh()) return;
    // A build takes seconds; on a 2-core machine under full load it took over the CLI helper's 2 min once.
    const r = await cli(["build", abs, "--no-image"], { timeoutMs: 600_000 });
    if (r.code !== 0) throw new Error(`wasm-fn build ${dir} failed:\n${r.stderr}`);
  } finally {
    fs.rmdirSync(lock);
  }
}
