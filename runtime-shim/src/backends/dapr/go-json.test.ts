import { describe, expect, it } from "vitest";
import { goJsonStable } from "./go-json.js";

const ok = (s: string) => goJsonStable(new TextEncoder().encode(s));

describe("goJsonStable (may a value take daprd's HTTP state API unchanged?)", () => {
  it("accepts what Go's encoding/json writes back byte for byte", () => {
    for (const s of ["200", "-3", "0.5", '"text"', "true", "null", "[1,2]", "[]", "{}", '{"a":{"x":"y"}}']) expect(ok(s), s).toBe(true);
  });
  it("refuses what Go would re-encode, so those writes take gRPC", () => {
    for (const s of ['{"a":1,"b":2}', '{"b":1,"a":2}', '{"a": 1}', "1.0", "1e21", "12345678901234567890", '"<b>"', '"a&b"', "-0", "plain", "", '{"é":1}', " 1"]) expect(ok(s), s).toBe(false);
    expect(goJsonStable(new Uint8Array([0xff, 0xfe]))).toBe(false);
  });
});
