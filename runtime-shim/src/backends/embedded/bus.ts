import { randomUUID } from "node:crypto";
import type { DeliveredEvent, LocalBus, Subscriber } from "../../capabilities/backend.js";

export interface BusOptions {
  /** Source attribute of the CloudEvents it makes (Dapr uses the publisher's app id). */
  source?: string;
  /** Deliveries answered RETRY (or failing) are tried again after 100 ms, 200 ms ... up to this. */
  maxBackoffMs?: number;
  /** After this many attempts an event is dropped and reported through `onDrop`. */
  maxAttempts?: number;
  onDrop?: (event: DeliveredEvent, reason: string) => void;
}

/**
 * In-process pub/sub for the embedded backend: each publish becomes a CloudEvent delivered to
 * every subscriber of (pubsub, topic), asynchronously, retried with backoff until the subscriber
 * answers SUCCESS or DROP. Events published with no subscriber are not kept.
 *
 * @example bus.subscribe("pubsub", "orders", async (ev) => "SUCCESS")
 */
export class EmbeddedBus implements LocalBus {
  private readonly subs = new Map<string, Set<Subscriber>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private inflight = 0;
  private idle: (() => void)[] = [];
  private closed = false;

  constructor(private readonly opts: BusOptions = {}) {}

  subscribe(pubsub: string, topic: string, subscriber: Subscriber): () => void {
    const k = `${pubsub}\u0000${topic}`;
    let set = this.subs.get(k);
    if (!set) this.subs.set(k, (set = new Set()));
    set.add(subscriber);
    return () => set.delete(subscriber);
  }

  publish(pubsub: string, topic: string, data: Uint8Array, contentType: string): void {
    const set = this.subs.get(`${pubsub}\u0000${topic}`);
    if (!set || set.size === 0) return;
    const event: DeliveredEvent = {
      id: randomUUID(), source: this.opts.source ?? "wasm-fn", type: "com.dapr.event.sent", specversion: "1.0",
      datacontenttype: contentType, topic, pubsubname: pubsub, time: new Date().toISOString(), data: Uint8Array.from(data),
    };
    for (const s of set) this.schedule(s, event, 1, 0);
  }

  private schedule(s: Subscriber, event: DeliveredEvent, attempt: number, delayMs: number): void {
    if (this.closed) return;
    this.inflight++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.deliver(s, event, attempt);
    }, delayMs);
    this.timers.add(t);
  }

  private async deliver(s: Subscriber, event: DeliveredEvent, attempt: number): Promise<void> {
    let reason = "";
    try {
      const status = await s(event);
      if (status !== "RETRY") return;
      reason = "the function asked to retry";
    } catch (e) {
      reason = (e as Error).message;
    } finally {
      if (--this.inflight === 0) for (const w of this.idle.splice(0)) w();
    }
    if (attempt >= (this.opts.maxAttempts ?? 100)) {
      this.opts.onDrop?.(event, `${attempt} attempts, last: ${reason}`);
      return;
    }
    this.schedule(s, event, attempt + 1, Math.min(100 * 2 ** (attempt - 1), this.opts.maxBackoffMs ?? 5000));
  }

  /** Resolves when no delivery is running or waiting (tests use it; `close` does not wait for retries). */
  async settled(): Promise<void> {
    if (this.inflight > 0) await new Promise<void>((r) => this.idle.push(r));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
