import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ROOT, serve } from "./harness/cli.js";

const run = promisify(execFile);

/** Temporary folders the tests made, removed after them. */
const made: string[] = [];
afterAll(async () => { for (const d of made) await rm(d, { recursive: true, force: true }); });
async function tmpDir(prefix: string): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

/** `npm test` in a generated project, with this repository's `wasm-fn` on PATH (as a global install puts it). */
async function npmTest(dir: string): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  env.PATH = `${path.join(ROOT, "node_modules", ".bin")}${path.delimiter}${env.PATH ?? ""}`;
  try {
    const r = await run("npm", ["test"], { cwd: dir, env, maxBuffer: 1 << 24, timeout: 240_000 });
    return r.stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm test failed in ${dir}:\n${err.stdout ?? ""}\n${err.stderr ?? err.message}`);
  }
}

async function init(template: string, extra: string[] = []): Promise<string> {
  const dir = path.join(await tmpDir("wfn-tpl-"), `${template}-fn`);
  const r = await cli(["init", dir, "--template", template, ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

/** A project has its package.json (scripts through wasm-fn), a test, and a README with a curl to try. */
async function expectProject(dir: string): Promise<void> {
  const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8")) as { scripts: Record<string, string> };
  expect(pkg.scripts.build).toBe("wasm-fn build");
  expect(pkg.scripts.test).toBe("wasm-fn build && node --test");
  expect(pkg.scripts.start).toMatch(/^wasm-fn run/);
  expect(pkg.scripts.dev).toBe(pkg.scripts.start!.replace("wasm-fn run", "wasm-fn dev"));
  expect(await readdir(path.join(dir, "test"))).toEqual(["function.test.js"]);
  const readme = await readFile(path.join(dir, "README.md"), "utf8");
  for (const h of ["## Build", "## Run", "## Try it", "## Test"]) expect(readme).toContain(h);
  expect(readme).toContain("curl ");
}

/** Issue 13, point 9: each template builds, serves what it says, and its own generated test passes. */
describe("wasm-fn init --template", () => {
  it("http: a JSON greeting; the generated test passes under npm test", async () => {
    const dir = await init("http");
    await expectProject(dir);
    expect(await npmTest(dir)).toMatch(/# pass 1\n# fail 0/);
    const shim = await serve([dir]);
    try {
      const r = await fetch(`${shim.functions[0]!.url}?name=tpl`);
      expect(await r.json()).toEqual({ greeting: "hello, tpl" });
    } finally { await shim.stop(); }
  }, 300_000);

  it("state: items put, read and deleted in the state store; the generated test passes", async () => {
    const dir = await init("state");
    await expectProject(dir);
    expect(await readFile(path.join(dir, "wasm-fn.yaml"), "utf8")).toContain("states: [statestore]");
    expect(await npmTest(dir)).toMatch(/# pass 2\n# fail 0/);
    const stateFile = path.join(path.dirname(dir), "state.json");
    const shim = await serve([dir], ["--state-file", stateFile]);
    try {
      const item = `${shim.functions[0]!.url}/items/k`;
      expect((await fetch(item, { method: "PUT", body: "v1" })).status).toBe(204);
      expect(await (await fetch(item)).text()).toBe("v1");
    } finally { await shim.stop(); }
    // The embedded backend persisted it where --state-file said.
    const saved = JSON.parse(await readFile(stateFile, "utf8")) as { state: { statestore: { k: { v: string } } } };
    expect(Buffer.from(saved.state.statestore.k.v, "base64").toString()).toBe("v1");
  }, 300_000);

  it("pubsub: an event posted to the topic route is counted; the generated test passes", async () => {
    const dir = await init("pubsub", ["--name", "orders"]);
    await expectProject(dir);
    expect(await npmTest(dir)).toMatch(/# pass 1\n# fail 0/);
    const shim = await serve([dir], ["--state-file", path.join(path.dirname(dir), "state.json")]);
    try {
      const r = await fetch(`${shim.url}/_wfn/dapr/topics/pubsub/orders`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"n":7}' });
      expect(await r.json()).toEqual({ status: "SUCCESS" });
      expect(await (await fetch(shim.functions[0]!.url)).json()).toEqual({ events: 1, last: '{"n":7}' });
      await shim.logged(/"msg":"event [^"]* on orders: \{\\"n\\":7\}"/);
    } finally { await shim.stop(); }
  }, 300_000);

  describe("binding", () => {
    let hook: Server;
    const got: string[] = [];
    beforeAll(async () => {
      hook = createServer((req, res) => { let b = ""; req.on("data", (d) => (b += d)); req.on("end", () => { got.push(b); res.end(); }); });
      await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    });
    afterAll(() => { hook.close(); });

    it("an input binding event is posted to the output binding; the generated test passes", async () => {
      const dir = await init("binding");
      await expectProject(dir);
      expect(await npmTest(dir)).toMatch(/# pass 2\n# fail 0/);
      // The generated components, with the webhook's URL pointed here.
      const yaml = path.join(dir, "components", "webhook.yaml");
      const port = (hook.address() as { port: number }).port;
      await writeFile(yaml, (await readFile(yaml, "utf8")).replace("http://127.0.0.1:9000/events", `http://127.0.0.1:${port}/events`));
      const shim = await serve([dir], ["--resources-path", path.join(dir, "components")]);
      try {
        const r = await fetch(`${shim.url}/ticker`, { method: "POST", body: "tick-1" });
        expect(await r.json()).toEqual({ status: "SUCCESS" });
        expect(got.map((b) => (JSON.parse(b) as { data: string }).data)).toEqual(["tick-1"]);
      } finally { await shim.stop(); }
    }, 300_000);
  });

  it("c: the C hello (clang + wasi-libc); the generated test passes", async () => {
    const dir = await init("c");
    await expectProject(dir);
    expect(await readFile(path.join(dir, "wasm-fn.yaml"), "utf8")).toContain("lang: c");
    expect(await npmTest(dir)).toMatch(/# pass 1\n# fail 0/);
    const shim = await serve([dir]);
    try {
      expect(await (await fetch(`${shim.functions[0]!.url}?name=C%20%22SDK%22`)).json()).toEqual({ greeting: 'hello, C "SDK"' });
    } finally { await shim.stop(); }
  }, 300_000);

  it("--lang c alone is the c template; a template's --lang, --trigger and an unknown name are refused with what to do, writing nothing", async () => {
    const dir = path.join(await tmpDir("wfn-tpl-"), "hello-c");
    const r = await cli(["--json", "init", dir, "--lang", "c"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ template: "c", lang: "c", files: expect.arrayContaining(["main.c", "package.json", "README.md", "test/function.test.js"]) });

    const tmp = await tmpDir("wfn-tpl-bad-");
    const unknown = await cli(["init", path.join(tmp, "a"), "--template", "grpc"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("error WFN_USAGE: there is no template 'grpc'; pass --template with one of these (the name before the colon): http: a greeting over HTTP");
    for (const t of ["state", "pubsub", "binding", "c"]) expect(unknown.stderr).toContain(`; ${t}: `);
    const lang = await cli(["init", path.join(tmp, "b"), "--template", "state", "--lang", "ts"]);
    expect(lang.stderr).toContain("error WFN_USAGE: the state template is written in AssemblyScript (--lang as), not TypeScript; drop --lang, or use --template http for TypeScript");
    const trigger = await cli(["init", path.join(tmp, "c"), "--template", "pubsub", "--trigger", "event"]);
    expect(trigger.stderr).toContain("error WFN_USAGE: --trigger applies to the http and c templates; the pubsub template chooses its own inputs (drop --trigger)");
    expect(await readdir(tmp)).toEqual([]);
  });
});
