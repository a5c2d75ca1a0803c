import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { DeliveredEvent, DeliveryStatus } from "../../capabilities/backend.js";
import { EmbeddedBus } from "./bus.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => Buffer.from(b).toString();
const journalIn = () => path.join(mkdtempSync(path.join(os.tmpdir(), "wfn-bus-")), "events.jsonl");

/** A subscriber that records what it gets and answers from a script (default SUCCESS). */
function recorder(answer: (ev: DeliveredEvent) => DeliveryStatus | Promise<DeliveryStatus> = () => "SUCCESS") {
  const seen: DeliveredEvent[] = [];
  return { seen, fn: async (ev: DeliveredEvent) => { seen.push(ev); return answer(ev); } };
}

describe("embedded bus", () => {
  it("has the event on disk when publish resolves, and a new bus on the same journal delivers it again (a crash before the answer)", async () => {
    const file = journalIn();
    const crashed = new EmbeddedBus({ journal: file });
    const first = recorder(() => new Promise<DeliveryStatus>(() => undefined)); // never answers: the process "dies" here
    crashed.subscribe("p", "t", first.fn);
    await crashed.publish("p", "t", enc("order-1"), "text/plain");
    expect(readFileSync(file, "utf8")).toContain(Buffer.from("order-1").toString("base64"));
    await new Promise((r) => setTimeout(r, 20));
    expect(first.seen).toHaveLength(1);

    const restarted = new EmbeddedBus({ journal: file });
    const again = recorder();
    restarted.subscribe("p", "t", again.fn);
    await restarted.settled();
    expect(again.seen.map((e) => [e.id, dec(e.data)])).toEqual([[first.seen[0]!.id, "order-1"]]);
    await restarted.close();
    // Handled now: a third start delivers nothing, and the compacted file is empty.
    expect(readFileSync(file, "utf8")).toBe("");
    const third = new EmbeddedBus({ journal: file });
    const none = recorder();
    third.subscribe("p", "t", none.fn);
    await third.settled();
    expect(none.seen).toEqual([]);
    await third.close();
  });

  it("removes an event answered SUCCESS or DROP; keeps one answered RETRY (closing) for the next start", async () => {
    const file = journalIn();
    const bus = new EmbeddedBus({ journal: file });
    const sub = recorder((ev) => (dec(ev.data) as DeliveryStatus));
    bus.subscribe("p", "t", sub.fn);
    for (const s of ["SUCCESS", "DROP", "RETRY"]) await bus.publish("p", "t", enc(s), "text/plain");
    await bus.settled();
    await bus.close();
    const next = new EmbeddedBus({ journal: file });
    const got = recorder();
    next.subscribe("p", "t", got.fn);
    await next.settled();
    expect(got.seen.map((e) => dec(e.data))).toEqual(["RETRY"]);
    await next.close();
  });

  it("moves a DROP to the subscription's dead-letter topic, the event as it was; with no reader there it logs an error", async () => {
    const logs: string[] = [];
    const bus = new EmbeddedBus({ log: (level, msg) => logs.push(`${level}: ${msg}`) });
    const worker = recorder(() => "DROP");
    const morgue = recorder();
    bus.subscribe("p", "jobs", worker.fn, { deadLetterTopic: "jobs-dead" });
    const off = bus.subscribe("p", "jobs-dead", morgue.fn);
    await bus.publish("p", "jobs", enc("bad"), "text/plain");
    await bus.settled();
    expect(morgue.seen).toHaveLength(1);
    expect(morgue.seen[0]).toMatchObject({ id: worker.seen[0]!.id, topic: "jobs", pubsubname: "p" });
    expect(dec(morgue.seen[0]!.data)).toBe("bad");
    off();
    await bus.publish("p", "jobs", enc("worse"), "text/plain");
    await bus.settled();
    expect(logs).toEqual(["error: dead-letter topic 'jobs-dead' has no subscriber in this shim; the event is dropped: subscribe a function to it"]);
    await bus.close();
  });

  it("skips lines a crash tore (at the end, or in the middle when shims share the file), and says so", async () => {
    const file = journalIn();
    const bus = new EmbeddedBus({ journal: file });
    bus.subscribe("p", "t", async () => new Promise<DeliveryStatus>(() => undefined));
    await bus.publish("p", "t", enc("kept"), "text/plain");
    const kept = readFileSync(file, "utf8").trim();
    appendFileSync(file, '{"add":{"k":"torn","s":"p/t","e":{"id":"x"');
    const logs: string[] = [];
    const next = new EmbeddedBus({ journal: file, log: (_, msg) => logs.push(msg) });
    const got = recorder();
    next.subscribe("p", "t", got.fn);
    await next.settled();
    expect(got.seen.map((e) => dec(e.data))).toEqual(["kept"]);
    expect(logs).toEqual([`skipped 1 damaged line(s) of the event journal ${file} (a crash cut them short; their publishes were never acknowledged)`]);
    await next.close();
    writeFileSync(file, `{"add":{"k":"torn2","s":"p/t"\n${kept}\nnull\n`);
    const third = new EmbeddedBus({ journal: file, log: (_, msg) => logs.push(msg) });
    const again = recorder();
    third.subscribe("p", "t", again.fn);
    await third.settled();
    expect(again.seen.map((e) => dec(e.data))).toEqual(["kept"]);
    expect(logs.at(-1)).toMatch(/^skipped 2 damaged line/);
  });

  it("keeps events of a subscription no one has now, and counts them for the start-up warning", async () => {
    const file = journalIn();
    const first = new EmbeddedBus({ journal: file });
    first.subscribe("p", "gone", async () => new Promise<DeliveryStatus>(() => undefined), { id: "old-fn" });
    await first.publish("p", "gone", enc("a"), "text/plain");
    await first.publish("p", "gone", enc("b"), "text/plain");
    const next = new EmbeddedBus({ journal: file });
    next.subscribe("p", "t", recorder().fn);
    expect(next.unclaimedBySubscription()).toEqual({ "old-fn": 2 });
    await next.close();
    const later = new EmbeddedBus({ journal: file });
    const back = recorder();
    later.subscribe("p", "gone", back.fn, { id: "old-fn" });
    await later.settled();
    expect(back.seen.map((e) => dec(e.data))).toEqual(["a", "b"]);
    expect(later.unclaimedBySubscription()).toEqual({});
    await later.close();
  });

  it("refuses publishes once closed, so a closing shim does not acknowledge what it will not deliver", async () => {
    const bus = new EmbeddedBus();
    bus.subscribe("p", "t", recorder().fn);
    await bus.close();
    await expect(bus.publish("p", "t", enc("late"), "text/plain")).rejects.toThrow(/shutting down/);
  });
});
