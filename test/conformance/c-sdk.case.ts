/**
 * The C SDK's capability calls through test/fixtures/c-sdk (each route answers what its call
 * returned: {"code", "name", "message", ...}), one set of cases for every backend:
 * test/c-sdk.test.ts runs them on the embedded backend, test/dapr-examples.test.ts through daprd
 * and Redis (the run that counts).
 *
 * @example cSdkCapabilities("embedded backend", () => ({ url, sink, secret: { key: "k", value: "v" }, seedConfig }));
 */
import { describe, expect, it } from "vitest";
import { eventually, type Recorder } from "../harness/services.js";

export interface CSdkEnv {
  /** The c-sdk function's URL: http://127.0.0.1:<port>/default/c-sdk */
  url: string;
  /** What the "sink" bindings.http component points at. */
  sink: Recorder;
  /** A secret the "secretstore" component holds. */
  secret: { key: string; value: string };
  /** Puts an item in the "configstore" component. */
  seedConfig(key: string, value: string, version: string): Promise<void>;
}

// The fixture's JSON, read field by field: any keeps each case short.
type Answer = Record<string, any>;

export function cSdkCapabilities(name: string, env: () => CSdkEnv): void {
  describe(`C SDK capabilities: ${name}`, () => {
    const run = Math.random().toString(36).slice(2, 8);
    const k = (s: string) => `${run}-${s}`;
    const get = async (p: string, init?: RequestInit) => (await (await fetch(env().url + p, init)).json()) as Answer;
    const post = (p: string, body: string | Uint8Array<ArrayBuffer>) => get(p, { method: "POST", body });

    it("state: set, get with etag, stale etag is CONFLICT, create-if-absent, delete, binary values", async () => {
      expect(await post(`/state/set?key=${k("a")}`, "v1")).toMatchObject({ code: 0, name: "OK", message: "" });
      const got = await get(`/state/get?key=${k("a")}`);
      expect(got).toMatchObject({ code: 0, found: true, item: { key: k("a"), value: "v1" } });
      const etag = encodeURIComponent(got.item.etag);
      expect(await post(`/state/set?key=${k("a")}&etag=${etag}`, "v2")).toMatchObject({ code: 0 });
      const stale = await post(`/state/set?key=${k("a")}&etag=${etag}`, "v3");
      expect(stale).toMatchObject({ code: 6, name: "CONFLICT" });
      expect(stale.message).toMatch(/etag/i);
      expect(await post(`/state/create?key=${k("a")}`, "again")).toMatchObject({ code: 6 });
      expect(await post(`/state/create?key=${k("new")}`, "first")).toMatchObject({ code: 0 });
      expect((await get(`/state/get?key=${k("new")}`)).item.value).toBe("first");
      expect(await get(`/state/delete?key=${k("a")}&etag=${etag}`)).toMatchObject({ code: 6 });
      const cur = encodeURIComponent((await get(`/state/get?key=${k("a")}`)).item.etag);
      expect(await get(`/state/delete?key=${k("a")}&etag=${cur}`)).toMatchObject({ code: 0 });
      expect(await get(`/state/get?key=${k("a")}`)).toMatchObject({ code: 0, found: false });
      expect(await post(`/state/set?key=${k("bin")}`, new Uint8Array([97, 0, 98, 10]))).toMatchObject({ code: 0 });
      expect((await get(`/state/get?key=${k("bin")}`)).item.value).toBe("a\u0000b\n");
    });

    it("state: ttl expires a key; bulk get keeps order; a transaction upserts and deletes, a stale etag in it is CONFLICT", async () => {
      expect(await post(`/state/ttl?key=${k("ttl")}&ttl=1`, "short")).toMatchObject({ code: 0 });
      expect((await get(`/state/get?key=${k("ttl")}`)).item.value).toBe("short");
      await post(`/state/set?key=${k("b1")}`, "one");
      await post(`/state/set?key=${k("b2")}`, "two");
      await post(`/state/set?key=${k("t-del")}`, "x");
      const bulk = await get(`/state/bulk?key=${k("b1")}&key=${k("nope")}&key=${k("b2")}`);
      expect(bulk.items.map((i: { key: string; value: string }) => [i.key, i.value])).toEqual([[k("b1"), "one"], [k("nope"), ""], [k("b2"), "two"]]);
      expect(await post(`/state/transact?upsert=${k("t-a")}&upsert=${k("t-b")}&delete=${k("t-del")}`, "T")).toMatchObject({ code: 0 });
      expect((await get(`/state/get?key=${k("t-b")}`)).item.value).toBe("T");
      expect(await get(`/state/get?key=${k("t-del")}`)).toMatchObject({ found: false });
      // A stale etag (a real one, since overwritten: Redis etags are versions, a made-up one is malformed).
      const old = encodeURIComponent((await get(`/state/get?key=${k("t-a")}`)).item.etag);
      expect(await post(`/state/set?key=${k("t-a")}`, "T1")).toMatchObject({ code: 0 });
      expect(await post(`/state/transact?upsert=${k("t-a")}&etag=${old}`, "T2")).toMatchObject({ code: 6, name: "CONFLICT" });
      expect((await get(`/state/get?key=${k("t-a")}`)).item.value).toBe("T1");
      await new Promise((r) => setTimeout(r, 2200));
      expect(await get(`/state/get?key=${k("ttl")}`)).toMatchObject({ code: 0, found: false });
    });

    it("state: a store with no component is NOT_CONFIGURED, one not granted is DENIED, each with its message", async () => {
      const nc = await get("/state/get?store=unconfigured&key=x");
      expect(nc).toMatchObject({ code: 3, name: "NOT_CONFIGURED", found: false });
      expect(nc.message).toContain("unconfigured");
      const denied = await get("/state/get?store=orders&key=x");
      expect(denied).toMatchObject({ code: 4, name: "DENIED" });
      expect(denied.message).toContain("states");
    });

    it("publish: the event reaches the function's own subscription with its CloudEvent attributes", async () => {
      const id = k("ev");
      expect(await post("/publish", JSON.stringify({ id, text: "é" }))).toMatchObject({ code: 0 });
      const saved = await eventually(async () => { const r = await get(`/state/get?key=event-${id}`); return r.found ? r.item.value as string : undefined; }, 10_000, "the event saved by the C handler");
      const ev = JSON.parse(saved) as Record<string, unknown>;
      expect(ev).toMatchObject({ kind: "event", topic: "c-events", pubsubname: "pubsub", input: "pubsub", specversion: "1.0", datacontenttype: "application/json", data: { id, text: "é" } });
      expect(String(ev.id).length).toBeGreaterThan(0);
    });

    it("bindings: data and path metadata reach the HTTP binding's target; the response data comes back", async () => {
      const before = env().sink.requests.length;
      expect(await post(`/binding?name=sink&op=post&path=/sink/from-c`, `bound ${run}`)).toMatchObject({ code: 0, data: "sink ok" });
      expect(env().sink.requests.slice(before).some((r) => r.method === "POST" && r.url === "/sink/from-c" && r.body === `bound ${run}`)).toBe(true);
      expect(await post(`/binding?name=other&op=post`, "x")).toMatchObject({ code: 4, name: "DENIED" });
    });

    it("invoke: another function by app id (here itself), with verb, body and content type", async () => {
      expect(await post("/invoke?name=csdk&op=echo&verb=PUT", "hi")).toMatchObject({ code: 0, status: 200, body: "echo PUT hi", contentType: "text/plain" });
      expect(await post("/invoke?name=elsewhere&op=echo", "hi")).toMatchObject({ code: 4 });
    });

    it("secrets: a secret's values by name; an absent secret is NOT_FOUND", async () => {
      const { key, value } = env().secret;
      expect(await get(`/secret?name=secretstore&op=${key}`)).toMatchObject({ code: 0, values: { [key]: value }, lookup: value, lookupMissing: null });
      expect(await get("/secret?name=secretstore&op=nothing")).toMatchObject({ code: 5, name: "NOT_FOUND" });
    });

    it("configuration: the items that exist, with value and version", async () => {
      await env().seedConfig(k("color"), "blue", "3");
      const j = await get(`/config?name=configstore&key=${k("color")}&key=${k("missing")}`);
      expect(j).toMatchObject({ code: 0, items: [{ key: k("color"), value: "blue", version: "3" }] });
    });

    it("outbound HTTP: a granted host answers status, headers and body; another host is DENIED", async () => {
      const before = env().sink.requests.length;
      const ok = await post(`/fetch?op=POST&url=${encodeURIComponent(`${env().sink.url}/sink/fetch`)}`, "ping");
      expect(ok).toMatchObject({ code: 0, status: 200, body: "sink ok" });
      expect(ok.headers).toMatch(/^content-type: text\/plain$/m);
      expect(env().sink.requests.slice(before).find((r) => r.url === "/sink/fetch")).toMatchObject({ method: "POST", body: "ping", headers: { "x-from": "c-sdk" } });
      const denied = await get(`/fetch?url=${encodeURIComponent(`http://localhost:${env().sink.port}/sink`)}`);
      expect(denied).toMatchObject({ code: 4, name: "DENIED" });
      expect(denied.message).toContain("permissions.hosts");
    });
  });
}
