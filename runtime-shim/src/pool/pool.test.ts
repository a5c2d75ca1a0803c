import { describe, expect, it } from "vitest";
import { WfnError } from "@wasm-fn/abi";
import { Pool, type PoolOptions } from "./pool.js";

class Item {
  broken = false;
  disposed = false;
  constructor(readonly id: number) {}
}

function pool(opts: Partial<PoolOptions<Item>> = {}) {
  let n = 0;
  const made: Item[] = [];
  const p = new Pool<Item>({
    create: () => { const i = new Item(++n); made.push(i); return i; },
    minReplicas: 0, maxReplicas: 2, maxQueue: 1, idleTimeoutMs: 60_000,
    dispose: (i) => { i.disposed = true; },
    ...opts,
  });
  return { p, made };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Pool", () => {
  it("scales from zero: the first acquire creates (a cold start), a release keeps the member warm", () => {
    const { p } = pool();
    expect(p.stats().live).toBe(0);
    const a = p.acquire() as Item;
    expect(p.stats()).toMatchObject({ live: 1, busy: 1, idle: 0, created: 1, coldStarts: 1 });
    p.release(a);
    expect(p.stats()).toMatchObject({ live: 1, busy: 0, idle: 1 });
    expect(p.acquire()).toBe(a);
    expect(p.stats().coldStarts).toBe(1);
  });

  it("keeps minReplicas warm from the start and after a broken member is dropped", () => {
    const { p, made } = pool({ minReplicas: 2, maxReplicas: 3 });
    expect(p.stats()).toMatchObject({ live: 2, idle: 2, coldStarts: 0 });
    const a = p.acquire() as Item;
    a.broken = true;
    p.release(a);
    expect(a.disposed).toBe(true);
    expect(p.stats()).toMatchObject({ live: 2, idle: 2 });
    expect(made).toHaveLength(3);
  });

  it("never hands out a broken member again", () => {
    const { p } = pool();
    const a = p.acquire() as Item;
    a.broken = true;
    p.release(a);
    const b = p.acquire() as Item;
    expect(b).not.toBe(a);
    expect(a.disposed).toBe(true);
  });

  it("drops a member that broke while idle (its worker was killed) instead of handing it out", () => {
    const { p } = pool({ maxReplicas: 3 });
    const a = p.acquire() as Item;
    const b = p.acquire() as Item;
    p.release(a);
    p.release(b);
    a.broken = true;
    b.broken = true;
    const c = p.acquire() as Item;
    expect(c.id).toBe(3);
    expect([a.disposed, b.disposed]).toEqual([true, true]);
    expect(p.stats()).toMatchObject({ live: 1, busy: 1, idle: 0 });
  });

  it("queues beyond maxReplicas, then answers 503 once the queue is full", async () => {
    const { p } = pool({ maxReplicas: 1, maxQueue: 1 });
    const a = p.acquire() as Item;
    const waiting = p.acquire();
    expect(waiting).toBeInstanceOf(Promise);
    expect(p.stats().queued).toBe(1);
    let err: unknown;
    try { p.acquire(); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(WfnError);
    expect((err as WfnError).status).toBe(503);
    expect((err as WfnError).code).toBe("WFN_POOL_EXHAUSTED");
    p.release(a);
    expect(await waiting).toBe(a);
    expect(p.stats()).toMatchObject({ queued: 0, busy: 1 });
  });

  it("gives a queued request a new member when the released one was broken", async () => {
    const { p } = pool({ maxReplicas: 1, maxQueue: 4 });
    const a = p.acquire() as Item;
    const waiting = p.acquire() as Promise<Item>;
    a.broken = true;
    p.release(a);
    const b = await waiting;
    expect(b).not.toBe(a);
    expect(p.stats()).toMatchObject({ live: 1, busy: 1 });
  });

  it("times out a queued request with 503", async () => {
    const { p } = pool({ maxReplicas: 1, maxQueue: 4, queueTimeoutMs: 30 });
    p.acquire();
    await expect(p.acquire()).rejects.toMatchObject({ status: 503 });
    expect(p.stats().queued).toBe(0);
  });

  it("reaps members idle past the timeout down to minReplicas (scale to zero)", async () => {
    const { p } = pool({ idleTimeoutMs: 60, maxReplicas: 4 });
    const items = [p.acquire(), p.acquire(), p.acquire()] as Item[];
    for (const i of items) p.release(i);
    expect(p.stats().idle).toBe(3);
    await sleep(250);
    expect(p.stats()).toMatchObject({ live: 0, idle: 0 });
    expect(items.every((i) => i.disposed)).toBe(true);
  });

  it("reaps down to minReplicas, not below", async () => {
    const { p } = pool({ idleTimeoutMs: 60, minReplicas: 1, maxReplicas: 4 });
    const items = [p.acquire(), p.acquire(), p.acquire()] as Item[];
    for (const i of items) p.release(i);
    await sleep(250);
    expect(p.stats().live).toBe(1);
  });

  it("recycle=false drops a member after one use and replaces it off the request path (fresh isolation)", () => {
    const { p, made } = pool({ recycle: () => false, replaceDropped: true });
    const a = p.acquire() as Item;
    p.release(a);
    expect(a.disposed).toBe(true);
    expect(p.stats()).toMatchObject({ live: 1, idle: 1 });
    const b = p.acquire() as Item;
    expect(b).not.toBe(a);
    expect(made).toHaveLength(2);
    expect(p.stats().coldStarts).toBe(1);
  });

  it("renew() drops idle members now and busy ones when they come back", () => {
    const { p } = pool({ maxReplicas: 3 });
    const a = p.acquire() as Item;
    const b = p.acquire() as Item;
    p.release(b);
    p.renew();
    expect(b.disposed).toBe(true);
    p.release(a);
    expect(a.disposed).toBe(true);
    expect(p.acquire()).not.toBe(a);
  });

  it("drain() serves what is queued with the members it has, then resolves", async () => {
    const { p } = pool({ maxReplicas: 1, maxQueue: 4 });
    const a = p.acquire() as Item;
    const queued = p.acquire() as Promise<Item>;
    let drained = false;
    const d = p.drain().then(() => { drained = true; });
    p.release(a);
    const again = await queued;
    expect(again).toBe(a);
    await sleep(5);
    expect(drained).toBe(false);
    p.release(again);
    await d;
    expect(a.disposed).toBe(true);
    expect(p.stats().live).toBe(0);
  });

  it("close() answers queued requests with 503 and drops members as they come back", async () => {
    const { p } = pool({ maxReplicas: 1, maxQueue: 4 });
    const a = p.acquire() as Item;
    const queued = p.acquire();
    p.close();
    await expect(queued).rejects.toMatchObject({ code: "WFN_POOL_CLOSED", status: 503 });
    expect(() => p.acquire()).toThrow(WfnError);
    p.release(a);
    expect(a.disposed).toBe(true);
  });
});

describe("Pool: a failing create", () => {
  it("settles every queued waiter when no member is left out to serve them", async () => {
    let fail = false;
    const { p } = pool({ maxReplicas: 1, maxQueue: 4, create: () => { if (fail) throw new WfnError("WFN_TRAP", "init failed", { status: 500 }); return new Item(1); } });
    const a = p.acquire() as Item;
    const w1 = p.acquire() as Promise<Item>;
    const w2 = p.acquire() as Promise<Item>;
    const s1 = w1.catch((e: WfnError) => e.code);
    const s2 = w2.catch((e: WfnError) => e.code);
    fail = true;
    a.broken = true;
    p.release(a);
    expect(await s1).toBe("WFN_TRAP");
    expect(await s2).toBe("WFN_TRAP");
    expect(p.stats()).toMatchObject({ busy: 0, queued: 0 });
  });

  it("a failing prewarm on release does not throw to the caller (whose invocation finished)", () => {
    let fail = false;
    const { p } = pool({ minReplicas: 1, maxReplicas: 2, create: () => { if (fail) throw new Error("init failed"); return new Item(1); } });
    const a = p.acquire() as Item;
    fail = true;
    a.broken = true;
    expect(() => p.release(a)).not.toThrow();
    expect(p.stats()).toMatchObject({ busy: 0, live: 0 });
  });
});
