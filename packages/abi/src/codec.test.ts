import { describe, expect, it } from "vitest";
import { decodeList, decodeMap, encodeList, encodeMap, text } from "./codec.js";

describe("byte-string list codec", () => {
  it("round-trips strings, bytes and empty items", () => {
    const items = ["statestore", new Uint8Array([0, 255, 7]), "", "ünïcode ✓"];
    const back = decodeList(encodeList(items));
    expect(back.map((b, i) => (typeof items[i] === "string" ? text(b) : [...b]))).toEqual(["statestore", [0, 255, 7], "", "ünïcode ✓"]);
  });

  it("round-trips maps", () => {
    expect(decodeMap(encodeMap({ ttlInSeconds: "5", "content-type": "text/plain" }))).toEqual({ ttlInSeconds: "5", "content-type": "text/plain" });
    expect(decodeMap(new Uint8Array(0))).toEqual({});
  });

  it("refuses truncated, oversized and trailing input with a RangeError", () => {
    const good = encodeList(["abc", "de"]);
    expect(() => decodeList(good.subarray(0, 3))).toThrow(RangeError);
    expect(() => decodeList(good.subarray(0, good.length - 1))).toThrow(/runs past the end/);
    expect(() => decodeList(new Uint8Array([...good, 1]))).toThrow(/trailing/);
    expect(() => decodeList(new Uint8Array([255, 255, 255, 255]))).toThrow(/claims/);
    expect(() => decodeMap(encodeList(["odd"]))).toThrow(/even/);
  });

  it("never throws anything but RangeError on random bytes (fuzz)", () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rand() * 24);
      const bytes = new Uint8Array(len).map(() => (rand() < 0.5 ? Math.floor(rand() * 4) : Math.floor(rand() * 256)));
      try {
        const items = decodeList(bytes);
        // Whatever decodes must re-encode to the same bytes.
        expect([...encodeList(items)]).toEqual([...bytes]);
      } catch (e) {
        expect(e).toBeInstanceOf(RangeError);
      }
    }
  });
});
