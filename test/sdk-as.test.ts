/**
 * The AssemblyScript SDK as a function author uses it (issue 13, points 2-4): the router, query
 * and header helpers, response helpers, the JSON reader and writer, and the error body, served by
 * the real `wasm-fn run`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import path from "node:path";
import { readFile } from "node:fs/promises";
import { errorCodeForStatus } from "@wasm-fn/abi";
import { errorCodeForStatus as tsSdkCodeForStatus } from "../packages/sdk/ts/index.js";
import { buildFixture } from "./runtime-fixtures.js";
import { ROOT, serve, type Served } from "./harness/cli.js";

let shim: Served;
let base: string;
beforeAll(async () => {
  const src = await readFile(path.join(ROOT, "test/fixtures/sdk-probe/assembly/index.ts"), "utf8");
  const f = await buildFixture("sdk-probe", src);
  shim = await serve([f.dir], ["--no-access-log"]);
  base = `${shim.url}/default/sdk-probe`;
});
afterAll(async () => { await shim?.stop(); });

describe("Router", () => {
  it("matches methods and path parameters, percent-decoded", async () => {
    const r = await fetch(`${base}/users/j%C3%BCrgen%20k`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ id: "jürgen k", found: true });
    const c = await fetch(`${base}/users`, { method: "POST", body: JSON.stringify({ name: "ada" }) });
    expect(c.status).toBe(201);
    expect(c.headers.get("location")).toBe("/users/ada");
    expect(await c.json()).toEqual({ created: "ada" });
    const d = await fetch(`${base}/users/7`, { method: "DELETE" });
    expect(await d.text()).toBe("deleted 7");
    expect(await (await fetch(`${base}/files/a/b/c.txt`)).text()).toBe("file a/b/c.txt");
  });

  it("answers 404 for an unknown path and 405 with allow for a known path and another method", async () => {
    const n = await fetch(`${base}/nope`);
    expect(n.status).toBe(404);
    const nb = await n.json() as { error: { code: string; message: string; requestId: string } };
    expect(nb.error.code).toBe("NOT_FOUND");
    expect(nb.error.message).toBe("nothing is served at /nope");
    expect(nb.error.requestId).toBe(n.headers.get("x-request-id"));
    const m = await fetch(`${base}/users/7`, { method: "PUT" });
    expect(m.status).toBe(405);
    expect(m.headers.get("allow")).toBe("GET, DELETE");
    const head = await fetch(`${base}/users/7`, { method: "HEAD" });
    expect(head.status).toBe(200);
  });
});

describe("Request helpers", () => {
  it("tells an absent parameter from an empty one, and reads repeated keys in order", async () => {
    expect(await (await fetch(`${base}/query`)).json()).toEqual({ name: null, greeting: "world", tags: [] });
    expect(await (await fetch(`${base}/query?name=`)).json()).toEqual({ name: "", greeting: "world", tags: [] });
    expect(await (await fetch(`${base}/query?name=a+b%21&tag=x&tag=&tag=y%2Fz`)).json()).toEqual({ name: "a b!", greeting: "a b!", tags: ["x", "", "y/z"] });
  });

  it("keeps a malformed escape as written instead of trapping", async () => {
    const r = await fetch(`${base}/query?name=100%25%zz%FF`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { name: string }).name).toBe("100%%zz\uFFFD");
  });

  it("lists headers with repeated values", async () => {
    const r = await fetch(`${base}/headers`, { headers: [["x-probe-a", "1"], ["x-probe-b", "two words"], ["x-probe-a", "3"]] });
    const pairs = (await r.json()) as [string, string][];
    expect(pairs.filter(([n]) => n === "x-probe-b")).toEqual([["x-probe-b", "two words"]]);
    expect(pairs.filter(([n]) => n === "x-probe-a").map(([, v]) => v).join(",")).toMatch(/^1(, |,)3$/);
  });
});

describe("Response helpers", () => {
  it("redirects with the status asked for, or 302 for a status that is not a redirect", async () => {
    const r = await fetch(`${base}/go?to=/login&status=303`, { redirect: "manual" });
    expect(r.status).toBe(303);
    expect(r.headers.get("location")).toBe("/login");
    const bad = await fetch(`${base}/go?to=/x&status=200`, { redirect: "manual" });
    expect(bad.status).toBe(302);
  });

  it("sets a header once, case-insensitively, and answers html and 204", async () => {
    const r = await fetch(`${base}/html`);
    expect(r.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(r.headers.get("cache-control")).toBe("max-age=5");
    expect(await r.text()).toBe("<p>hi</p>");
    const e = await fetch(`${base}/empty`);
    expect(e.status).toBe(204);
    expect(await e.text()).toBe("");
  });

  it("maps every error status to the same ABI code as @wasm-fn/abi and the TypeScript SDK (each restates the table)", async () => {
    const statuses = Array.from({ length: 200 }, (_, i) => 400 + i);
    expect(await (await fetch(`${base}/codes`)).json()).toEqual(statuses.map(errorCodeForStatus));
    expect(statuses.map(tsSdkCodeForStatus)).toEqual(statuses.map(errorCodeForStatus));
  });

  it("writes errors in the one shape, with the ABI's codes and the request id", async () => {
    const r = await fetch(`${base}/fail`, { headers: { "x-request-id": "req-sdk-1" } });
    expect(r.status).toBe(409);
    expect(await r.json()).toEqual({ error: { code: "CONFLICT", message: "already there", requestId: "req-sdk-1" } });
    const c = await fetch(`${base}/fail-coded`);
    expect(c.status).toBe(422);
    const cb = (await c.json()) as { error: { code: string; requestId: string } };
    expect(cb.error.code).toBe("INVALID_ARGUMENT");
    expect(cb.error.requestId).toBe(c.headers.get("x-request-id"));
  });
});

describe("JSON", () => {
  it("tells absent, null, empty and present keys apart and reads nested values", async () => {
    const r = await fetch(`${base}/json/inspect`, { method: "POST", body: JSON.stringify({ b: null, c: "", d: 5, nested: { list: [1, 2.5, 3], n: 7, flag: true } }) });
    expect(await r.json()).toEqual({ a: "absent", b: "null", c: "empty", d: "not a string", listLength: 3, second: 2.5, deep: 7, flag: true });
    const r2 = await fetch(`${base}/json/inspect`, { method: "POST", body: JSON.stringify({ a: "x", nested: [] }) });
    expect(await r2.json()).toEqual({ a: "string x", b: "absent", c: "absent", d: "absent", listLength: -1, second: -1, deep: -1, flag: false });
  });

  it("writes control characters, quotes, non-ASCII and lone surrogates as valid JSON that reads back the same", async () => {
    const r = await fetch(`${base}/json/escape`);
    const text = Buffer.from(await r.arrayBuffer()).toString("utf8");
    expect(text).toContain(String.raw`"ctl":"a\u0001b\u001fc\nd\te\bf\fg\rh"`);
    expect(text).toContain(String.raw`"quote":"say \"hi\" \\ back"`);
    expect(text).toContain(`"unicode":"héllo wörld — 日本 😀"`);
    expect(text).toContain(String.raw`"lone":"x\ud800y"`);
    expect(JSON.parse(text)).toEqual({ ctl: "a\u0001b\u001fc\nd\te\bf\fg\rh", quote: 'say "hi" \\ back', unicode: "héllo wörld — 日本 😀", lone: "x\ud800y" });
  });

  it("round-trips what JSON.parse accepts and refuses what it refuses", async () => {
    const good = ['{"a":[1,-2.5e3,0.5,true,false,null],"b":{"c":"\\u00e9\\ud83d\\ude00\\n"}}', '[]', '"x"', '-12', '1E+2'];
    for (const g of good) {
      const r = await fetch(`${base}/json/echo`, { method: "POST", body: g });
      expect(r.status, g).toBe(200);
      expect(JSON.parse(await r.text()), g).toEqual(JSON.parse(g));
    }
    const bad = ['{"a":01}', '[1,]', '{"a":"\\uzzzz"}', '1-2', '.5', '{"a":"tab\there"}', '[1e]', 'nul'];
    for (const b of bad) {
      const r = await fetch(`${base}/json/echo`, { method: "POST", body: b });
      expect(r.status, b).toBe(400);
    }
  });
});
