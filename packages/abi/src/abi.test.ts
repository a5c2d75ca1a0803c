import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ABI_MAJOR, ABI_MINOR, ErrorCode, Field, HOST_IMPORTS, LogLevel, Op, Outcome, packVersion, unpackVersion } from "./abi.js";

const sdk = readFileSync(new URL("../../sdk/assembly/abi.ts", import.meta.url), "utf8");
const header = readFileSync(new URL("../../sdk/include/wasm_fn.h", import.meta.url), "utf8");

/** `export namespace X { export const NAME: i32 = N; }` -> { NAME: N } for namespace X. */
function sdkNamespace(name: string): Record<string, number> {
  const block = new RegExp(`export namespace ${name} \\{([\\s\\S]*?)\\n\\}`).exec(sdk)?.[1] ?? "";
  return Object.fromEntries([...block.matchAll(/export const (\w+): i32 = (\d+);/g)].map((m) => [m[1], Number(m[2])]));
}
/** `WFN_<PREFIX>_NAME = N` from the C header. */
function cEnum(prefix: string): Record<string, number> {
  return Object.fromEntries([...header.matchAll(new RegExp(`WFN_${prefix}_(\\w+) = (\\d+)`, "g"))].map((m) => [m[1], Number(m[2])]));
}

describe("ABI v1 has one source of truth", () => {
  it("the AssemblyScript SDK restates every number of packages/abi", () => {
    expect(sdkNamespace("Field")).toEqual(Field);
    expect(sdkNamespace("Op")).toEqual(Op);
    expect(sdkNamespace("Outcome")).toEqual(Outcome);
    expect(sdkNamespace("LogLevel")).toEqual(LogLevel);
    expect(sdkNamespace("ErrorCode")).toEqual({ OK: 0, ...ErrorCode });
    expect(sdk).toContain(`ABI_MAJOR: i32 = ${ABI_MAJOR};`);
    expect(sdk).toContain(`ABI_MINOR: i32 = ${ABI_MINOR};`);
  });

  it("the SDK declares exactly the host imports, with their arity", () => {
    const declared = Object.fromEntries(
      [...sdk.matchAll(/@external\("wfn", "(\w+)"\) export declare function \w+\(([^)]*)\): (\w+)/g)].map((m) => [
        m[1],
        [m[2]!.trim() === "" ? 0 : m[2]!.split(",").length, m[3] === "void" ? 0 : 1],
      ]),
    );
    expect(declared).toEqual(Object.fromEntries(Object.entries(HOST_IMPORTS).map(([k, v]) => [k, [...v]])));
  });

  it("the C header restates the same numbers and imports", () => {
    const upper = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toUpperCase(), v]));
    expect(cEnum("FIELD")).toEqual(upper(Field));
    expect(cEnum("OP")).toEqual(upper(Op));
    expect(cEnum("ERR")).toEqual(upper(ErrorCode));
    expect(cEnum("OUTCOME")).toEqual(upper(Outcome));
    expect(cEnum("LOG")).toEqual(upper(LogLevel));
    for (const name of Object.keys(HOST_IMPORTS)) expect(header).toContain(`WFN_IMPORT("${name}")`);
    expect(header).toContain(`#define WFN_ABI_MAJOR ${ABI_MAJOR}`);
  });

  it("packs versions as (major << 16) | minor", () => {
    expect(packVersion(1, 0)).toBe(0x10000);
    expect(unpackVersion(packVersion(3, 7))).toEqual({ major: 3, minor: 7 });
  });
});
