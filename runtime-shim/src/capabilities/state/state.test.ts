import { describe, expect, it } from "vitest";
import { decodeList, encodeList, encodeMap, ErrorCode, Op, text } from "@wasm-fn/abi";
import { EmbeddedBackend } from "../../backends/embedded/index.js";
import { BackendError, BackendErrors, type Backend } from "../backend.js";
import type { CallContext } from "../index.js";
import { stateCapability } from "./index.js";

const ctx = { fn: { name: "t", namespace: "default", appId: "t", permissions: { hosts: [], states: ["s"], publish: ["ps/*"], bindings: ["out", "nope"], secrets: ["vault"], configuration: ["cfg"] } } } as unknown as CallContext;
const none = encodeMap({});
const codeOf = (f: () => unknown): number | undefined => { try { f(); return undefined; } catch (e) { return (e as { code: number }).code; } };

describe("state capability", () => {
  it("answers synchronously from a synchronous backend (no asyncify unwind for the guest)", () => {
    const cap = stateCapability(new EmbeddedBackend());
    const saved = cap.handle(Op.STATE_SAVE, encodeList(["s", "k", "v", "", none]), ctx);
    expect(saved).toBeInstanceOf(Uint8Array);
    const got = cap.handle(Op.STATE_GET, encodeList(["s", "k"]), ctx) as Uint8Array;
    expect(decodeList(got).map((b) => text(b))).toEqual(["v", expect.any(String)]);
  });

  it("rejects malformed arguments with INVALID_ARGUMENT and names the op", () => {
    const cap = stateCapability(new EmbeddedBackend());
    expect(codeOf(() => cap.handle(Op.STATE_GET, encodeList(["s"]), ctx))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => cap.handle(Op.STATE_GET, encodeList(["", "k"]), ctx))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => cap.handle(Op.STATE_SAVE, encodeList(["s", "k", "v", "", encodeMap({ ttlInSeconds: "1.5" })]), ctx))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => cap.handle(Op.STATE_SAVE, encodeList(["s", "k", "v", "", encodeMap({ concurrency: "maybe" })]), ctx))).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(codeOf(() => cap.handle(Op.STATE_TRANSACT, encodeList(["s", encodeList(["merge", "k", "v", "", none])]), ctx))).toBe(ErrorCode.INVALID_ARGUMENT);
    try { cap.handle(Op.STATE_BULK_GET, new Uint8Array([1, 0]), ctx); } catch (e) { expect((e as Error).message).toContain("state.getBulk"); }
  });

  it("maps a backend's errors to ABI codes, for sync and async backends alike", async () => {
    const failing = { stateGet: () => { throw new BackendError(BackendErrors.CONFLICT, "sync conflict"); }, stateDelete: async () => { throw new BackendError(BackendErrors.UNAVAILABLE, "async down"); } } as unknown as Backend;
    const cap = stateCapability(failing);
    expect(codeOf(() => cap.handle(Op.STATE_GET, encodeList(["s", "k"]), ctx))).toBe(ErrorCode.CONFLICT);
    await expect(cap.handle(Op.STATE_DELETE, encodeList(["s", "k", "", none]), ctx)).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE, message: "async down" });
  });

  it("encodes bulk results as key, value, etag triples with absent keys empty", () => {
    const b = new EmbeddedBackend();
    const cap = stateCapability(b);
    cap.handle(Op.STATE_SAVE, encodeList(["s", "a", "1", "", none]), ctx);
    const items = decodeList(cap.handle(Op.STATE_BULK_GET, encodeList(["s", "a", "b"]), ctx) as Uint8Array).map((x) => text(x));
    expect([items[0], items[1], items[3], items[4], items[5]]).toEqual(["a", "1", "b", "", ""]);
  });
});
