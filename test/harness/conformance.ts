/**
 * The backend conformance suite: one set of cases every backend must pass, run through the
 * capability layer (ABI-encoded arguments in, encoded results or ABI error codes out), so the
 * encoding, the error mapping and the backend are checked together. The run against real daprd
 * (test/dapr-conformance.test.ts) is the one that counts; the embedded run keeps local work honest.
 *
 * @example backendConformance("embedded", async () => embeddedEnv());
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeList, encodeList, encodeMap, ErrorCode, Op, text, type Item } from "@wasm-fn/abi";
import type { Backend, DeliveredEvent } from "../../runtime-shim/dist/capabilities/backend.js";
import { CapabilityRouter, createCapabilities } from "../../runtime-shim/dist/capabilities/index.js";
import type { HostCalls } from "../../runtime-shim/dist/instance/instance.js";

/** Component names every conformance environment provides. */
export const NAMES = { state: "statestore", pubsub: "pubsub", topic: "conformance", binding: "sink", secrets: "secretstore", config: "configstore" } as const;
/** What the secret store holds (local.file: nested keys flattened with ":"). */
export const SECRETS = { "db-password": "s3cret", api: { token: "t0k" } };

export interface SinkRequest { method: string; url: string; body: string; headers: Record<string, string | string[] | undefined> }

export interface ConformanceEnv {
  backend: Backend;
  /** The next event delivered on NAMES.topic (subscribed before the first publish). */
  nextEvent(): Promise<DeliveredEvent>;
  /** Requests the NAMES.binding target received. */
  sink: SinkRequest[];
  seedConfig(key: string, value: string): Promise<void>;
  /** Another Dapr app answering POST /echo (echoes the body) and /teapot (418); none for embedded. */
  remoteAppId?: string;
  close(): Promise<void>;
}

type Answer = { ok: true; items: Uint8Array[] } | { ok: false; code: number; message: string };

/**
 * The suite's function is granted every name it uses, the "no-such-*" ones too: what it checks
 * there is the backend's own answer (NOT_CONFIGURED), past the grant check.
 */
const GRANTS = (remote?: string) => ({
  hosts: [], states: [NAMES.state, "no-such-store"], publish: [`${NAMES.pubsub}/${NAMES.topic}`], bindings: [NAMES.binding, "no-such-binding"],
  secrets: [NAMES.secrets, "no-such-secrets"], configuration: [NAMES.config], invoke: ["no-such-app", ...(remote ? [remote] : [])],
});

export function backendConformance(name: string, factory: () => Promise<ConformanceEnv>): void {
  describe(`backend conformance: ${name}`, () => {
    let env: ConformanceEnv;
    let host: HostCalls;
    const run = Math.random().toString(36).slice(2, 8);
    const k = (s: string) => `${run}-${s}`;

    beforeAll(async () => {
      env = await factory();
      host = new CapabilityRouter(createCapabilities(env.backend)).forFunction({ name: "conformance", namespace: "default", appId: "conformance", permissions: GRANTS(env.remoteAppId) });
    });
    afterAll(async () => { await env?.close(); });

    async function call(op: number, items: Item[]): Promise<Answer> {
      try {
        const r = await host.call(op, encodeList(items), {} as never);
        return { ok: true, items: decodeList(r) };
      } catch (e) {
        const ce = e as { code: number; message: string };
        return { ok: false, code: ce.code, message: ce.message };
      }
    }
    const ok = (a: Answer): Uint8Array[] => { if (!a.ok) throw new Error(`expected success, got ${a.code}: ${a.message}`); return a.items; };
    const err = (a: Answer): { code: number; message: string } => { if (a.ok) throw new Error("expected an error, got success"); return a; };
    const none = encodeMap({});

    it("state: get of an absent key is empty; save then get round-trips bytes with an etag", async () => {
      expect(ok(await call(Op.STATE_GET, [NAMES.state, k("absent")]))).toEqual([]);
      const bytes = new Uint8Array([0, 1, 2, 255, 254, 10]);
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("bin"), bytes, "", none]));
      const [value, etag] = ok(await call(Op.STATE_GET, [NAMES.state, k("bin")]));
      expect(Array.from(value!)).toEqual(Array.from(bytes));
      expect(text(etag).length).toBeGreaterThan(0);
    });

    it("state: values keep their exact bytes, whatever their form (JSON canonical or not, text, binary)", async () => {
      const values = ["42", '{"a":1,"b":[1,2]}', '{"b":1, "a":2.50}', "12345678901234567890", "plain <text> & more", "", "\u00e9t\u00e9"];
      for (const [i, v] of values.entries()) {
        ok(await call(Op.STATE_SAVE, [NAMES.state, k(`exact-${i}`), v, "", none]));
        expect(text(ok(await call(Op.STATE_GET, [NAMES.state, k(`exact-${i}`)]))[0])).toBe(v);
      }
      const up = (key: string, v: string) => encodeList(["upsert", key, v, "", encodeMap({ ttlInSeconds: "600" })]);
      ok(await call(Op.STATE_TRANSACT, [NAMES.state, up(k("exact-tx1"), "7"), up(k("exact-tx2"), '{"z":1, "y":2}')]));
      expect(text(ok(await call(Op.STATE_GET, [NAMES.state, k("exact-tx1")]))[0])).toBe("7");
      expect(text(ok(await call(Op.STATE_GET, [NAMES.state, k("exact-tx2")]))[0])).toBe('{"z":1, "y":2}');
      // A JSON value with an etag (the counter's path) still checks the etag.
      const etag = text(ok(await call(Op.STATE_GET, [NAMES.state, k("exact-0")]))[1]);
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("exact-0"), "43", etag, none]));
      expect(err(await call(Op.STATE_SAVE, [NAMES.state, k("exact-0"), "44", etag, none])).code).toBe(ErrorCode.CONFLICT);
    });

    it("state: first-write-wins with etags (stale save and delete are CONFLICT)", async () => {
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("etag"), "v1", "", none]));
      const etag1 = text(ok(await call(Op.STATE_GET, [NAMES.state, k("etag")]))[1]);
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("etag"), "v2", etag1, none]));
      const [v2, etag2] = ok(await call(Op.STATE_GET, [NAMES.state, k("etag")]));
      expect(text(v2)).toBe("v2");
      expect(text(etag2)).not.toBe(etag1);
      const stale = err(await call(Op.STATE_SAVE, [NAMES.state, k("etag"), "v3", etag1, none]));
      expect(stale.code).toBe(ErrorCode.CONFLICT);
      expect(stale.message).toMatch(/etag/i);
      expect(err(await call(Op.STATE_DELETE, [NAMES.state, k("etag"), etag1, none])).code).toBe(ErrorCode.CONFLICT);
      ok(await call(Op.STATE_DELETE, [NAMES.state, k("etag"), text(etag2), none]));
      expect(ok(await call(Op.STATE_GET, [NAMES.state, k("etag")]))).toEqual([]);
    });

    it("state: first-write without an etag creates only when absent", async () => {
      const fw = encodeMap({ concurrency: "first-write" });
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("create"), "first", "", fw]));
      expect(err(await call(Op.STATE_SAVE, [NAMES.state, k("create"), "second", "", fw])).code).toBe(ErrorCode.CONFLICT);
      expect(text(ok(await call(Op.STATE_GET, [NAMES.state, k("create")]))[0])).toBe("first");
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("create-json"), "1", "", fw]));
      expect(err(await call(Op.STATE_SAVE, [NAMES.state, k("create-json"), "2", "", fw])).code).toBe(ErrorCode.CONFLICT);
    });

    it("state: bulk get returns every key in order, absent ones empty", async () => {
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("b1"), "one", "", none]));
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("b2"), "two", "", none]));
      const items = ok(await call(Op.STATE_BULK_GET, [NAMES.state, k("b1"), k("nope"), k("b2")])).map((b) => text(b));
      expect([items[0], items[1], items[3], items[4], items[6], items[7]]).toEqual([k("b1"), "one", k("nope"), "", k("b2"), "two"]);
      expect(items[2]!.length).toBeGreaterThan(0);
    });

    // Redis (through daprd) does not roll back the other operations of a transaction whose etag
    // check fails, so only the failing operation's own effect is part of the contract here; the
    // embedded backend's all-or-nothing is checked in its own unit test.
    it("state: a transaction applies upserts and deletes; a stale etag in it is CONFLICT", async () => {
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("t-del"), "x", "", none]));
      const up = (key: string, v: string, etag = "") => encodeList(["upsert", key, v, etag, none]);
      ok(await call(Op.STATE_TRANSACT, [NAMES.state, up(k("t-a"), "A"), encodeList(["delete", k("t-del"), "", "", none])]));
      expect(text(ok(await call(Op.STATE_GET, [NAMES.state, k("t-a")]))[0])).toBe("A");
      expect(ok(await call(Op.STATE_GET, [NAMES.state, k("t-del")]))).toEqual([]);
      const etag = text(ok(await call(Op.STATE_GET, [NAMES.state, k("t-a")]))[1]);
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("t-a"), "A2", etag, none]));
      const failed = err(await call(Op.STATE_TRANSACT, [NAMES.state, up(k("t-b"), "B"), up(k("t-a"), "A3", etag)]));
      expect(failed.code).toBe(ErrorCode.CONFLICT);
      expect(text(ok(await call(Op.STATE_GET, [NAMES.state, k("t-a")]))[0])).toBe("A2");
    });

    it("state: ttlInSeconds metadata expires a key", async () => {
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("ttl"), "short", "", encodeMap({ ttlInSeconds: "1" })]));
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("ttl-json"), "1", "", encodeMap({ ttlInSeconds: "1" })]));
      ok(await call(Op.STATE_SAVE, [NAMES.state, k("ttl-long"), "long", "", encodeMap({ ttlInSeconds: "600" })]));
      expect(text(ok(await call(Op.STATE_GET, [NAMES.state, k("ttl")]))[0])).toBe("short");
      await new Promise((r) => setTimeout(r, 2200));
      expect(ok(await call(Op.STATE_GET, [NAMES.state, k("ttl")]))).toEqual([]);
      expect(ok(await call(Op.STATE_GET, [NAMES.state, k("ttl-json")]))).toEqual([]);
      expect(text(ok(await call(Op.STATE_GET, [NAMES.state, k("ttl-long")]))[0])).toBe("long");
    });

    it("state: an unknown store is NOT_CONFIGURED and says which", async () => {
      const e = err(await call(Op.STATE_GET, ["no-such-store", "k"]));
      expect(e.code).toBe(ErrorCode.NOT_CONFIGURED);
      expect(e.message).toContain("no-such-store");
    });

    it("pubsub: a publish reaches the subscriber as a CloudEvent with the data and content type", async () => {
      const next = env.nextEvent();
      const payload = JSON.stringify({ order: k("o1"), qty: 2 });
      ok(await call(Op.PUBLISH, [NAMES.pubsub, NAMES.topic, payload, "application/json", none]));
      const ev = await next;
      expect(JSON.parse(Buffer.from(ev.data).toString())).toEqual(JSON.parse(payload));
      expect(ev).toMatchObject({ topic: NAMES.topic, pubsubname: NAMES.pubsub, specversion: "1.0", datacontenttype: "application/json" });
      expect(ev.id.length).toBeGreaterThan(0);
    });

    it("bindings: an HTTP output binding gets the operation, data and path metadata", async () => {
      const before = env.sink.length;
      const r = ok(await call(Op.BINDING_INVOKE, [NAMES.binding, "post", `hello ${run}`, encodeMap({ path: "/hook/1" })]));
      expect(text(r[0])).toBe("sink ok");
      const got = env.sink.slice(before).find((s) => s.body === `hello ${run}`);
      expect(got).toMatchObject({ method: "POST", url: "/hook/1" });
      expect(err(await call(Op.BINDING_INVOKE, ["no-such-binding", "post", "", none])).code).toBe(ErrorCode.NOT_CONFIGURED);
    });

    it("secrets: get returns the secret's values; nested keys are flattened with ':'", async () => {
      const a = ok(await call(Op.SECRET_GET, [NAMES.secrets, "db-password", none])).map((b) => text(b));
      expect(a).toEqual(["db-password", "s3cret"]);
      expect(ok(await call(Op.SECRET_GET, [NAMES.secrets, "api:token", none])).map((b) => text(b))).toEqual(["api:token", "t0k"]);
      expect(err(await call(Op.SECRET_GET, ["no-such-secrets", "x", none])).code).toBe(ErrorCode.NOT_CONFIGURED);
      const missing = err(await call(Op.SECRET_GET, [NAMES.secrets, "no-such-secret", none]));
      expect(missing.code, missing.message).toBe(ErrorCode.NOT_FOUND);
    });

    it("config: get returns the items that exist", async () => {
      await env.seedConfig(k("feature"), "on");
      const items = ok(await call(Op.CONFIG_GET, [NAMES.config, k("feature"), k("missing")])).map((b) => text(b));
      expect(items.slice(0, 2)).toEqual([k("feature"), "on"]);
      expect(items.length).toBe(3);
    });

    it("invoke: another app answers with its status; an unknown app is an error", async () => {
      if (env.remoteAppId) {
        const r = ok(await call(Op.INVOKE, [env.remoteAppId, "echo", "POST", `ping ${run}`, "text/plain"])).map((b) => text(b));
        expect(r[0]).toBe("200");
        expect(r[1]).toBe(`echo ping ${run}`);
        const t = ok(await call(Op.INVOKE, [env.remoteAppId, "teapot", "GET", "", "text/plain"])).map((b) => text(b));
        expect(t[0]).toBe("418");
      }
      const missing = err(await call(Op.INVOKE, ["no-such-app", "x", "POST", "", "text/plain"]));
      expect([ErrorCode.NOT_FOUND, ErrorCode.UNAVAILABLE, ErrorCode.INTERNAL]).toContain(missing.code);
      expect(missing.message).toContain("no-such-app");
    });

    it("malformed arguments are INVALID_ARGUMENT, not a backend call", async () => {
      const bad = await Promise.resolve().then(() => host.call(Op.STATE_GET, new Uint8Array([9, 0, 0, 0]), {} as never)).then(() => null, (e: { code: number }) => e.code);
      expect(bad).toBe(ErrorCode.INVALID_ARGUMENT);
      expect(err(await call(Op.STATE_SAVE, [NAMES.state, "k", "v", "", encodeMap({ ttlInSeconds: "soon" })])).code).toBe(ErrorCode.INVALID_ARGUMENT);
    });
  });
}
