import { describe, expect, it } from "vitest";
import { encodeList, encodeMap, ErrorCode, Op } from "@wasm-fn/abi";
import { EmbeddedBackend } from "../../backends/embedded/index.js";
import type { DeliveredEvent } from "../backend.js";
import type { CallContext } from "../index.js";
import { pubsubCapability } from "./index.js";

const ctx = { fn: { name: "t", namespace: "default", appId: "t", permissions: { hosts: [], states: ["s"], publish: ["ps/*"], bindings: ["out", "nope"], secrets: ["vault"], configuration: ["cfg"] } } } as unknown as CallContext;

describe("pubsub capability", () => {
  it("publishes with application/json when no content type is given, and subscribers get a CloudEvent", async () => {
    const b = new EmbeddedBackend();
    const got = new Promise<DeliveredEvent>((r) => b.bus.subscribe("ps", "t", async (ev) => { r(ev); return "SUCCESS"; }));
    pubsubCapability(b).handle(Op.PUBLISH, encodeList(["ps", "t", '{"a":1}', "", encodeMap({})]), ctx);
    const ev = await got;
    expect(ev).toMatchObject({ topic: "t", pubsubname: "ps", datacontenttype: "application/json", specversion: "1.0", type: "com.dapr.event.sent" });
    expect(Buffer.from(ev.data).toString()).toBe('{"a":1}');
    await b.close();
  });

  it("needs a pubsub name and a topic", () => {
    const cap = pubsubCapability(new EmbeddedBackend());
    expect(() => cap.handle(Op.PUBLISH, encodeList(["ps", "", "x"]), ctx)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => cap.handle(Op.PUBLISH, encodeList(["ps"]), ctx)).toThrow(/pubsub\.publish takes/);
  });
});
