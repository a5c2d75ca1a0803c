import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BackendErrors } from "../../capabilities/backend.js";
import { EmbeddedBackend, readComponents } from "./index.js";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString();
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "wfn-emb-"));
const save = (b: EmbeddedBackend, key: string, v: string, etag = "", metadata: Record<string, string> = {}) => b.stateSave("s", { key, value: enc(v), etag, metadata });

describe("embedded backend", () => {
  it("persists state to its file atomically and reads it back in a new process", async () => {
    const file = path.join(tmp(), "deep", "state.json");
    const a = new EmbeddedBackend({ file });
    save(a, "k", "v1");
    save(a, "bin", "\u0000\u00ff");
    await a.close();
    expect(JSON.parse(readFileSync(file, "utf8")).version).toBe(1);
    expect(readdirSync(path.dirname(file)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    const b = new EmbeddedBackend({ file });
    expect(dec(b.stateGet("s", "k")?.value)).toBe("v1");
    expect(dec(b.stateGet("s", "bin")?.value)).toBe("\u0000\u00ff");
    await b.close();
  });

  it("writes soon after a change, without waiting for close (a crash keeps what was acknowledged)", async () => {
    const file = path.join(tmp(), "state.json");
    const a = new EmbeddedBackend({ file });
    save(a, "k", "early");
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(file)).toBe(true);
    expect(new EmbeddedBackend({ file }).stateGet("s", "k")).not.toBeNull();
    await a.close();
  });

  it("refuses a corrupt state file with a clear error", () => {
    const file = path.join(tmp(), "state.json");
    writeFileSync(file, "{ nope");
    expect(() => new EmbeddedBackend({ file })).toThrow(/state file .* is not valid JSON/);
  });

  it("never reuses an etag, even for a key deleted and written again", () => {
    const b = new EmbeddedBackend();
    save(b, "k", "1");
    const old = b.stateGet("s", "k")!.etag;
    b.stateDelete("s", "k", old);
    save(b, "k", "2");
    expect(() => save(b, "k", "3", old)).toThrow(expect.objectContaining({ code: BackendErrors.CONFLICT }));
  });

  it("applies a transaction all or nothing", () => {
    const b = new EmbeddedBackend();
    save(b, "a", "1");
    expect(() => b.stateTransact("s", [{ kind: "upsert", key: "new", value: enc("x"), etag: "", metadata: {} }, { kind: "delete", key: "a", etag: "stale", metadata: {} }])).toThrow(/etag mismatch/);
    expect(b.stateGet("s", "new")).toBeNull();
    expect(dec(b.stateGet("s", "a")?.value)).toBe("1");
  });

  it("expires keys with ttlInSeconds; -1 never expires", async () => {
    const b = new EmbeddedBackend();
    save(b, "short", "x", "", { ttlInSeconds: "1" });
    save(b, "forever", "y", "", { ttlInSeconds: "-1" });
    await new Promise((r) => setTimeout(r, 1100));
    expect(b.stateGet("s", "short")).toBeNull();
    expect(b.stateGet("s", "forever")).not.toBeNull();
  });

  it("finds only a store's own secrets (not Object.prototype's members)", () => {
    const b = new EmbeddedBackend({ secrets: { vault: { db: { password: "p" } } } });
    expect(b.secretGet("vault", "db")).toEqual({ password: "p" });
    for (const key of ["constructor", "__proto__", "toString"]) expect(() => b.secretGet("vault", key)).toThrow(expect.objectContaining({ code: BackendErrors.NOT_FOUND }));
    expect(() => b.secretGet("toString", "name")).toThrow(expect.objectContaining({ code: BackendErrors.NOT_CONFIGURED }));
  });

  it("checks names against components when it has them", async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, "c.yaml"), "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: store}\nspec:\n  type: state.redis\n  version: v1\n  metadata: [{name: redisHost, value: localhost:6379}]\n---\nkind: Configuration\nmetadata: {name: ignored}\n");
    const comps = await readComponents(dir);
    expect(comps).toEqual([{ name: "store", type: "state.redis", metadata: { redisHost: "localhost:6379" } }]);
    const b = new EmbeddedBackend({ components: comps });
    expect(b.stateGet("store", "k")).toBeNull();
    expect(() => b.stateGet("other", "k")).toThrow(expect.objectContaining({ code: BackendErrors.NOT_CONFIGURED }));
    expect(() => b.publish("pubsub", "t", enc(""), "text/plain")).toThrow(/pubsub 'pubsub' is not configured/);
  });
});
