import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { decodeList, decodeMap, encodeList, encodeMap, ErrorCode, Op, text } from "@wasm-fn/abi";
import { EmbeddedBackend } from "../../backends/embedded/index.js";
import type { CallContext } from "../index.js";
import { bindingsCapability } from "./index.js";

const ctx = { fn: { name: "t", namespace: "default", appId: "t", permissions: { hosts: [], states: ["s"], publish: ["ps/*"], bindings: ["out", "nope"], secrets: ["vault"], configuration: ["cfg"] } } } as unknown as CallContext;

describe("bindings capability", () => {
  it("invokes an HTTP output binding and answers [data, metadata]", async () => {
    const seen: string[] = [];
    const srv = createServer((req, res) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => { seen.push(`${req.method} ${req.url} ${req.headers["x-tag"]} ${b}`); res.end("done"); }); });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    const b = new EmbeddedBackend({ components: [{ name: "out", type: "bindings.http", metadata: { url } }] });
    const r = decodeList(await bindingsCapability(b).handle(Op.BINDING_INVOKE, encodeList(["out", "create", "payload", encodeMap({ path: "/x", "x-tag": "t1" })]), ctx));
    expect(text(r[0])).toBe("done");
    expect(decodeMap(r[1])).toEqual({ statusCode: "200" });
    expect(seen).toEqual(["POST /x t1 payload"]);
    srv.close();
  });

  it("an unknown binding is NOT_CONFIGURED; a missing operation is INVALID_ARGUMENT", () => {
    const cap = bindingsCapability(new EmbeddedBackend({ components: [] }));
    expect(() => cap.handle(Op.BINDING_INVOKE, encodeList(["nope", "create", "", encodeMap({})]), ctx)).toThrow(expect.objectContaining({ code: ErrorCode.NOT_CONFIGURED }));
    expect(() => cap.handle(Op.BINDING_INVOKE, encodeList(["nope", "", "", encodeMap({})]), ctx)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
