import { describe, expect, it } from "vitest";
import { WfnError } from "@wasm-fn/abi";
import type { Backend, DeliveredEvent } from "../capabilities/backend.js";
import type { ServedFunction } from "../function.js";
import type { InvocationInput } from "../instance/invocation.js";
import { silentLogger } from "../logger.js";
import { DaprApp, parseCloudEvent } from "./dapr-app.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => Buffer.from(b).toString();

describe("parseCloudEvent (what daprd posts to a topic route)", () => {
  it("takes JSON data out of the envelope as JSON, with the attributes", () => {
    const ev = parseCloudEvent(bytes(JSON.stringify({ specversion: "1.0", id: "e1", source: "app", type: "com.dapr.event.sent", datacontenttype: "application/json", topic: "orders", pubsubname: "ps", time: "2024-01-01T00:00:00Z", data: { a: 1 } })), "application/cloudevents+json", "ps", "orders");
    expect(ev).toMatchObject({ id: "e1", source: "app", topic: "orders", pubsubname: "ps", time: "2024-01-01T00:00:00Z", datacontenttype: "application/json" });
    expect(JSON.parse(text(ev.data))).toEqual({ a: 1 });
  });

  it("keeps text data as text and decodes data_base64 (raw payloads)", () => {
    const t = parseCloudEvent(bytes(JSON.stringify({ specversion: "1.0", id: "e2", datacontenttype: "text/plain", data: "hello" })), "application/cloudevents+json", "ps", "t");
    expect(text(t.data)).toBe("hello");
    const raw = parseCloudEvent(bytes(JSON.stringify({ specversion: "1.0", id: "e3", datacontenttype: "application/octet-stream", data_base64: Buffer.from([0, 1, 2]).toString("base64") })), "application/cloudevents+json", "mqtt", "v/+/t");
    expect(Array.from(raw.data)).toEqual([0, 1, 2]);
    expect(raw.topic).toBe("v/+/t");
  });

  it("treats a body that is not an envelope as the data itself", () => {
    expect(text(parseCloudEvent(bytes("plain"), "text/plain", "ps", "t").data)).toBe("plain");
    expect(text(parseCloudEvent(bytes('{"x":1}'), "application/json", "ps", "t").data)).toBe('{"x":1}');
  });

  it("throws on malformed JSON (the route answers 400)", () => {
    expect(() => parseCloudEvent(bytes("{oops"), "application/cloudevents+json", "ps", "t")).toThrow();
    expect(() => parseCloudEvent(bytes("[1]"), "application/cloudevents+json", "ps", "t")).toThrow(/not an object/);
  });
});


const NO_RETRY = { policy: "constant" as const, durationMs: 1, maxIntervalMs: 1, maxRetries: 0 };

/** A stand-in for a served function: its config and a scripted answer per invocation. */
function fakeFn(name: string, answer: (input: InvocationInput) => { outcome: number; body?: string } | Error, outputs: unknown[] = [], retry = NO_RETRY, deadLetterTopic?: string): ServedFunction & { calls: InvocationInput[] } {
  const calls: InvocationInput[] = [];
  return {
    name, calls,
    config: { name, inputs: [{ dapr: { name: "ps", type: "pubsub.redis", topic: "t", ...(deadLetterTopic ? { deadLetterTopic } : {}) } }], outputs, triggers: {}, retry },
    async invoke(input: InvocationInput) {
      calls.push(input);
      const a = answer(input);
      if (a instanceof Error) throw a;
      return { status: 200, headers: [["content-type", "application/json"]], body: new TextEncoder().encode(a.body ?? ""), outcome: a.outcome };
    },
  } as unknown as ServedFunction & { calls: InvocationInput[] };
}

const event: DeliveredEvent = { id: "e1", source: "s", type: "com.dapr.event.sent", specversion: "1.0", datacontenttype: "application/json", topic: "t", pubsubname: "ps", data: bytes('{"x":1}') };

describe("DaprApp deliveries", () => {
  it("runs every subscribed function once per delivery, with the event's attributes", async () => {
    const a = fakeFn("a", () => ({ outcome: 0 }));
    const b = fakeFn("b", () => ({ outcome: 0 }));
    const app = new DaprApp([a, b], {} as Backend, silentLogger);
    expect(app.subscriptions()).toHaveLength(1);
    expect(await app.deliver([a, b], event, "pubsub", "ps")).toBe("SUCCESS");
    expect(a.calls).toHaveLength(1);
    expect(a.calls[0]!.event).toMatchObject({ id: "e1", topic: "t", pubsubname: "ps", input: "ps" });
    expect(text(a.calls[0]!.body)).toBe('{"x":1}');
  });

  it("a function that traps (or asks to retry) past its retries makes the delivery DROP (to the dead-letter topic); DROP also when all ask", async () => {
    const ok = fakeFn("ok", () => ({ outcome: 0 }));
    const trap = fakeFn("trap", () => new WfnError("WFN_TRAP", "trapped"));
    const drop = fakeFn("drop", () => ({ outcome: 2 }));
    const app = new DaprApp([ok, trap, drop], {} as Backend, silentLogger);
    expect(await app.deliver([ok, trap], event, "pubsub", "ps")).toBe("DROP");
    expect(await app.deliver([ok, drop], event, "pubsub", "ps")).toBe("SUCCESS");
    expect(await app.deliver([drop], event, "pubsub", "ps")).toBe("DROP");
  });

  it("retries only the function that failed, by its policy, and says where the event goes when retries run out", async () => {
    let n = 0;
    const lines: string[] = [];
    const log = { ...silentLogger, log: (level: string, msg: string) => { lines.push(`${level}: ${msg}`); } } as typeof silentLogger;
    const ok = fakeFn("ok", () => ({ outcome: 0 }));
    const flaky = fakeFn("flaky", () => ({ outcome: ++n < 3 ? 1 : 0 }), [], { policy: "exponential", durationMs: 5, maxIntervalMs: 50, maxRetries: 3 });
    const app = new DaprApp([ok, flaky], {} as Backend, log);
    expect(await app.deliver([ok, flaky], event, "pubsub", "ps")).toBe("SUCCESS");
    expect([ok.calls.length, flaky.calls.length]).toEqual([1, 3]);
    expect(lines.filter((l) => l.includes("retrying"))).toEqual(["info: retrying the event in 5 ms (retry 1 of 3)", "info: retrying the event in 10 ms (retry 2 of 3)"]);
    const stuck = fakeFn("stuck", () => ({ outcome: 1 }), [], { policy: "constant", durationMs: 1, maxIntervalMs: 1, maxRetries: 2 }, "t-dead");
    const app2 = new DaprApp([stuck], {} as Backend, log);
    expect(app2.subscriptions()).toEqual([{ pubsubname: "ps", topic: "t", route: "/_wfn/dapr/topics/ps/t", deadLetterTopic: "t-dead" }]);
    expect(await app2.deliver([stuck], event, "pubsub", "ps", { deadLetterTopic: "t-dead" })).toBe("DROP");
    expect(stuck.calls).toHaveLength(3);
    expect(lines.at(-1)).toBe("error: event not handled after 3 tries (retry.maxRetries 2); moving it to dead-letter topic 't-dead'");
    expect(await app2.deliver([stuck], event, "pubsub", "ps")).toBe("DROP");
    expect(lines.at(-1)).toMatch(/dropped: add deadLetterTopic: <topic> to this input in wasm-fn.yaml/);
  });

  it("refuses two dead-letter topics for one (pubsub, topic)", () => {
    const a = fakeFn("a", () => ({ outcome: 0 }), [], NO_RETRY, "d1");
    const b = fakeFn("b", () => ({ outcome: 0 }), [], NO_RETRY, "d2");
    expect(() => new DaprApp([a, b], {} as Backend, silentLogger)).toThrow(/b: input ps\/t names deadLetterTopic 'd2', but a on the same topic name 'd1'/);
  });

  it("not SUCCESS (retried, then DROP) for an outcome outside the ABI, and sends no outputs for it", async () => {
    const sent: string[] = [];
    const backend = { publish: async () => { sent.push("publish"); } } as unknown as Backend;
    const odd = fakeFn("odd", () => ({ outcome: 7, body: "result" }), [{ dapr: { name: "out", type: "pubsub.redis", topic: "done" } }]);
    const neg = fakeFn("neg", () => ({ outcome: -1 }));
    const app = new DaprApp([odd, neg], backend, silentLogger);
    expect(await app.deliver([odd], event, "pubsub", "ps")).toBe("DROP");
    expect(await app.deliver([neg], event, "pubsub", "ps")).toBe("DROP");
    expect(sent).toEqual([]);
  });

  it("sends a function's return value to its outputs before answering, and retries (then DROP) when they fail", async () => {
    const sent: string[] = [];
    let fail = false;
    const backend = {
      publish: async (ps: string, topic: string, data: Uint8Array, ct: string) => { if (fail) throw new Error("down"); sent.push(`publish ${ps}/${topic} ${ct} ${text(data)}`); },
      invokeBinding: async (name: string, op: string, data: Uint8Array, meta: Record<string, string>) => { sent.push(`binding ${name} ${op} ${meta.path} ${text(data)}`); return { data: new Uint8Array(0), metadata: {} }; },
    } as unknown as Backend;
    const fn = fakeFn("f", () => ({ outcome: 0, body: "result" }), [
      { dapr: { name: "out", type: "pubsub.redis", topic: "done" } },
      { dapr: { name: "hook", type: "bindings.http", operation: "post", metadata: { path: "/p" } } },
    ]);
    const app = new DaprApp([fn], backend, silentLogger);
    expect(await app.deliver([fn], event, "pubsub", "ps")).toBe("SUCCESS");
    expect(sent).toEqual(["publish out/done application/json result", "binding hook post /p result"]);
    fail = true;
    expect(await app.deliver([fn], event, "pubsub", "ps")).toBe("DROP");
  });
});
