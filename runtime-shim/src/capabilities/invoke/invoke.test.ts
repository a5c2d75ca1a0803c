import { describe, expect, it, vi } from "vitest";
import { decodeList, encodeList, ErrorCode, Op, text } from "@wasm-fn/abi";
import type { Backend } from "../backend.js";
import type { CallContext } from "../index.js";
import { invokeCapability, LocalApps } from "./index.js";

const ctx = { fn: { name: "caller", namespace: "default", appId: "caller-app", permissions: { hosts: [], invoke: ["a", "elsewhere", "orders"] } } } as unknown as CallContext;
const enc = (s: string) => new TextEncoder().encode(s);

describe("invoke capability", () => {
  it("calls a function of this shim in-process, never the backend", async () => {
    const backend = { invoke: vi.fn() } as unknown as Backend;
    const apps = new LocalApps();
    const local = vi.fn(async () => ({ status: 201, data: enc("made"), contentType: "text/plain" }));
    apps.set("orders", { invoke: local });
    const r = decodeList(await invokeCapability(backend, apps).handle(Op.INVOKE, encodeList(["orders", "/new?x=1", "put", "body", ""]), ctx)).map((b) => text(b));
    expect(r).toEqual(["201", "made", "text/plain"]);
    expect(local).toHaveBeenCalledWith({ method: "new?x=1", verb: "PUT", data: expect.any(Uint8Array), contentType: "application/json", callerAppId: "caller-app" });
    expect(backend.invoke).not.toHaveBeenCalled();
  });

  it("sends other app ids to the backend (daprd)", async () => {
    const backend = { invoke: vi.fn(async () => ({ status: 418, data: enc("teapot"), contentType: "text/plain" })) } as unknown as Backend;
    const r = decodeList(await invokeCapability(backend, new LocalApps()).handle(Op.INVOKE, encodeList(["elsewhere", "m"]), ctx)).map((b) => text(b));
    expect(r).toEqual(["418", "teapot", "text/plain"]);
  });

  it("refuses an unknown verb", () => {
    expect(() => invokeCapability({} as Backend, new LocalApps()).handle(Op.INVOKE, encodeList(["a", "m", "BREW"]), ctx)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
