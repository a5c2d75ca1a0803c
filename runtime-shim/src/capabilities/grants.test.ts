import { describe, expect, it } from "vitest";
import { encodeList, encodeMap, ErrorCode, Op } from "@wasm-fn/abi";
import { EmbeddedBackend } from "../backends/embedded/index.js";
import { createCapabilities, CapabilityRouter, type CallContext } from "./index.js";

const fn = (permissions: Partial<CallContext["fn"]["permissions"]>): CallContext["fn"] => ({ name: "f", namespace: "default", appId: "f", permissions: { hosts: [], ...permissions } });
const codeOf = (f: () => unknown): [number | undefined, string] => { try { f(); return [undefined, ""]; } catch (e) { return [(e as { code: number }).code, (e as Error).message]; } };
const none = encodeMap({});

describe("per-function grants", () => {
  const backend = new EmbeddedBackend();
  const router = new CapabilityRouter(createCapabilities(backend));
  const call = (p: Partial<CallContext["fn"]["permissions"]>, op: number, items: (string | Uint8Array)[]) => codeOf(() => router.forFunction(fn(p)).call(op, encodeList(items), {} as never));

  it("denies every capability a name the config does not grant, and says what to add", () => {
    expect(call({}, Op.STATE_GET, ["s", "k"])).toEqual([ErrorCode.DENIED, expect.stringContaining("states: [s]")]);
    expect(call({ states: ["s"] }, Op.STATE_TRANSACT, ["other"])).toEqual([ErrorCode.DENIED, expect.stringContaining("'other'")]);
    expect(call({ publish: ["ps/a"] }, Op.PUBLISH, ["ps", "b", "x"])).toEqual([ErrorCode.DENIED, expect.stringContaining("permissions: {publish: [ps/b]}")]);
    expect(call({}, Op.BINDING_INVOKE, ["out", "create"])).toEqual([ErrorCode.DENIED, expect.stringContaining("permissions.bindings")]);
    expect(call({}, Op.SECRET_GET, ["vault", "k", none])).toEqual([ErrorCode.DENIED, expect.stringContaining("permissions.secrets")]);
    expect(call({}, Op.CONFIG_GET, ["cfg", "k"])).toEqual([ErrorCode.DENIED, expect.stringContaining("permissions.configuration")]);
    expect(call({}, Op.INVOKE, ["f", "m"])).toEqual([ErrorCode.DENIED, expect.stringContaining("permissions.invoke")]);
  });

  it("reads the constructor and __proto__ names as names, not as grants", () => {
    expect(call({}, Op.STATE_GET, ["constructor", "k"])[0]).toBe(ErrorCode.DENIED);
    expect(call({}, Op.STATE_GET, ["__proto__", "k"])[0]).toBe(ErrorCode.DENIED);
  });

  it("grants pubsub/topic and pubsub/*; app ids whole or by method prefix on a segment boundary", () => {
    expect(call({ states: ["s"] }, Op.STATE_GET, ["s", "k"])[0]).toBeUndefined();
    expect(call({ publish: ["ps/*"] }, Op.PUBLISH, ["ps", "any", "x"])[0]).not.toBe(ErrorCode.DENIED);
    expect(call({ invoke: ["orders/api"] }, Op.INVOKE, ["orders", "api/v1", "GET"])[0]).not.toBe(ErrorCode.DENIED);
    expect(call({ invoke: ["orders/api"] }, Op.INVOKE, ["orders", "/api", "GET"])[0]).not.toBe(ErrorCode.DENIED);
    for (const m of ["apix", "admin", "api/../admin", "api/%2e%2e/admin", "api/%2F", "apix?api/"]) expect(call({ invoke: ["orders/api"] }, Op.INVOKE, ["orders", m, "GET"])[0], m).toBe(ErrorCode.DENIED);
    expect(call({ invoke: ["orders/api"] }, Op.INVOKE, ["other", "api", "GET"])[0]).toBe(ErrorCode.DENIED);
  });
});
