/**
 * `wasm-fn dev` (issue 13, point 10), the real CLI in a copy of examples/hello: an edit lands while
 * 200 requests are in flight and none fails; a compile error is printed in the terminal and answered
 * 500 with the compiler's message until it is fixed; so is a bad wasm-fn.yaml; Ctrl-C stops cleanly.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT } from "./harness/cli.js";

interface Dev {
  url: string;
  proc: ChildProcess;
  /** Length of the output so far: `waitFor(pattern, mark())` then looks only at what comes after. */
  mark(): number;
  waitFor(pattern: string | RegExp, from: number, timeoutMs?: number): Promise<string>;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `wasm-fn dev` in `cwd` (the function directory, as a user would) on a free port; human output unless `json`. */
function startDev(cwd: string, json = false, startMs = 60_000): Promise<Dev> {
  const proc = spawn(process.execPath, [BIN, ...(json ? ["--json"] : []), "dev", "--port", "0", "--no-access-log"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  const dev: Omit<Dev, "url"> = {
    proc,
    output: () => out,
    mark: () => out.length,
    async waitFor(pattern, from, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const tail = out.slice(from);
        const m = typeof pattern === "string" ? (tail.includes(pattern) ? pattern : null) : pattern.exec(tail)?.[0] ?? null;
        if (m !== null) return m;
        if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`not in wasm-fn dev's output after ${timeoutMs} ms: ${pattern}\n${out.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async stop(signal = "SIGINT") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  return dev.waitFor(json ? /\{"url":"http:[^"]+/ : /wasm-fn listening on http:\S+/, 0, startMs).then(
    (line) => ({ ...dev, url: /http:.*/.exec(line)![0] }),
    (e) => { proc.kill("SIGKILL"); throw e; },
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SOURCE = (answer: string) => `import { Request, Response } from "@wasm-fn/sdk";

export function handle(req: Request): Response {
  return Response.text("${answer}\\n");
}
`;

let tmp: string;
beforeAll(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-dev-")); });
afterAll(async () => { await rm(tmp, { recursive: true, force: true }); });

async function copyHello(name: string, example = "hello"): Promise<{ dir: string; source: string; yaml: string }> {
  const dir = path.join(tmp, name);
  // The example's own sources only: a dist/ there from an earlier build is not part of it.
  await cp(path.join(ROOT, "examples", example), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
  return { dir, source: path.join(dir, example === "hello-ts" ? "src" : "assembly", "index.ts"), yaml: path.join(dir, "wasm-fn.yaml") };
}

describe("wasm-fn dev", () => {
  let dev: Dev;
  let fn: Awaited<ReturnType<typeof copyHello>>;
  let pool: Pool;
  beforeAll(async () => {
    fn = await copyHello("hello");
    // A WasmEdge form an earlier `wasm-fn build` left: dev builds none, so this one would be stale.
    await mkdir(path.join(fn.dir, "dist"));
    await writeFile(path.join(fn.dir, "dist", "hello.wasmedge.wasm"), "stale");
    dev = await startDev(fn.dir);
    pool = new Pool(dev.url, { connections: 200 });
  });
  afterAll(async () => { await pool?.close(); await dev?.stop("SIGKILL"); });

  const get = async (p = "/default/hello") => {
    const started = performance.now();
    const r = await pool.request({ path: p, method: "GET" });
    return { status: r.statusCode, body: await r.body.text(), started };
  };

  it("builds and serves the function: 200", async () => {
    expect(await get("/default/hello?name=dev")).toMatchObject({ status: 200, body: "hello, dev\n" });
    expect(dev.output()).toMatch(/watching \. for changes \(built in \d+\.\d s\)/);
  });

  it("an edit is rebuilt and swapped in while 200 requests are in flight: no request fails", async () => {
    const answers: { status: number; body: string; started: number }[] = [];
    const errors: string[] = [];
    let inflight = 0;
    let running = true;
    const loops = Promise.all(Array.from({ length: 200 }, async () => {
      while (running) {
        inflight++;
        try { answers.push(await get()); } catch (e) { errors.push((e as Error).message); } finally { inflight--; }
      }
    }));
    await sleep(300);
    const from = dev.mark();
    let inflightAtSwap = -1;
    const swapped = dev.waitFor(/rebuilt in \d+\.\d s, swapped/, from).then((l) => { inflightAtSwap = inflight; return l; });
    await writeFile(fn.source, SOURCE("edited"));
    await swapped;
    const seenAt = performance.now();
    // Enough answers to requests sent after the swap (a loaded machine answers fewer per second).
    for (let i = 0; i < 200 && answers.filter((a) => a.started > seenAt).length < 400; i++) await sleep(50);
    running = false;
    await loops;
    console.log(`wasm-fn dev: ${answers.length} requests across the swap (200 in flight), ${errors.length + answers.filter((a) => a.status !== 200).length} failed`);
    expect(errors, errors.slice(0, 3).join("\n")).toEqual([]);
    const failed = answers.filter((a) => a.status !== 200);
    expect(failed.slice(0, 3)).toEqual([]);
    // 200 requests were outstanding when the swap was reported (the loops re-issue at once).
    expect(inflightAtSwap).toBe(200);
    expect(answers.some((a) => a.body === "hello, world\n")).toBe(true);
    expect(answers.some((a) => a.body === "edited\n")).toBe(true);
    // Every request sent after the swap was reported got the new build.
    const after = answers.filter((a) => a.started > seenAt);
    expect(after.length).toBeGreaterThan(200);
    expect(after.filter((a) => a.body !== "edited\n").slice(0, 3)).toEqual([]);
  });

  it("a compile error is shown in the terminal and answered 500 with the compiler's message until fixed", async () => {
    let from = dev.mark();
    await writeFile(fn.source, SOURCE("broken").replace('Response.text(', "Response.text(nope + "));
    await dev.waitFor("build failed in", from);
    await dev.waitFor("(requests get 500 with this message until a build succeeds)", from);
    expect(dev.output().slice(from)).toContain("ERROR TS2304: Cannot find name 'nope'.");
    for (const p of ["/default/hello", "/hello/x"]) {
      const r = await get(p);
      expect(r.status).toBe(500);
      const body = JSON.parse(r.body) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({ code: "INTERNAL", reason: "WFN_BUILD_FAILED" });
      expect(body.error.message).toContain("WFN_COMPILE");
      expect(body.error.message).toContain("ERROR TS2304: Cannot find name 'nope'.");
    }
    // Not the function's: still the gateway's 404.
    expect((await get("/default/other")).status).toBe(404);
    from = dev.mark();
    await writeFile(fn.source, SOURCE("fixed"));
    await dev.waitFor(/rebuilt in \d+\.\d s, swapped/, from);
    expect(await get()).toMatchObject({ status: 200, body: "fixed\n" });
  });

  it("an invalid wasm-fn.yaml is an error shown the same way, until it is valid again", async () => {
    const good = await readFile(fn.yaml, "utf8");
    let from = dev.mark();
    await writeFile(fn.yaml, good.replace("version: 0.1.0", "version: 0.1.0\nscaleOption: {maxReplicas: 2}"));
    await dev.waitFor("build failed in", from);
    expect(dev.output().slice(from)).toMatch(/error WFN_CONFIG_UNKNOWN_KEY: .*scaleOption.*did you mean 'scaleOptions'/);
    const r = await get();
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: "INTERNAL", reason: "WFN_BUILD_FAILED", message: expect.stringContaining("did you mean 'scaleOptions'") } });
    from = dev.mark();
    await writeFile(fn.yaml, good.replace('paths: ["/hello"]', 'paths: ["/hi"]'));
    await dev.waitFor(/rebuilt in \d+\.\d s, swapped/, from);
    // The new config's routes are served at once.
    expect(await get("/hi")).toMatchObject({ status: 200, body: "fixed\n" });
    expect((await get("/hello")).status).toBe(404);
  });

  it("edit-to-new-answer latency (median of 5 edits)", async () => {
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = `answer ${i}`;
      const t0 = performance.now();
      await writeFile(fn.source, SOURCE(answer));
      for (;;) {
        if ((await get()).body === `${answer}\n`) break;
        if (performance.now() - t0 > 30_000) throw new Error(`edit ${i} not served after 30 s\n${dev.output().slice(-2000)}`);
        await sleep(5);
      }
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const median = ms[2]!;
    console.log(`wasm-fn dev: edit-to-new-answer ${ms.map((x) => x.toFixed(0)).join(", ")} ms; median ${median.toFixed(0)} ms`);
    expect(median).toBeLessThan(10_000);
  });

  it("Ctrl-C stops cleanly: exit 0, no process left, no partial file", async () => {
    const pid = dev.proc.pid!;
    // Ctrl-C in the middle of a rebuild: it finishes (its files land whole) before dev exits.
    const from = dev.mark();
    await writeFile(fn.source, SOURCE("last"));
    await sleep(250); // past the debounce: the rebuild has started (and may have finished)
    expect(await dev.stop("SIGINT")).toBe(0);
    expect(dev.output().slice(from)).toMatch(/rebuilt in \d+\.\d s, swapped[^]*"msg":"stopped"/);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    const dist = readdirSync(path.join(fn.dir, "dist"));
    expect(dist.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(dist.sort()).toEqual(["hello.json", "hello.wasm"]); // the stale WasmEdge form went with the first build
    // The module on disk is whole: its metadata's digest matches.
    const meta = JSON.parse(readFileSync(path.join(fn.dir, "dist", "hello.json"), "utf8")) as { wasm: { size: number } };
    expect(readFileSync(path.join(fn.dir, "dist", "hello.wasm")).length).toBe(meta.wasm.size);
  });
});

describe("wasm-fn dev from a broken start", () => {
  it("serves 500 with the compiler's message from the start, then the function once it builds", async () => {
    const fn = await copyHello("broken");
    await writeFile(fn.source, SOURCE("x").replace("Response.text(", "Response.text(missing + "));
    const dev = await startDev(fn.dir, true);
    try {
      expect(dev.output()).toContain("Cannot find name 'missing'");
      const r = await fetch(`${dev.url}/default/hello`);
      expect(r.status).toBe(500);
      expect(((await r.json()) as { error: { code: string; reason: string; message: string } }).error).toMatchObject({ reason: "WFN_BUILD_FAILED", message: expect.stringContaining("Cannot find name 'missing'") });
      const from = dev.mark();
      await writeFile(fn.source, SOURCE("first good build"));
      await dev.waitFor('"event":"rebuilt"', from);
      expect(dev.output().slice(from)).toContain('"outcome":"serving"');
      const ok = await fetch(`${dev.url}/default/hello`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("first good build\n");
      // A rename cannot be hot-swapped (the shim keeps a function's name): dev restarts the shim on its port.
      const renamed = dev.mark();
      await writeFile(fn.yaml, (await readFile(fn.yaml, "utf8")).replace("name: hello", "name: hello2"));
      await dev.waitFor('"event":"rebuilt"', renamed);
      expect(dev.output().slice(renamed)).toContain('"outcome":"restarted as default/hello2"');
      const again = await fetch(`${dev.url}/default/hello2`);
      expect(again.status).toBe(200);
      expect(await again.text()).toBe("first good build\n");
    } finally {
      expect(await dev.stop("SIGINT")).toBe(0);
    }
  });

  it("a directory without wasm-fn.yaml fails at once with its error", async () => {
    const proc = spawn(process.execPath, [BIN, "dev", tmp, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    proc.stderr.on("data", (d) => (err += d));
    const code = await new Promise((r) => proc.on("exit", r));
    expect(code).toBe(1);
    expect(err).toMatch(/error WFN_CONFIG_MISSING: /);
  });
});

describe("wasm-fn dev of a TypeScript function", () => {
  // componentize-js cannot run on dev's build thread (it spawns with the process's stdio): built on the main thread.
  it("builds, serves and swaps an edit of examples/hello-ts", async () => {
    const fn = await copyHello("hello-ts", "hello-ts");
    const dev = await startDev(fn.dir, false, 240_000); // componentize-js: ~20 s the first time, more on a busy machine
    try {
      const first = await fetch(`${dev.url}/default/hello-ts?name=ts`);
      expect(first.status).toBe(200);
      expect(await first.text()).toBe("hello, ts\n");
      const from = dev.mark();
      await writeFile(fn.source, (await readFile(fn.source, "utf8")).replace("`hello, ${name}", "`hey, ${name}"));
      await dev.waitFor(/rebuilt in \d+\.\d s, swapped/, from, 170_000);
      const next = await fetch(`${dev.url}/default/hello-ts?name=ts`);
      expect(await next.text()).toBe("hey, ts\n");
    } finally {
      expect(await dev.stop("SIGINT")).toBe(0);
    }
  }, 300_000);
});
