import { request } from "node:http";
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ROOT, serve, type Served } from "./harness/cli.js";

/** GET with an explicit Host header (fetch() forbids setting it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("examples end to end: build with the CLI, serve, call over HTTP", () => {
  let shim: Served;
  beforeAll(async () => {
    for (const ex of ["hello", "echo-json", "hello-c"]) {
      const r = await cli(["build", `examples/${ex}`]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`built ${ex} -> `));
    }
    shim = await serve(["examples/hello", "examples/echo-json", "examples/hello-c"]);
  });
  afterAll(async () => { await shim?.stop(); });

  it("prints the URL of each function", () => {
    expect(shim.functions.map((f) => f.url)).toEqual([`${shim.url}/default/hello`, `${shim.url}/default/echo-json`, `${shim.url}/default/hello-c`]);
  });

  it("hello (AssemblyScript) answers on its path, custom and host routes", async () => {
    const r = await fetch(`${shim.url}/default/hello?name=wasm`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("hello, wasm\n");
    expect(r.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await (await fetch(`${shim.url}/hello`)).text()).toBe("hello, world\n");
    expect(await getWithHost(`${shim.url}/anything`, "hello.default.local")).toEqual({ status: 200, body: "hello, world\n" });
  });

  it("echo-json parses, transforms and returns JSON", async () => {
    const r = await fetch(`${shim.url}/default/echo-json`, { method: "POST", body: JSON.stringify({ name: "wasm", n: 21, tags: ["a"] }), headers: { "x-request-id": "req-123" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(await r.json()).toEqual({ name: "WASM", n: 42, tags: ["a"], fields: 3, requestId: "req-123" });
    const bad = await fetch(`${shim.url}/default/echo-json`, { method: "POST", body: "{nope" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: "INVALID_ARGUMENT", message: "the body is not valid JSON", requestId: bad.headers.get("x-request-id") } });
  });

  it("hello-c (clang + wasi-libc) is served by the same shim through the same ABI", async () => {
    const r = await fetch(`${shim.url}/default/hello-c?name=c`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("hello from C, c\n");
    expect(await (await fetch(`${shim.url}/default/hello-c?name=C%20SDK`)).text()).toBe("hello from C, C SDK\n");
  });

  it("returns a request id and logs it in structured JSON", async () => {
    const r = await fetch(`${shim.url}/default/hello`);
    const id = r.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((res) => setTimeout(res, 100));
    const line = shim.output().split("\n").find((l) => l.includes(id!));
    expect(line, "an access-log line with the request id").toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: "info", msg: "request", requestId: id, fn: "hello", status: 200, path: "/default/hello" });
  });

  it("answers /healthz and /readyz", async () => {
    expect((await fetch(`${shim.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${shim.url}/readyz`)).json()).toEqual({ status: "ready" });
  });
});

describe("wasm-fn init scaffolds functions that build and run as generated", () => {
  const cases = [
    { lang: "as", trigger: "http", expectBody: /"greeting":"hello, world"/ , status: 200 },
    { lang: "as", trigger: "event", expectBody: /consumes events/, status: 400 },
    { lang: "c", trigger: "http", expectBody: /"greeting":"hello, world"/, status: 200 },
    { lang: "c", trigger: "event", expectBody: /^$/, status: 200 },
    { lang: "ts", trigger: "http", expectBody: /"greeting":"hello, world"/, status: 200 },
    { lang: "ts", trigger: "event", expectBody: /consumes events/, status: 400 },
    { lang: "js", trigger: "http", expectBody: /"greeting":"hello, world"/, status: 200 },
  ];
  for (const c of cases) {
    it(`--lang ${c.lang} --trigger ${c.trigger}`, async () => {
      const dir = path.join(await mkdtemp(path.join(os.tmpdir(), "wfn-init-")), `fn-${c.lang}-${c.trigger}`);
      const init = await cli(["init", dir, "--lang", c.lang, "--trigger", c.trigger]);
      expect(init.code, init.stderr).toBe(0);
      expect(init.stdout).toContain("next: wasm-fn build");
      const build = await cli(["build", dir]);
      expect(build.code, build.stderr).toBe(0);
      const shim = await serve([dir]);
      try {
        const r = await fetch(shim.functions[0]!.url);
        expect(r.status).toBe(c.status);
        expect(await r.text()).toMatch(c.expectBody);
      } finally {
        await shim.stop();
      }
    });
  }

  it("refuses a non-empty directory and bad flags without touching files", async () => {
    const again = await cli(["init", path.join(ROOT, "examples", "hello")]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/error WFN_INIT_NOT_EMPTY: .* is not empty/);
    expect(await readFile(path.join(ROOT, "examples/hello/wasm-fn.yaml"), "utf8")).toContain("name: hello");
    const lang = await cli(["init", path.join(os.tmpdir(), "wfn-x"), "--lang", "rust"]);
    expect(lang.stderr).toMatch(/--lang must be 'as' \(AssemblyScript\), 'c', 'ts' \(TypeScript\) or 'js' \(JavaScript\), got 'rust'/);
  });
});

describe("SIGTERM", () => {
  it("lets in-flight requests finish, then exits 0", async () => {
    const b = await cli(["build", "test/fixtures/trap", "--no-image"]);
    expect(b.code, b.stderr).toBe(0);
    const shim = await serve(["test/fixtures/trap"]);
    const inflight = fetch(`${shim.url}/default/trap/slow`).then(async (r) => ({ status: r.status, body: await r.text() }));
    await new Promise((r) => setTimeout(r, 100));
    const code = await shim.stop("SIGTERM");
    expect(await inflight).toEqual({ status: 200, body: "slow done" });
    expect(code).toBe(0);
    expect(shim.output()).toMatch(/"msg":"draining/);
  });
});

describe("build --no-image after an image build, and inspect of a function directory", () => {
  it("removes an image that holds other bytes (and says so), keeps one that holds the same; inspect names what it looked at", async () => {
    const dir = path.join(await mkdtemp(path.join(os.tmpdir(), "wfn-stale-")), "hello");
    await cp(path.join(ROOT, "examples", "hello"), dir, { recursive: true, filter: (s) => !s.includes(`${path.sep}dist`) });
    expect((await cli(["build", dir])).code).toBe(0);
    const same = await cli(["build", dir, "--no-image"]);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stderr).not.toContain("removed");
    const looked = await cli(["inspect", dir]);
    expect(looked.code, looked.stderr).toBe(0);
    expect(looked.stdout).toContain(`looked at ${path.join(dir, "dist", "oci")} (the image of the function in ${dir})`);
    const src = path.join(dir, "assembly", "index.ts");
    await writeFile(src, (await readFile(src, "utf8")).replace('"hello, "', '"hi, "'));
    const changed = await cli(["build", dir, "--no-image"]);
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stderr).toMatch(/removed the image an earlier build left \(.*dist\/oci\): it held an earlier build of the module/);
    const gone = await cli(["inspect", dir]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`WFN_NOT_BUILT: ${dir} is a function directory without an image`);
  });
});
