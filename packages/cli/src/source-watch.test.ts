import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ignoredName, watchSources } from "./source-watch.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("watchSources", () => {
  let root: string;
  let seen: string[];
  let watcher: { close(): void };
  beforeEach(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-watch-"));
    for (const d of ["assembly", "dist", "node_modules/x", ".wasm-fn"]) await mkdir(path.join(root, d), { recursive: true });
    seen = [];
    watcher = await watchSources(root, (f) => seen.push(f), (m) => seen.push(`error: ${m}`));
  });
  afterEach(async () => { watcher.close(); await rm(root, { recursive: true, force: true }); });

  /** Waits until `file` was reported (fs events arrive asynchronously). */
  async function reported(file: string): Promise<void> {
    for (let i = 0; i < 200 && !seen.includes(file); i++) await sleep(10);
    expect(seen).toContain(file);
  }

  it("reports sources in the folder and below it, not build output, dependencies or hidden files", async () => {
    await writeFile(path.join(root, "dist", "hello.wasm"), "x");
    await writeFile(path.join(root, "node_modules", "x", "index.js"), "x");
    await writeFile(path.join(root, ".wasm-fn", "state.json"), "{}");
    await writeFile(path.join(root, "assembly", ".index.ts.swp"), "x");
    await writeFile(path.join(root, "wasm-fn.yaml"), "name: a\n");
    await writeFile(path.join(root, "assembly", "index.ts"), "x");
    await reported("wasm-fn.yaml");
    await reported(path.join("assembly", "index.ts"));
    await sleep(50);
    expect(seen.filter((f) => /dist|node_modules|wasm-fn\/|swp/.test(f))).toEqual([]);
  });

  it("watches a folder created later, and one removed and created again", async () => {
    await mkdir(path.join(root, "assembly", "lib"));
    await sleep(50);
    await writeFile(path.join(root, "assembly", "lib", "a.ts"), "x");
    await reported(path.join("assembly", "lib", "a.ts"));
    await rm(path.join(root, "assembly"), { recursive: true });
    await sleep(50);
    await mkdir(path.join(root, "assembly"));
    await sleep(50);
    await writeFile(path.join(root, "assembly", "b.ts"), "x");
    await reported(path.join("assembly", "b.ts"));
  });

  it("ignores editors' and builds' scratch names", () => {
    for (const n of [".git", ".index.ts.swp", "index.ts~", "4913", "hello.wasm.123.tmp"]) expect(ignoredName(n)).toBe(true);
    for (const n of ["index.ts", "main.c", "wasm-fn.yaml"]) expect(ignoredName(n)).toBe(false);
  });
});
