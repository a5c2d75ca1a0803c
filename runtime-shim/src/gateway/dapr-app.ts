import type { IncomingMessage, ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { isWfnError, Outcome } from "@wasm-fn/abi";
import { eventInputs, isPubsubOutput, topicRoute, TOPIC_ROUTE_PREFIX } from "@wasm-fn/build/config";
import type { Backend, DeliveredEvent, DeliveryStatus, LocalBus } from "../capabilities/backend.js";
import type { LocalApps } from "../capabilities/invoke/index.js";
import type { ServedFunction } from "../function.js";
import type { EventAttributes } from "../instance/invocation.js";
import type { Logger } from "../logger.js";
import { fromDaprd, readBody, sendJson } from "./http-util.js";
import { withRetries, type RetryOutcome } from "./retry.js";
import type { ExtraRoute } from "./server.js";

/** What `GET /dapr/subscribe` lists (Dapr's programmatic subscription, v1). */
export interface DaprSubscription { pubsubname: string; topic: string; route: string; metadata?: Record<string, string>; deadLetterTopic?: string }

interface DeliverOptions {
  /** Ends waits between retries (the shim is closing): the delivery answers RETRY. */
  signal?: AbortSignal;
  /** The subscription's, named in the log when retries run out (daprd or the bus moves the event). */
  deadLetterTopic?: string;
}

interface TopicSub { pubsub: string; topic: string; metadata: Record<string, string>; deadLetterTopic?: string; fns: ServedFunction[] }

const MAX_EVENT_BYTES = 16 * 1024 * 1024;

/**
 * The shim as a Dapr *app*: it answers daprd's `GET /dapr/subscribe`, takes deliveries on one route
 * per (pubsub, topic) and on `/<binding>` for input bindings, runs each delivery as one invocation
 * of every function subscribed, sends return values to the function's outputs, and only then
 * answers daprd (so nothing is acknowledged before the function finished: at-least-once).
 * A function that asks to retry, traps, times out or whose outputs fail is tried again under its
 * `retry:` policy (retry.ts), inside the delivery, as Dapr's resiliency policies do. Answers:
 * SUCCESS; DROP when a function's retries ran out or every function asked to drop (daprd, or the
 * embedded bus, then moves the event to the subscription's deadLetterTopic); RETRY only when the
 * shim is closing. With the embedded backend the same deliveries arrive from its in-process bus.
 *
 * @example const app = new DaprApp(shim.functions, backend, log); shim.gateway.use(app.route);
 */
export class DaprApp {
  private readonly topics = new Map<string, TopicSub>();
  private readonly bindings = new Map<string, ServedFunction[]>();

  constructor(functions: readonly ServedFunction[], private readonly backend: Backend, private readonly log: Logger) {
    for (const fn of functions) {
      for (const input of eventInputs(fn.config)) {
        if (input.kind === "binding") {
          const list = this.bindings.get(input.name) ?? [];
          this.bindings.set(input.name, [...list, fn]);
          continue;
        }
        const key = topicRoute(input.name, input.topic);
        const t: TopicSub = this.topics.get(key) ?? { pubsub: input.name, topic: input.topic, metadata: {}, fns: [] };
        Object.assign(t.metadata, input.metadata);
        if (input.deadLetterTopic) {
          // One subscription per (pubsub, topic), so one dead-letter topic for all its functions.
          if (t.deadLetterTopic && t.deadLetterTopic !== input.deadLetterTopic) {
            throw new Error(`${fn.name}: input ${input.name}/${input.topic} names deadLetterTopic '${input.deadLetterTopic}', but ${t.fns.map((f) => f.name).join(", ")} on the same topic name '${t.deadLetterTopic}'; use one dead-letter topic per topic`);
          }
          t.deadLetterTopic = input.deadLetterTopic;
        }
        t.fns.push(fn);
        this.topics.set(key, t);
      }
    }
  }

  subscriptions(): DaprSubscription[] {
    return [...this.topics].map(([route, t]) => ({
      pubsubname: t.pubsub, topic: t.topic, route,
      ...(Object.keys(t.metadata).length ? { metadata: t.metadata } : {}), ...(t.deadLetterTopic ? { deadLetterTopic: t.deadLetterTopic } : {}),
    }));
  }

  bindingNames(): string[] { return [...this.bindings.keys()]; }

  /**
   * The gateway route (see `Gateway.use`). It declines synchronously (plain `false`, no promise)
   * for every path it does not serve, so function requests pay nothing for it.
   */
  readonly route: ExtraRoute = (req, res, ctx) => {
    if (!this.isDaprRoute(ctx.path)) return false;
    if (!fromDaprd(req)) {
      sendJson(res, 403, { error: { code: "WFN_DAPR_FORBIDDEN", message: "the Dapr app routes answer only daprd: the sidecar on this machine (a loopback client), or a client sending the APP_API_TOKEN this shim was started with as dapr-api-token" }, requestId: ctx.requestId });
      return true;
    }
    if (ctx.path === "/dapr/subscribe" && req.method === "GET") { sendJson(res, 200, this.subscriptions()); return true; }
    if (ctx.path === "/dapr/config" && req.method === "GET") { sendJson(res, 200, {}); return true; }
    if (ctx.path.startsWith(TOPIC_ROUTE_PREFIX) && req.method === "POST") {
      const t = this.topics.get(ctx.path);
      if (!t) return false;
      return this.onTopic(req, res, t).then(() => true);
    }
    if (this.bindings.size === 0) return false;
    const fns = this.bindings.get(ctx.path.slice(1));
    if (!fns) return false;
    // daprd probes each input binding with OPTIONS at start: any answer but 404 means "deliver to me".
    if (req.method === "OPTIONS") { res.writeHead(200, { "content-length": 0 }); res.end(); return true; }
    if (req.method !== "POST" && req.method !== "PUT") return false;
    return this.onBinding(req, res, fns, ctx.path.slice(1)).then(() => true);
  };

  /** Paths this app serves to daprd (synchronous: function requests pay one string check). */
  private isDaprRoute(path: string): boolean {
    return path.startsWith("/dapr/") || path.startsWith(TOPIC_ROUTE_PREFIX) || (this.bindings.size > 0 && this.bindings.has(path.slice(1)));
  }

  /**
   * Embedded backend: subscribe every topic on its in-process bus, with the subscription's
   * dead-letter topic. Returns an unsubscribe that also ends retries waiting for their next try
   * (those events stay in the bus's journal), so nothing is tried on functions being closed.
   */
  attachBus(bus: LocalBus): () => void {
    const stop = new AbortController();
    const offs = [...this.topics.entries()].map(([route, t]) => bus.subscribe(t.pubsub, t.topic, (ev) => this.deliver(t.fns, ev, "pubsub", ev.id, { signal: stop.signal, ...(t.deadLetterTopic ? { deadLetterTopic: t.deadLetterTopic } : {}) }), {
      id: route, ...(t.deadLetterTopic ? { deadLetterTopic: t.deadLetterTopic } : {}),
    }));
    for (const name of this.bindings.keys()) this.log.log("warn", `input binding '${name}' needs Dapr: run with --dapr to receive its events`, { binding: name });
    return () => { stop.abort(); for (const off of offs) off(); };
  }

  private async onTopic(req: IncomingMessage, res: ServerResponse, t: TopicSub): Promise<void> {
    const raw = await readBody(req, MAX_EVENT_BYTES);
    let ev: DeliveredEvent;
    try {
      ev = parseCloudEvent(raw, String(req.headers["content-type"] ?? ""), t.pubsub, t.topic);
    } catch (e) {
      sendJson(res, 400, { error: { code: "WFN_BAD_CLOUDEVENT", message: `the delivery is not a CloudEvent: ${(e as Error).message}` } });
      return;
    }
    const status = await this.deliver(t.fns, ev, "pubsub", ev.id, t.deadLetterTopic ? { deadLetterTopic: t.deadLetterTopic } : {});
    sendJson(res, 200, { status });
  }

  private async onBinding(req: IncomingMessage, res: ServerResponse, fns: ServedFunction[], name: string): Promise<void> {
    const data = await readBody(req, MAX_EVENT_BYTES);
    const ev: DeliveredEvent = {
      id: randomUUID(), source: name, type: "com.dapr.binding", specversion: "1.0",
      datacontenttype: String(req.headers["content-type"] ?? "application/octet-stream"), topic: "", pubsubname: "", time: new Date().toISOString(), data,
    };
    const status = await this.deliver(fns, ev, "binding", name);
    if (status === "RETRY") sendJson(res, 500, { status });
    else sendJson(res, 200, { status });
  }

  /**
   * Runs every subscribed function on one delivery, each under its own retry policy (so one that
   * succeeded is not run again for another's sake), and combines their answers.
   */
  async deliver(fns: readonly ServedFunction[], ev: DeliveredEvent, kind: "pubsub" | "binding", input: string, opts: DeliverOptions = {}): Promise<DeliveryStatus> {
    const results = await Promise.all(fns.map((fn) => this.runWithRetries(fn, ev, kind, input, opts)));
    if (results.some((r) => r.status === "RETRY" && !r.exhausted)) return "RETRY";
    if (results.some((r) => r.exhausted)) return "DROP";
    return results.every((r) => r.status === "DROP") ? "DROP" : "SUCCESS";
  }

  private async runWithRetries(fn: ServedFunction, ev: DeliveredEvent, kind: "pubsub" | "binding", input: string, opts: DeliverOptions): Promise<RetryOutcome> {
    const policy = fn.config.retry;
    const r = await withRetries(policy, () => this.runOne(fn, ev, kind, input), {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onRetry: (n, delayMs) => this.log.log("info", `retrying the event in ${delayMs} ms (retry ${n} of ${policy.maxRetries})`, { fn: fn.name, event: ev.id }),
    });
    if (r.exhausted) {
      const dlt = opts.deadLetterTopic;
      const where = kind === "binding"
        ? "dropped (input bindings have no dead-letter topic)"
        : dlt ? `moving it to dead-letter topic '${dlt}'`
        : `dropped: add deadLetterTopic: <topic> to this input in wasm-fn.yaml to keep such events (and subscribe a function to it)`;
      this.log.log("error", `event not handled after ${r.attempts} tries (retry.maxRetries ${policy.maxRetries}); ${where}`, { fn: fn.name, event: ev.id, input, ...(kind === "pubsub" ? { topic: ev.topic } : {}) });
    }
    return r;
  }

  private async runOne(fn: ServedFunction, ev: DeliveredEvent, kind: "pubsub" | "binding", input: string): Promise<DeliveryStatus> {
    const attrs: EventAttributes = {
      id: ev.id, source: ev.source, type: ev.type, specversion: ev.specversion, datacontenttype: ev.datacontenttype,
      topic: ev.topic, pubsubname: ev.pubsubname, input: kind === "pubsub" ? ev.pubsubname : input,
      ...(ev.time ? { time: ev.time } : {}), ...(ev.subject ? { subject: ev.subject } : {}),
    };
    const requestId = randomUUID();
    try {
      const r = await fn.invoke({ requestId, method: "POST", path: "/", query: "", headers: { "content-type": ev.datacontenttype, "ce-id": ev.id }, body: ev.data, event: attrs });
      if (r.outcome === Outcome.DROP) return "DROP";
      if (r.outcome !== Outcome.SUCCESS) {
        // RETRY, or a value outside the ABI (a guest bug): not acknowledged, so the event is not lost.
        this.log.log(r.outcome === Outcome.RETRY ? "info" : "warn", r.outcome === Outcome.RETRY ? "function asked to retry the event" : `function returned outcome ${r.outcome}, which is not SUCCESS, RETRY or DROP; asking for redelivery`, { fn: fn.name, event: ev.id, requestId });
        return "RETRY";
      }
      if (r.body.length > 0 && fn.config.outputs.length > 0) await this.sendOutputs(fn, r.body, contentTypeOf(r.headers));
      return "SUCCESS";
    } catch (e) {
      const code = isWfnError(e) ? e.code : "WFN_INTERNAL";
      this.log.log("warn", `event not processed, asking for redelivery: ${(e as Error).message}`, { fn: fn.name, event: ev.id, code, requestId });
      return "RETRY";
    }
  }

  private async sendOutputs(fn: ServedFunction, body: Uint8Array, contentType: string): Promise<void> {
    for (const { dapr: o } of fn.config.outputs) {
      const meta = o.metadata ?? {};
      if (isPubsubOutput(o)) {
        if (!o.topic) throw new Error(`${fn.name}: output '${o.name}' is a pubsub but names no topic`);
        await this.backend.publish(o.name, o.topic, body, contentType, meta);
      } else {
        await this.backend.invokeBinding(o.name, o.operation ?? "create", body, meta);
      }
    }
  }
}

/** Registers each function under its app id, so `invoke` to it stays in the process. */
export function registerLocalApps(apps: LocalApps, functions: readonly ServedFunction[]): void {
  for (const fn of functions) {
    apps.set(fn.config.appId, {
      async invoke({ method, verb, data, contentType, callerAppId }) {
        const q = method.indexOf("?");
        try {
          const r = await fn.invoke({
            requestId: randomUUID(), method: verb, path: "/" + (q < 0 ? method : method.slice(0, q)), query: q < 0 ? "" : method.slice(q + 1),
            headers: { "content-type": contentType, "dapr-caller-app-id": callerAppId }, body: data,
          });
          return { status: r.status, data: r.body, contentType: contentTypeOf(r.headers) };
        } catch (e) {
          const status = isWfnError(e) ? e.status : 500;
          const code = isWfnError(e) ? e.code : "WFN_INTERNAL";
          return { status, data: new TextEncoder().encode(JSON.stringify({ error: { code, message: (e as Error).message } })), contentType: "application/json" };
        }
      },
    });
  }
}


function contentTypeOf(headers: [string, string][]): string {
  for (const [k, v] of headers) if (k.toLowerCase() === "content-type") return v;
  return "application/octet-stream";
}

const JSON_TYPE = /^application\/(.+\+)?json\b/i;

/**
 * Reads what daprd posts to a topic route: a structured CloudEvent (JSON envelope, with `data` or
 * `data_base64`), or, for raw payloads, the bytes themselves.
 */
export function parseCloudEvent(raw: Uint8Array, contentType: string, pubsub: string, topic: string): DeliveredEvent {
  const base = { source: "", type: "com.dapr.event.sent", specversion: "1.0", topic, pubsubname: pubsub };
  if (!/cloudevents\+json/i.test(contentType) && !JSON_TYPE.test(contentType)) {
    return { ...base, id: randomUUID(), datacontenttype: contentType || "application/octet-stream", data: raw };
  }
  const ce = JSON.parse(Buffer.from(raw).toString("utf8")) as Record<string, unknown>;
  if (ce === null || typeof ce !== "object" || Array.isArray(ce)) throw new Error("the body is JSON but not an object");
  if (typeof ce.specversion !== "string") {
    // Plain JSON (not an envelope): the whole body is the data.
    return { ...base, id: randomUUID(), datacontenttype: "application/json", data: raw };
  }
  const dct = typeof ce.datacontenttype === "string" ? ce.datacontenttype : "application/json";
  let data: Uint8Array;
  if (typeof ce.data_base64 === "string") data = Buffer.from(ce.data_base64, "base64");
  else if (ce.data === undefined || ce.data === null) data = new Uint8Array(0);
  else if (typeof ce.data === "string" && !JSON_TYPE.test(dct)) data = Buffer.from(ce.data, "utf8");
  else data = Buffer.from(JSON.stringify(ce.data), "utf8");
  const s = (v: unknown, d: string) => (typeof v === "string" ? v : d);
  return {
    id: s(ce.id, randomUUID()), source: s(ce.source, ""), type: s(ce.type, base.type), specversion: ce.specversion,
    datacontenttype: dct, topic: s(ce.topic, topic), pubsubname: s(ce.pubsubname, pubsub),
    ...(typeof ce.time === "string" ? { time: ce.time } : {}), ...(typeof ce.subject === "string" ? { subject: ce.subject } : {}), data,
  };
}
