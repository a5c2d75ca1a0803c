import { execFile, spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./harness/cli.js";
import { freePort } from "./harness/proc.js";
// @ts-expect-error a plain ESM script (scripts/ is not compiled), typed where it is used
import { cleanEnv as cleanEnvUntyped, packCli as packCliUntyped } from "../scripts/pack-cli.mjs";

const packCli = packCliUntyped as (outDir: string) => Promise<{ name: string; file: string; size: number }[]>;
const cleanEnv = cleanEnvUntyped as (env?: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
const run = promisify(execFile);

/**
 * Issue 13, point 8: the CLI packed as npm would publish it, installed into an empty folder outside the
 * repository, offline, from the npm cache `npm ci` filled, then init -> build -> run with a HOME of its
 * own (no wasm-fn cache, no config) and nothing from the repository on any lookup path.
 */
describe("the packed CLI, installed in an empty folder, works outside the repository", () => {
  let tmp: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    tmp = realpathSync(await mkdtemp(path.join(os.tmpdir(), "wfn-pack-")));
    const pkg = path.join(tmp, "install");
    const tarballs = await packCli(pkg);
    // The npm cache the outer npm uses (CI's `npm ci` filled it), asked with the outer environment.
    const cache = (await run("npm", ["config", "get", "cache"], { cwd: tmp })).stdout.trim();
    const t0 = performance.now();
    await run("npm", ["ci", "--offline", "--no-audit", "--no-fund", "--cache", cache], { cwd: pkg, env: cleanEnv(), maxBuffer: 1 << 24 });
    const installMs = Math.round(performance.now() - t0);
    const du = (await run("du", ["-sk", path.join(pkg, "node_modules")])).stdout.split("\t")[0];
    console.log(`packed: ${tarballs.map((t) => `${t.file} ${(t.size / 1024).toFixed(1)} KiB`).join(", ")}; npm ci --offline ${installMs} ms, node_modules ${Math.round(Number(du) / 1024)} MiB`);
    bin = path.join(pkg, "node_modules", ".bin", "wasm-fn");
    const home = path.join(tmp, "home");
    await mkdir(home);
    const { XDG_CACHE_HOME: _x, WASM_FN_CACHE: _c, NODE_PATH: _n, ...rest } = cleanEnv();
    // Nothing of the repository on PATH (an outer `npm test` puts its node_modules/.bin there).
    const PATH = (rest.PATH ?? "").split(path.delimiter).filter((d) => !d.startsWith(ROOT)).join(path.delimiter);
    env = { ...rest, PATH, HOME: home };
  }, 300_000);
  afterAll(async () => { if (tmp) await rm(tmp, { recursive: true, force: true }); });

  it("ships the compiled CLI and adapter, not the sources or the tests, and installs it from the tarballs (no links into the repository)", async () => {
    const cli = path.join(tmp, "install", "node_modules", "wasm-fn");
    expect((await stat(cli)).isSymbolicLink()).toBe(false);
    expect(realpathSync(bin).startsWith(tmp)).toBe(true);
    expect(await readdir(cli)).toEqual(expect.arrayContaining(["bin", "dist", "package.json"]));
    expect(await readdir(cli)).not.toContain("src");
    const runtime = await readdir(path.join(tmp, "install", "node_modules", "@wasm-fn", "runtime-shim", "dist"), { recursive: true });
    expect(runtime.some((f) => String(f).endsWith(".test.js"))).toBe(false);
    expect(realpathSync(path.join(tmp, "install", "node_modules", "@wasm-fn", "sdk")).startsWith(ROOT)).toBe(false);
    // The WasmEdge adapter comes compiled (one, the current one): a first build does not compile it.
    const build = await readdir(path.join(tmp, "install", "node_modules", "@wasm-fn", "build", "dist"));
    expect(build.filter((f) => /^wasmedge-adapter-.*\.wasm$/.test(f))).toHaveLength(1);
  });

  it("wasm-fn init hello && cd hello && wasm-fn build && wasm-fn run answers GET /default/hello?name=x", async () => {
    // Inside the install folder, so the project's `npm test` finds this wasm-fn in a node_modules/.bin above it.
    const work = path.join(tmp, "install");
    await run(bin, ["init", "hello"], { cwd: work, env });
    const fn = path.join(work, "hello");
    const built = await run(bin, ["build"], { cwd: fn, env });
    expect(built.stdout).toMatch(/built hello -> dist\/hello\.wasm/);
    const port = await freePort();
    const shim = spawn(bin, ["run", "--port", String(port)], { cwd: fn, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    shim.stdout.on("data", (d) => (out += d));
    shim.stderr.on("data", (d) => (out += d));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes("listening on")) {
        if (Date.now() > deadline || shim.exitCode !== null) throw new Error(`wasm-fn run did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await fetch(`http://127.0.0.1:${port}/default/hello?name=x`);
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ greeting: "hello, x" });
    } finally {
      if (shim.exitCode === null && shim.signalCode === null) {
        shim.kill("SIGTERM");
        await new Promise((r) => shim.once("exit", r));
      }
    }
  }, 180_000);

  it("the generated project's npm test passes with the installed wasm-fn", async () => {
    const r = await run("npm", ["test"], { cwd: path.join(tmp, "install", "hello"), env, maxBuffer: 1 << 24 });
    expect(r.stdout).toContain("> wasm-fn build && node --test");
    expect(r.stdout).toMatch(/# pass 1\n# fail 0/);
  }, 180_000);
});
