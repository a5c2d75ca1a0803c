/**
 * TypeScript functions as wasi:http/proxy components: `wasm-fn build` (tsc, esbuild,
 * componentize-js) and the shim serving them (jco transpile, a worker thread per instance, the
 * shim's own WASI host), with the limits every function has.
 */
import http from "node:http";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildFunction, normalizeConfig } from "@wasm-fn/build";
import { silentLogger, startServing, type Serving } from "@wasm-fn/runtime-shim";
import { cli, serve, type Served } from "./harness/cli.js";
import { startRegistry, type RegistryHandle } from "./harness/registry.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const TESTBED = path.join(ROOT, "test/fixtures/ts-testbed");
const HELLO_TS = path.join(ROOT, "examples/hello-ts");

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string };
function request(url: string, opts: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

let testbed: Uint8Array;
beforeAll(async () => {
  // componentize-js takes ~10-20 s per new bundle; the cache (by bundle hash) makes reruns fast.
  testbed = (await buildFunction(TESTBED)).wasm;
  await buildFunction(HELLO_TS);
}, 240_000);

describe("wasm-fn build: lang ts", () => {
  it("writes a wasi:http/proxy component, its bundle and metadata that says so", async () => {
    const meta = JSON.parse(await readFile(path.join(HELLO_TS, "dist/hello-ts.json"), "utf8")) as { abi: string; component: { world: string; componentizeJs: string } };
    expect(meta.abi).toBe("wasi:http/proxy@0.2.10");
    expect(meta.component.world).toBe("wasi:http/proxy@0.2.10");
    expect(meta.component.componentizeJs).toBe("0.23.0");
    const wasm = await readFile(path.join(HELLO_TS, "dist/hello-ts.wasm"));
    expect([...wasm.subarray(0, 8)]).toEqual([0, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0]); // a component, not a core module
    expect(await readFile(path.join(HELLO_TS, "dist/hello-ts.bundle.js"), "utf8")).toContain("incomingHandler");
  });

  it("a type error fails the build with the user's file, line and column, and writes nothing", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "wfn-ts-"));
    try {
      await cp(HELLO_TS, dir, { recursive: true, filter: (s) => !s.includes("dist") });
      await writeFile(path.join(dir, "src/index.ts"), `export default {\n  async fetch(request: Request): Promise<Response> {\n    const n: number = "one";\n    return new Response(String(n));\n  },\n};\n`);
      const e = await buildFunction(dir).then(() => null, (x: unknown) => x as { code: string; message: string });
      expect(e?.code).toBe("WFN_COMPILE");
      expect(e?.message).toMatch(/^TypeScript found 1 error in src\/index\.ts:\nsrc\/index\.ts:3:11 - error TS2322: Type 'string' is not assignable to type 'number'/);
      await expect(readFile(path.join(dir, "dist/hello-ts.wasm"))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a Node.js built-in is refused at bundling with where it was imported and what to use instead", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "wfn-ts-"));
    try {
      await cp(HELLO_TS, dir, { recursive: true, filter: (s) => !s.includes("dist") });
      await writeFile(path.join(dir, "src/index.js"), `import { readFileSync } from "node:fs";\nexport default { fetch: () => new Response(readFileSync("/etc/passwd")) };\n`);
      await writeFile(path.join(dir, "wasm-fn.yaml"), "name: nodefs\nlang: js\n");
      const e = await buildFunction(dir).then(() => null, (x: unknown) => x as { code: string; message: string });
      expect(e?.code).toBe("WFN_COMPILE");
      expect(e?.message).toContain("src/index.js:1:30 - error: node:fs is a Node.js built-in module, and a component has no Node.js APIs");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the shim serves a component", () => {
  let serving: Serving;
  let base: string;
  let upstream: http.Server;
  let upstreamUrl: string;
  beforeAll(async () => {
    upstream = http.createServer((req, res) => { let b = ""; req.on("data", (c) => (b += c)); req.on("end", () => res.end(`upstream saw ${req.method} ${req.url} ${b}`)); });
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    const config = normalizeConfig({
      name: "ts-testbed", lang: "ts",
      limits: { timeout: "2s", memory: "64Mi", responseBody: "1Mi" },
      states: ["statestore"],
      permissions: { hosts: [`127.0.0.1:${(upstream.address() as { port: number }).port}`], publish: ["pubsub/allowed"] },
    });
    serving = await startServing({ functions: [{ kind: "bytes", wasm: testbed, config, origin: "ts-testbed" }], port: 0, log: silentLogger, backend: { kind: "embedded", stateFile: null } });
    base = `${serving.shim.url}/default/ts-testbed`;
  }, 60_000);
  afterAll(async () => { await serving?.close(); upstream?.close(); });

  it("passes the request through as a Web Request: method, URL with repeated query keys, headers, body", async () => {
    const r = await request(`${base}/echo?q=1&q=2`, { method: "POST", body: "hello body", headers: { "x-a": "b", "content-type": "text/plain" } });
    expect(r.status).toBe(200);
    const e = JSON.parse(r.body) as { method: string; url: string; query: string[]; headers: Record<string, string>; body: string };
    expect(e.method).toBe("POST");
    // The path within the function (its route prefix taken off), as core functions see it.
    expect(new URL(e.url).pathname).toBe("/echo");
    expect(e.query).toEqual(["1", "2"]);
    expect(e.headers["x-a"]).toBe("b");
    expect(e.body).toBe("hello body");
  });

  it("passes the component's status and headers back, repeated ones too", async () => {
    const r = await request(`${base}/status?s=201`);
    expect(r.status).toBe(201);
    expect(r.body).toBe("teapot");
    expect(r.headers["x-custom"]).toBe("yes");
    expect(r.headers["set-cookie"]).toEqual(["a=1"]);
    expect(r.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("reuses an instance across requests (module state survives), one request at a time each", async () => {
    const a = Number((await request(`${base}/count`)).body);
    const b = Number((await request(`${base}/count`)).body);
    expect(b).toBe(a + 1);
  });

  it("a handler that throws answers 500 in the one error shape, logs the stack, and the instance serves on", async () => {
    const before = Number((await request(`${base}/count`)).body);
    const r = await request(`${base}/throw`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toEqual({ error: { code: "INTERNAL", reason: "WFN_HANDLER", message: "boom", requestId: r.headers["x-request-id"] } });
    expect(Number((await request(`${base}/count`)).body)).toBe(before + 1);
  });

  it("timers and Web Crypto work (wasi:clocks pollables, wasi:random)", async () => {
    const slept = Number((await request(`${base}/sleep?ms=60`)).body);
    expect(slept).toBeGreaterThanOrEqual(55);
    const a = JSON.parse((await request(`${base}/random`)).body) as { uuid: string; bytes: number[] };
    const b = JSON.parse((await request(`${base}/random`)).body) as { uuid: string; bytes: number[] };
    expect(a.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.uuid).not.toBe(b.uuid);
    expect(a.bytes).not.toEqual(b.bytes);
  });

  it("outgoing fetch reaches a granted host through the shim's HTTP capability", async () => {
    const r = await request(`${base}/fetch?url=${encodeURIComponent(`${upstreamUrl}/x?y=1`)}`, { method: "POST", body: "ping" });
    expect(r.status).toBe(200);
    expect(r.body).toBe("200 upstream saw POST /x?y=1 ping");
  });

  it("outgoing fetch to a host not granted fails in the component (the shim logs why); other ports of the same address too", async () => {
    const r = await request(`${base}/fetch?url=${encodeURIComponent(`${serving.shim.url}/metrics`)}`);
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/^fetch failed: /);
  });

  it("a loop past the deadline is stopped (504) and a new instance serves the next request", async () => {
    await request(`${base}/count`);
    const r = await request(`${base}/loop`);
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body).error.reason).toBe("WFN_TIMEOUT");
    expect((await request(`${base}/count`)).status).toBe(200);
  });

  it("allocating past limits.memory fails inside the component and its instance is replaced", async () => {
    const r = await request(`${base}/alloc`);
    expect(r.status).toBe(500);
    expect(r.body).toMatch(/out of memory/);
    // The full instance was retired: a fresh one counts from 1.
    expect((await request(`${base}/count`)).body).toBe("1");
    expect((await request(`${base}/big?n=1000`)).body).toHaveLength(1000);
  });

  it("a response body over limits.responseBody is WFN_RESPONSE_TOO_LARGE", async () => {
    const r = await request(`${base}/big?n=${2 * 1024 * 1024}`);
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body).error.reason).toBe("WFN_RESPONSE_TOO_LARGE");
    expect((await request(`${base}/big?n=10`)).body).toBe("xxxxxxxxxx");
  });
});

describe("the TypeScript SDK's capabilities (Dapr's HTTP API, answered by the shim)", () => {
  let serving: Serving;
  let base: string;
  beforeAll(async () => {
    const config = normalizeConfig({ name: "ts-testbed", lang: "ts", states: ["statestore"], permissions: { publish: ["pubsub/allowed"] } });
    serving = await startServing({ functions: [{ kind: "bytes", wasm: testbed, config, origin: "ts-testbed" }], port: 0, log: silentLogger, backend: { kind: "embedded", stateFile: null } });
    base = `${serving.shim.url}/default/ts-testbed`;
  }, 60_000);
  afterAll(async () => { await serving?.close(); });
  const call = async (route: string, body?: unknown) => JSON.parse((await request(`${base}/${route}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) })).body) as { ok?: unknown; error?: { code: string; message: string } };

  it("state: set, get with its ETag, a stale ETag is CONFLICT, delete, absent is null", async () => {
    expect(await call("state-set?store=statestore&key=k1", { n: 1, s: "é\u0001" })).toEqual({ ok: null });
    const got = (await call("state-get?store=statestore&key=k1")).ok as { key: string; value: unknown; etag: string };
    expect(got.value).toEqual({ n: 1, s: "é\u0001" });
    expect(got.etag).not.toBe("");
    expect(await call(`state-set?store=statestore&key=k1&etag=${got.etag}`, { n: 2 })).toEqual({ ok: null });
    const stale = await call(`state-set?store=statestore&key=k1&etag=${got.etag}`, { n: 3 });
    expect(stale.error?.code).toBe("CONFLICT");
    expect(((await call("state-get?store=statestore&key=k1")).ok as { value: unknown }).value).toEqual({ n: 2 });
    expect(await call("state-delete?store=statestore&key=k1")).toEqual({ ok: null });
    expect(await call("state-get?store=statestore&key=k1")).toEqual({ ok: null });
  });

  it("state: first-write creates only if absent; bulk reads; a transaction is all or nothing", async () => {
    expect(await call("state-set?store=statestore&key=once&concurrency=first-write", "a")).toEqual({ ok: null });
    expect((await call("state-set?store=statestore&key=once&concurrency=first-write", "b")).error?.code).toBe("CONFLICT");
    expect(await call("state-transact?store=statestore", [{ operation: "upsert", key: "t1", value: [1] }, { operation: "upsert", key: "t2", value: "two" }])).toEqual({ ok: null });
    const bulk = (await call("state-bulk?store=statestore&key=t1&key=t2&key=none")).ok as { key: string; value: unknown }[];
    expect(bulk.map((i) => [i.key, i.value])).toEqual([["t1", [1]], ["t2", "two"], ["none", null]]);
    const bad = await call("state-transact?store=statestore", [{ operation: "upsert", key: "t3", value: 3 }, { operation: "delete", key: "t1", etag: "not-the-etag" }]);
    expect(bad.error?.code).toBe("CONFLICT");
    expect(await call("state-get?store=statestore&key=t3")).toEqual({ ok: null });
  });

  it("a store, topic or host not granted is DENIED, the same as for an AssemblyScript function", async () => {
    const store = await call("state-get?store=other&key=k");
    expect(store.error?.code).toBe("DENIED");
    expect(store.error?.message).toMatch(/other/);
    expect(await call("publish?pubsub=pubsub&topic=allowed", { a: 1 })).toEqual({ ok: null });
    expect((await call("publish?pubsub=pubsub&topic=secret", { a: 1 })).error?.code).toBe("DENIED");
  });

  it("a Dapr API path the shim does not serve to components is 501 with a sentence", async () => {
    const r = await request(`${base}/dapr-raw?path=${encodeURIComponent("/v1.0/actors/x/y/method/z")}`);
    expect(r.status).toBe(501);
    expect(JSON.parse(r.body).message).toMatch(/not part of Dapr's API that wasm-fn serves to components/);
  });
});

describe("a component's pool: hot swap with requests in flight, scale to zero", () => {
  let serving: Serving;
  let base: string;
  beforeAll(async () => {
    const hello = await readFile(path.join(HELLO_TS, "dist/hello-ts.wasm"));
    const config = normalizeConfig({ name: "swap-ts", lang: "ts", scaleOptions: { idleTimeout: "300ms" } });
    serving = await startServing({ functions: [{ kind: "bytes", wasm: hello, config, origin: "hello-ts" }], port: 0, log: silentLogger, backend: { kind: "embedded", stateFile: null } });
    base = serving.shim.url;
  }, 60_000);
  afterAll(async () => { await serving?.close(); });

  it("swaps to another component while 60 requests are in flight: none fails, new ones reach the new code", async () => {
    expect((await request(`${base}/default/swap-ts?name=a`)).body).toBe("hello, a\n");
    const inflight = Array.from({ length: 60 }, () => request(`${base}/default/swap-ts/count?name=b`));
    const put = await fetch(`${base}/admin/functions/default/swap-ts`, { method: "PUT", body: testbed, headers: { "content-type": "application/wasm" } });
    expect(put.status, await put.text()).toBe(200);
    const answers = await Promise.all(inflight);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    // Each answer came from one build or the other.
    for (const a of answers) expect(a.body === "hello, b\n" || /^\d+$/.test(a.body)).toBe(true);
    expect((await request(`${base}/default/swap-ts/count`)).body).toMatch(/^\d+$/);
  });

  it("scales to zero when idle (its worker threads go) and answers again from zero", async () => {
    await request(`${base}/default/swap-ts/count`);
    const pool = async () => ((await (await fetch(`${base}/admin/functions`)).json()) as { functions: { pool: { live: number } }[] }).functions[0]!.pool;
    expect((await pool()).live).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await pool()).live).toBe(0);
    expect((await request(`${base}/default/swap-ts/count`)).body).toBe("1");
  });
});

describe("components the shim refuses at load, with a sentence, while it serves the others", () => {
  it("one importing an interface the shim does not provide, one without the wasi:http incoming handler", async () => {
    // Two components made here with wasm-tools (jco): a world's dummy implementation, componentized.
    const dir = await mkdtemp(path.join(tmpdir(), "wfn-badwit-"));
    await cp(path.join(ROOT, "packages/build/wit/deps"), path.join(dir, "deps"), { recursive: true });
    await writeFile(path.join(dir, "world.wit"), `package test:bad;
interface baz { hello: func() -> string; }
world foreign { import baz; export wasi:http/incoming-handler@0.2.10; }
world nohandler { export run: func(); }
`);
    const { componentEmbed, componentNew } = (await import("@bytecodealliance/jco")) as unknown as {
      componentEmbed(o: { dummy: boolean; witPath: string; world: string }): Promise<Uint8Array>;
      componentNew(b: Uint8Array): Promise<Uint8Array>;
    };
    const make = async (world: string) => componentNew(await componentEmbed({ dummy: true, witPath: dir, world }));
    const hello = await readFile(path.join(HELLO_TS, "dist/hello-ts.wasm"));
    const serving = await startServing({
      functions: [
        { kind: "bytes", wasm: await make("foreign"), config: normalizeConfig({ name: "foreign" }), origin: "foreign.wasm" },
        { kind: "bytes", wasm: await make("nohandler"), config: normalizeConfig({ name: "nohandler" }), origin: "nohandler.wasm" },
        { kind: "bytes", wasm: hello, config: normalizeConfig({ name: "hello-ts", lang: "ts" }), origin: "hello-ts.wasm" },
      ],
      port: 0, log: silentLogger, backend: { kind: "embedded", stateFile: null },
    });
    try {
      const failed = serving.shim.failed.map((f) => [f.error.code, f.error.message]);
      expect(failed).toEqual([
        ["WFN_LOAD", "foreign.wasm imports test:bad/baz, which the shim does not provide: it serves wasi:http/proxy components (wasi:http, io, clocks, random, cli)"],
        ["WFN_LOAD", "nohandler.wasm is a component but does not export wasi:http/incoming-handler@0.2.x (it exports run): the shim serves wasi:http/proxy components"],
      ]);
      expect((await request(`${serving.shim.url}/default/hello-ts?name=ok`)).body).toBe("hello, ok\n");
      expect((await request(`${serving.shim.url}/default/foreign`)).status).toBe(404);
    } finally {
      await serving.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("wasm-fn run examples/hello-ts", () => {
  let served: Served;
  beforeAll(async () => { served = await serve([HELLO_TS], ["--no-access-log"]); }, 60_000);
  afterAll(async () => { await served?.stop(); });

  it("answers as examples/hello does", async () => {
    expect((await request(`${served.url}/default/hello-ts?name=ts`)).body).toBe("hello, ts\n");
    expect((await request(`${served.url}/hello-ts`)).body).toBe("hello, world\n");
  });
});

describe("a TypeScript function's OCI form: the CNCF Wasm artifact", () => {
  let reg: RegistryHandle;
  beforeAll(async () => { reg = await startRegistry(); });
  afterAll(async () => { await reg?.stop(); });

  it("build packs the component as application/wasm with its world; skopeo reads it; inspect says so; run <ref> serves it", async () => {
    const build = await cli(["build", HELLO_TS]);
    expect(build.code, build.stderr).toBe(0);
    const ref = `${reg.host}/wasm-fn/hello-ts:0.1.0`;
    const push = await cli(["push", ref, HELLO_TS, "--insecure"]);
    expect(push.code, push.stderr).toBe(0);
    const { execFile } = await import("node:child_process");
    const raw = await new Promise<string>((res, rej) => execFile("skopeo", ["inspect", "--tls-verify=false", "--raw", `docker://${ref}`], (e, out) => (e ? rej(e) : res(out))));
    const manifest = JSON.parse(raw) as { config: { mediaType: string }; layers: { mediaType: string }[] };
    expect(manifest.config.mediaType).toBe("application/vnd.wasm.config.v0+json");
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(["application/wasm"]);
    const insp = await cli(["--json", "inspect", ref, "--insecure"]);
    expect(insp.code, insp.stderr).toBe(0);
    const cfg = (JSON.parse(insp.stdout) as { config: { content: { os: string; component: { target: string; exports: string[] } } } }).config.content;
    expect(cfg.os).toBe("wasip2");
    expect(cfg.component.target).toBe("wasi:http/proxy@0.2.10");
    expect(cfg.component.exports).toEqual(["wasi:http/incoming-handler@0.2.10"]);
    expect((await cli(["inspect", ref, "--insecure"])).stdout).toContain("component   wasi:http/proxy@0.2.10");
    const cache = await mkdtemp(path.join(tmpdir(), "wfn-cache-"));
    const shim = await serve([ref, "--insecure"], [], { env: { WASM_FN_CACHE: cache } });
    try {
      expect(await (await fetch(`${shim.url}/default/hello-ts?name=oci`)).text()).toBe("hello, oci\n");
      expect(await (await fetch(`${shim.url}/hello-ts`)).text()).toBe("hello, world\n");
    } finally {
      await shim.stop();
      await rm(cache, { recursive: true, force: true });
    }
  }, 180_000);
});
