import { randomUUID } from "node:crypto";
import { BackendError, BackendErrors, type DeliveredEvent, type DeliveryStatus, type LocalBus, type SubscribeOptions, type Subscriber } from "../../capabilities/backend.js";
import { Journal, type PendingEvent } from "./journal.js";

export interface BusOptions {
  /** Source attribute of the CloudEvents it makes (Dapr uses the publisher's app id). */
  source?: string;
  /** Where events are kept until handled (journal.ts); null or absent: memory only. */
  journal?: string | null;
  /** Lines about events the bus could not place (a dead-letter topic nobody reads, a failing subscriber). */
  log?: (level: "warn" | "error", msg: string, fields: Record<string, unknown>) => void;
}

interface Subscription { id: string; pubsub: string; topic: string; deadLetterTopic?: string; subscriber: Subscriber }

/**
 * In-process pub/sub for the embedded backend, in the broker's and daprd's place: each publish
 * becomes a CloudEvent per subscription of (pubsub, topic), written to the journal before the
 * publish returns, then delivered. The subscriber's answer settles it: SUCCESS removes it, DROP
 * moves it to the subscription's dead-letter topic (as daprd does) and removes it, RETRY (the shim
 * is closing) leaves it in the journal. At start, what the journal holds is delivered again as its
 * subscription appears. Retrying is not the bus's job: the Dapr app applies each function's
 * `retry:` policy inside one delivery, as with daprd. Events published with no subscriber are not kept.
 *
 * @example bus.subscribe("pubsub", "orders", async (ev) => "SUCCESS", { deadLetterTopic: "orders-dead" })
 */
export class EmbeddedBus implements LocalBus {
  private readonly subs = new Map<string, Subscription>();
  private readonly journal: Journal;
  /** Journal entries of the last run whose subscription has not appeared yet. */
  private readonly unclaimed: PendingEvent[];
  private inflight = 0;
  private idle: (() => void)[] = [];
  private closed = false;

  constructor(private readonly opts: BusOptions = {}) {
    this.journal = new Journal(opts.journal ?? null);
    this.unclaimed = this.journal.entries();
    if (this.journal.damaged > 0) opts.log?.("warn", `skipped ${this.journal.damaged} damaged line(s) of the event journal ${opts.journal} (a crash cut them short; their publishes were never acknowledged)`, { journal: opts.journal });
  }

  subscribe(pubsub: string, topic: string, subscriber: Subscriber, options: SubscribeOptions = {}): () => void {
    const id = options.id ?? `${pubsub}/${topic}`;
    if (this.subs.has(id)) throw new Error(`a subscription with id '${id}' exists; give each subscriber its own id`);
    const sub: Subscription = { id, pubsub, topic, subscriber, ...(options.deadLetterTopic ? { deadLetterTopic: options.deadLetterTopic } : {}) };
    this.subs.set(id, sub);
    const mine = this.unclaimed.filter((p) => p.sub === id);
    this.unclaimed.splice(0, this.unclaimed.length, ...this.unclaimed.filter((p) => p.sub !== id));
    for (const p of mine) this.run(sub, p);
    return () => { if (this.subs.get(id) === sub) this.subs.delete(id); };
  }

  /** Resolves once the event is in the journal (on disk when the bus has a file). */
  async publish(pubsub: string, topic: string, data: Uint8Array, contentType: string): Promise<void> {
    await this.publishEvent({
      id: randomUUID(), source: this.opts.source ?? "wasm-fn", type: "com.dapr.event.sent", specversion: "1.0",
      datacontenttype: contentType, topic, pubsubname: pubsub, time: new Date().toISOString(), data: Uint8Array.from(data),
    }, topic);
  }

  private async publishEvent(event: DeliveredEvent, topic: string): Promise<number> {
    if (this.closed) throw new BackendError(BackendErrors.UNAVAILABLE, "the shim is shutting down; the event was not published");
    const targets = [...this.subs.values()].filter((s) => s.pubsub === event.pubsubname && s.topic === topic);
    if (targets.length === 0) return 0;
    const entries = targets.map((s) => ({ sub: s, p: { key: randomUUID(), sub: s.id, event } }));
    await this.journal.add(entries.map((e) => e.p));
    for (const e of entries) this.run(e.sub, e.p);
    return targets.length;
  }

  private run(sub: Subscription, p: PendingEvent): void {
    this.inflight++;
    void this.deliver(sub, p).finally(() => {
      if (--this.inflight === 0) for (const w of this.idle.splice(0)) w();
    });
  }

  private async deliver(sub: Subscription, p: PendingEvent): Promise<void> {
    let status: DeliveryStatus;
    try { status = await sub.subscriber(p.event); } catch (e) {
      this.opts.log?.("error", `the subscriber failed: ${(e as Error).message}; the event stays in the journal and is delivered again at the next start`, { event: p.event.id, topic: sub.topic });
      return;
    }
    if (status === "RETRY") return;
    if (status === "DROP" && sub.deadLetterTopic) {
      try {
        // The event as it was (id, source, topic, data), like daprd's republish of the message.
        const n = await this.publishEvent(p.event, sub.deadLetterTopic);
        if (n === 0) this.opts.log?.("error", `dead-letter topic '${sub.deadLetterTopic}' has no subscriber in this shim; the event is dropped: subscribe a function to it`, { event: p.event.id, topic: sub.topic });
      } catch (e) {
        this.opts.log?.("error", `moving the event to dead-letter topic '${sub.deadLetterTopic}' failed: ${(e as Error).message}; it stays in the journal`, { event: p.event.id, topic: sub.topic });
        return;
      }
    }
    this.journal.done(p.key);
  }

  /** Journal entries of the last run that no subscription has claimed, per subscription id. */
  unclaimedBySubscription(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of this.unclaimed) out[p.sub] = (out[p.sub] ?? 0) + 1;
    return out;
  }

  /** Resolves when no delivery is running (tests use it). */
  async settled(): Promise<void> {
    if (this.inflight > 0) await new Promise<void>((r) => this.idle.push(r));
  }

  /**
   * Refuses new publishes, waits up to `graceMs` for running deliveries (the Dapr app ended their
   * retry waits already), then closes the journal. What did not finish is delivered at the next start.
   */
  async close(graceMs = 5000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.settled(), new Promise<void>((r) => { timer = setTimeout(r, graceMs); })]);
    clearTimeout(timer);
    await this.journal.close();
  }
}
