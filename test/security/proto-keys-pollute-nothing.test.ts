// Attack: a function (or a client through it) uses "__proto__", "constructor" or "prototype" as a
// state key, a store name, metadata or an outbound header name, hoping to change Object.prototype
// or another function's view of the shim. They must be stored as data; no shared object changes.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeMap, encodeMap } from "@wasm-fn/abi";
import { EmbeddedBackend } from "../../runtime-shim/dist/backends/embedded/index.js";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";

const NAMES = ["__proto__", "constructor", "prototype", "hasOwnProperty", "toString"];
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function prototypeUntouched(): void {
  const probe = {} as Record<string, unknown>;
  for (const n of ["v", "e", "x", "polluted", "value"]) expect(probe[n], `Object.prototype.${n}`).toBeUndefined();
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  expect(typeof ({}).toString).toBe("function");
}

describe("the embedded state store", () => {
  it("keeps those names as keys and stores, across a restart, and changes no prototype", async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "wfn-proto-")), "state.json");
    const a = new EmbeddedBackend({ file });
    for (const store of ["statestore", ...NAMES]) {
      for (const key of NAMES) a.stateSave(store, { key, value: enc(`${store}/${key}`), etag: "", metadata: {} });
    }
    prototypeUntouched();
    for (const store of ["statestore", ...NAMES]) {
      for (const key of NAMES) expect(dec(a.stateGet(store, key)!.value)).toBe(`${store}/${key}`);
    }
    expect(a.stateGet("statestore", "absent")).toBeNull();
    expect(a.stateGet("other", "__proto__")).toBeNull();
    await a.close();
    const b = new EmbeddedBackend({ file });
    for (const key of NAMES) expect(dec(b.stateGet("__proto__", key)!.value)).toBe(`__proto__/${key}`);
    prototypeUntouched();
    await b.close();
  });

  it("configuration items by those names are data too", async () => {
    const a = new EmbeddedBackend({});
    for (const key of NAMES) a.setConfig("__proto__", key, `v-${key}`, "1");
    expect((await a.configGet("__proto__", NAMES)).map((i) => i.value)).toEqual(NAMES.map((k) => `v-${k}`));
    expect(await a.configGet("constructor", [])).toEqual([]);
    prototypeUntouched();
    await a.close();
  });
});

describe("guest-supplied maps", () => {
  it("metadata decoded from a guest keeps __proto__ as a key", () => {
    const m = decodeMap(encodeMap(Object.fromEntries(NAMES.map((n) => [n, `m-${n}`]))));
    for (const n of NAMES) expect(m[n]).toBe(`m-${n}`);
    prototypeUntouched();
  });
});

describe("through the shim: a function stores under those names; admin, metrics and state still answer", () => {
  let shim: Served;
  beforeAll(async () => {
    await ensureBuilt("test/fixtures/dapr-probe");
    shim = await serve(["test/fixtures/dapr-probe"], ["--state-file", path.join(mkdtempSync(path.join(os.tmpdir(), "wfn-proto-shim-")), "state.json")]);
  });
  afterAll(async () => { await shim?.stop(); });

  it("stores and reads back every name, in every store name", async () => {
    const fn = `${shim.url}/default/dapr-probe`;
    for (const store of ["statestore", "__proto__", "constructor"]) {
      for (const key of NAMES) {
        const set = (await (await fetch(`${fn}/state/set?store=${store}&key=${key}`, { method: "POST", body: `${store}:${key}` })).json()) as { code: number };
        expect(set.code, `${store}/${key}`).toBe(0);
      }
    }
    for (const store of ["statestore", "__proto__", "constructor"]) {
      for (const key of NAMES) {
        const got = (await (await fetch(`${fn}/state/get?store=${store}&key=${key}`)).json()) as { code: number; value: string };
        expect(got).toMatchObject({ code: 0, value: `${store}:${key}` });
      }
    }
    expect((await fetch(`${shim.url}/metrics`)).status).toBe(200);
    const admin = (await (await fetch(`${shim.url}/admin/functions`)).json()) as unknown[];
    expect(Array.isArray(admin) ? admin.length : Object.keys(admin as object).length).toBeGreaterThan(0);
    expect((await fetch(`${fn}/state/get?key=absent`)).status).toBe(200);
  });
});
