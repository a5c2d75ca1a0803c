// The C SDK (packages/sdk/include/wasm_fn.h) end to end on the embedded backend: the fixture
// test/fixtures/c-sdk answers, for each SDK call, what the call returned; examples/counter-c is
// the state example (its daprd + Redis runs are in dapr-examples and wasmedge-dapr.test.ts).
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodeForStatus } from "@wasm-fn/abi";
import type { EmbeddedBackend } from "../runtime-shim/dist/backends/embedded/index.js";
import { createLogger, startServing, type Serving } from "../runtime-shim/dist/index.js";
import { writeResources } from "./harness/dapr.js";
import { cSdkCapabilities } from "./conformance/c-sdk.case.js";
import { ensureBuilt, eventually, startRecorder, type Recorder } from "./harness/services.js";

let serving: Serving, sink: Recorder;
const logs: string[] = [];
const url = (p: string) => `${serving.shim.url}/default/c-sdk${p}`;
const get = async (p: string, init?: RequestInit) => (await (await fetch(url(p), init)).json()) as Record<string, any>;
const post = (p: string, body: string | Uint8Array<ArrayBuffer>) => get(p, { method: "POST", body });
const run = Date.now().toString(36);

beforeAll(async () => {
  await Promise.all([ensureBuilt("test/fixtures/c-sdk"), ensureBuilt("examples/counter-c")]);
  sink = await startRecorder();
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-csdk-"));
  writeFileSync(path.join(dir, "secrets.json"), JSON.stringify({ "db-password": "s3cret" }));
  const resources = writeResources([
    { name: "statestore", type: "state.redis", metadata: { redisHost: "unused:0" } },
    { name: "pubsub", type: "pubsub.redis", metadata: { redisHost: "unused:0" } },
    { name: "sink", type: "bindings.http", metadata: { url: sink.url } },
    { name: "secretstore", type: "secretstores.local.file", metadata: { secretsFile: path.join(dir, "secrets.json") } },
    { name: "configstore", type: "configuration.redis", metadata: { redisHost: "unused:0" } },
  ], path.join(dir, "resources"));
  serving = await startServing({
    functions: [{ kind: "dir", dir: "test/fixtures/c-sdk" }, { kind: "dir", dir: "examples/counter-c" }], port: 0,
    log: createLogger({ write: (l) => logs.push(l) }),
    backend: { kind: "embedded", stateFile: null, resourcesPath: resources },
  });
}, 600_000);

afterAll(async () => {
  await serving?.close();
  await sink?.close();
});

describe("C SDK: the request", () => {
  it("query parameters: percent-decoded, '+' is a space, repeated keys by index, absent is NULL", async () => {
    const j = await get("/query?tag=a&tag=b%20c&flag&tag=d+e&name=%C3%A9t%C3%A9%26x&odd=%zz%4&a%20b=1&&tag=");
    expect(j.tag).toEqual({ count: 4, values: ["a", "b c", "d e", ""], pastEnd: null });
    expect(j.flag).toEqual({ count: 1, values: [""], pastEnd: null });
    expect(j.missing).toEqual({ count: 0, values: [], pastEnd: null });
    expect(j.name.values).toEqual(["été&x"]);
    expect(j.odd.values).toEqual(["%zz%4"]);
    expect(j["a b"].values).toEqual(["1"]);
  });

  it("headers (case-insensitive, absent is NULL), method, request id, body; repeated response headers", async () => {
    const r = await fetch(url("/headers"), { method: "POST", body: "payload ✓", headers: { "x-probe": "yes", "x-request-id": `c-${run}` } });
    expect(await r.json()).toEqual({ probe: "yes", absent: null, method: "POST", requestId: `c-${run}`, body: "payload ✓", isEvent: false });
    expect(r.headers.get("x-multi")).toBe("a, b");
    expect(r.headers.get("content-type")).toBe("application/json");
  });
});

describe("C SDK: JSON", () => {
  it("the writer escapes every control character, quotes and backslashes, and passes non-ASCII through", async () => {
    const controls = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join("");
    const text = `${controls.slice(1)}"\\/ é✓😀 \u2028 plain\u0000`;
    const r = await fetch(url("/json/write"), { method: "POST", body: text });
    const raw = await r.text();
    expect(raw).not.toMatch(/[\u0000-\u001f]/);
    expect(raw).toContain("\\u0001\\u0002");
    expect(raw).toContain("\\u001f\\\"\\\\/ é✓😀 \u2028 plain\\u0000");
    expect(raw).toContain("\\b\\t\\n\\u000b\\f\\r");
    const j = JSON.parse(raw) as Record<string, unknown>;
    expect(j.s).toBe(text);
    // The key is written from a C string: up to the NUL; its value is the body's length in bytes.
    expect(j[text.slice(0, -1)]).toBe(Buffer.byteLength(text));
  });

  it("the writer turns bytes that are not UTF-8 into U+FFFD as a WHATWG decoder does, so its JSON is always valid", async () => {
    // a, a stray 0xff, a cut 2-byte, a surrogate, a cut 4-byte then "A", a valid €, an overlong "/", past U+10FFFF, a cut 3-byte at the end
    const bytes = Buffer.from([0x61, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf0, 0x90, 0x80, 0x41, 0xe2, 0x82, 0xac, 0xc0, 0xaf, 0xf4, 0x90, 0x80, 0x80, 0xe2, 0x82]);
    const r = await fetch(url("/json/write"), { method: "POST", body: bytes });
    const raw = new TextDecoder("utf-8", { fatal: true }).decode(await r.arrayBuffer());
    expect((JSON.parse(raw) as { s: string }).s).toBe(bytes.toString("utf8"));
    expect((JSON.parse(raw) as { s: string }).s).toBe("a\ufffd\ufffd(\ufffd\ufffd\ufffd\ufffdA€\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd");
  });

  it("numbers in their shortest form, non-finite as null; nesting, raw values and NULL strings", async () => {
    const raw = await (await fetch(url("/json/write"), { method: "POST", body: "" })).text();
    expect(raw).toContain('"numbers":[0.1,1e+21,-0.5,42,0.3333333333333333,null,null,9007199254740992,0,123456789012,5e-324]');
    expect((JSON.parse(raw) as { numbers: unknown[] }).numbers).toEqual([0.1, 1e21, -0.5, 42, 1 / 3, null, null, 9007199254740992, 0, 123456789012, 5e-324]);
    expect(raw).toContain('"nested":[-7,{"b":null},[],{},true,false,{"x":[1]},null]');
  });

  const doc = JSON.stringify({
    name: 'Ada é😀 "q"', n: -125, t: true, f: false, z: null, empty: "",
    o: { city: "Zürich", list: [1, "two", { x: null }] },
  }).replace("é😀", "\\u00e9\\ud83d\\ude00").replace('"n":-125', '"n":-12.5e1, "dup":1, "dup":2, "esc\\u0061ped":"yes"');
  const read = (p: string, body = doc) => post(`/json/read?path=${encodeURIComponent(p)}`, body);

  it("the reader tells an absent key from a null one, and reads strings (escapes decoded), numbers and bools", async () => {
    expect(await read("name")).toEqual({ kind: 3, string: 'Ada é😀 "q"', number: null, bool: null, raw: '"Ada \\u00e9\\ud83d\\ude00 \\"q\\""' });
    expect(await read("z")).toEqual({ kind: 0, string: null, number: null, bool: null, raw: "null" });
    expect(await read("missing")).toEqual({ kind: -1, string: null, number: null, bool: null, raw: null });
    expect(await read("empty")).toMatchObject({ kind: 3, string: "" });
    expect(await read("n")).toMatchObject({ kind: 2, number: -125, raw: "-12.5e1" });
    expect(await read("t")).toMatchObject({ kind: 1, bool: true });
    expect(await read("f")).toMatchObject({ kind: 1, bool: false });
    expect(await read("o")).toMatchObject({ kind: 5 });
    expect(await read("dup")).toMatchObject({ number: 2 });
    expect(await read("escaped")).toMatchObject({ string: "yes" });
  });

  it("nested objects and arrays: find, then read inside what was found", async () => {
    expect(await read("o.city")).toMatchObject({ kind: 3, string: "Zürich" });
    expect(await read("o.list")).toMatchObject({ kind: 4, raw: '[1,"two",{"x":null}]' });
    expect(await read("o.list.0")).toMatchObject({ kind: 2, number: 1 });
    expect(await read("o.list.1")).toMatchObject({ kind: 3, string: "two" });
    expect(await read("o.list.2.x")).toMatchObject({ kind: 0 });
    expect(await read("o.list.2.y")).toMatchObject({ kind: -1 });
    expect(await read("o.list.3")).toMatchObject({ kind: -1 });
    expect(await read("o.nope.x")).toMatchObject({ kind: -1 });
  });

  it("text that is not JSON (or not an object) has no keys", async () => {
    for (const body of ['{"a":1,}', '{"a":"\u0001"}', '{"a":01}', '{"a":1} x', '{"a":tru}', "[1,2]", '{"a":"\\x"}', "", '{"a":' + "[".repeat(300) + "]".repeat(300) + "}"]) {
      expect(await read("a", body), body).toMatchObject({ kind: -1, raw: null });
    }
    expect(await read("a", ' {"a" : [ 1 , 2 ] } ')).toMatchObject({ kind: 4, raw: "[ 1 , 2 ]" });
  });
});

// The capability calls: the same cases run through daprd and Redis in dapr-examples.test.ts.
cSdkCapabilities("embedded backend", () => ({
  url: url(""), sink, secret: { key: "db-password", value: "s3cret" },
  seedConfig: async (key, value, version) => (serving.backend as EmbeddedBackend).setConfig("configstore", key, value, version),
}));

describe("C SDK: memory", () => {
  it("twenty rounds of every allocating call leave no heap block behind (the caller frees one block per result)", async () => {
    const j = await get("/leak?n=20");
    expect(j.liveBefore).toBeGreaterThan(0);
    expect(j.liveAfter).toBe(j.liveBefore);
  });
});

describe("C SDK: log, errors, responses", () => {
  it("log lines land in the shim's log at their level", async () => {
    expect(await (await fetch(url("/log"))).text()).toBe("logged");
    const lines = await eventually(() => { const l = logs.filter((x) => x.includes("c-sdk ")); return l.length >= 3 ? l : undefined; }, 5000, "the guest's log lines");
    expect(lines.find((l) => l.includes("c-sdk says hello 42"))).toContain('"level":"warn"');
    expect(lines.find((l) => l.includes("c-sdk plain line"))).toContain('"level":"error"');
    expect(lines.some((l) => l.includes('"c-sdk raw line, "'))).toBe(true);
  });

  it("wfn_respond_error answers the one error body, its code from the status (the table of @wasm-fn/abi) or given", async () => {
    const r = await fetch(url("/error"), { headers: { "x-request-id": `err-${run}` } });
    expect(r.status).toBe(422);
    expect(await r.json()).toEqual({ error: { code: "INVALID_ARGUMENT", message: 'bad "input"\n\u0001 é', requestId: `err-${run}` } });
    const c = await fetch(url("/error?code=CONFLICT"));
    expect(c.status).toBe(409);
    expect(((await c.json()) as { error: Record<string, string> }).error).toMatchObject({ code: "CONFLICT", message: "taken" });
    const statuses = Array.from({ length: 200 }, (_, i) => 400 + i);
    expect(await get("/codes")).toEqual(statuses.map(errorCodeForStatus));
  });

  it("wfn_err_name names every code; redirects and HTML", async () => {
    expect(await get("/errnames")).toEqual(["OK", "UNKNOWN_OP", "INVALID_ARGUMENT", "NOT_CONFIGURED", "DENIED", "NOT_FOUND", "CONFLICT", "UNAVAILABLE", "TIMEOUT", "TOO_LARGE", "INTERNAL", "ERROR"]);
    const r = await fetch(url("/redirect?to=%2Flogin&status=303"), { redirect: "manual" });
    expect([r.status, r.headers.get("location")]).toEqual([303, "/login"]);
    expect((await fetch(url("/redirect?to=/x&status=200"), { redirect: "manual" })).status).toBe(302);
    const h = await fetch(url("/html"));
    expect([h.headers.get("content-type"), await h.text()]).toEqual(["text/html; charset=utf-8", "<p>hi</p>"]);
  });
});

describe("examples/counter-c on the embedded backend", () => {
  it("200 concurrent increments leave exactly 200 (ETag conflicts are retried)", async () => {
    const c = `${serving.shim.url}/default/counter-c?key=${run}-c`;
    const answers = await Promise.all(Array.from({ length: 200 }, () => fetch(c, { method: "POST" }).then(async (r) => ({ status: r.status, body: await r.text() }))));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body)).size).toBe(200);
    expect(await (await fetch(c)).text()).toBe("200");
    expect(await (await fetch(`${serving.shim.url}/default/counter-c?key=${run}-untouched`)).text()).toBe("0");
  });
});
