import { describe, expect, it } from "vitest";
import { decodeList, encodeList, ErrorCode, Op, text } from "@wasm-fn/abi";
import { EmbeddedBackend } from "../../backends/embedded/index.js";
import type { CallContext } from "../index.js";
import { configCapability } from "./index.js";

const ctx = { fn: { name: "t", namespace: "default", appId: "t", permissions: { hosts: [], states: ["s"], publish: ["ps/*"], bindings: ["out", "nope"], secrets: ["vault"], configuration: ["cfg"] } } } as unknown as CallContext;

describe("config capability", () => {
  it("answers key, value, version for the keys that exist", () => {
    const b = new EmbeddedBackend();
    b.setConfig("cfg", "color", "blue", "7");
    const items = decodeList(configCapability(b).handle(Op.CONFIG_GET, encodeList(["cfg", "color", "size"]), ctx) as Uint8Array).map((x) => text(x));
    expect(items).toEqual(["color", "blue", "7"]);
  });

  it("needs a store name", () => {
    expect(() => configCapability(new EmbeddedBackend()).handle(Op.CONFIG_GET, encodeList([""]), ctx)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
