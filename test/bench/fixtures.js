/**
 * Functions the runtime tests and the benchmark serve, written as AssemblyScript sources and built
 * with the real `buildFunction` (the pipeline `wasm-fn build` runs). Builds are cached by content
 * hash in the OS temp dir, so suites share them and a rerun does not rebuild.
 * Plain JS so `npm run bench` (node test/bench/run.js) can use it without a compile step.
 */
import { createHash } from "node:crypto";
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildFunction } from "@wasm-fn/build";

/** A function that misbehaves on request: /loop, /trap, /bomb, /big, /spin?ms=N (wall clock), /work?n=N (a fixed amount of CPU), /count; anything else answers "ok". */
export const FAULTS_SOURCE = `import { Request, Response } from "@wasm-fn/sdk";

let counter: i32 = 0;
let sink: i64 = 0;
const keep = new Array<Uint8Array>();

function num(v: string | null, d: i32): i32 {
  return v !== null && v.length > 0 ? I32.parseInt(v) : d;
}

function spin(ms: i64): void {
  const end = Date.now() + ms;
  while (Date.now() < end) sink++;
}

export function handle(req: Request): Response {
  const p = req.path;
  if (p == "/loop") {
    // An infinite loop: only the host's timeout stops it.
    while (sink >= 0) sink++;
    return Response.text("unreachable");
  }
  if (p == "/trap") unreachable();
  if (p == "/bomb") {
    for (;;) keep.push(new Uint8Array(1 << 20));
  }
  if (p == "/big") {
    const n = num(req.param("kib"), 64) * 1024;
    return Response.bytes(new Uint8Array(n));
  }
  if (p == "/spin") {
    spin(<i64>num(req.param("ms"), 100));
    return Response.text("spun");
  }
  if (p == "/work") {
    const n = num(req.param("n"), 1000000);
    for (let i = 0; i < n; i++) sink += <i64>(i ^ <i32>(sink >> 3));
    return Response.text(sink.toString());
  }
  if (p == "/count") {
    counter++;
    return Response.text(counter.toString());
  }
  return Response.text("ok");
}
`;

/** A function whose answer names its version: hot swap checks which build served each request. /spin?ms=N works first. @param {string} version */
export function versionSource(version) {
  return `import { Request, Response } from "@wasm-fn/sdk";
let sink: i64 = 0;
export function handle(req: Request): Response {
  if (req.path == "/spin") {
    const ms = req.param("ms");
    const end = Date.now() + (ms !== null ? I64.parseInt(ms) : 200);
    while (Date.now() < end) sink++;
  }
  return Response.text("${version}");
}
`;
}

export const HELLO_SOURCE = `import { Request, Response } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  const name = req.param("name");
  return Response.text("hello, " + (name !== null && name.length > 0 ? name : "world") + "\\n");
}
`;

/** A function that logs without end (until its timeout). */
export const LOGGER_SOURCE = `import { Request, Response, log } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  const line = "x".repeat(1000);
  for (let i = 0; ; i++) log.info(line + i.toString());
  return Response.text("unreachable");
}
`;

/** A function that calls ?url= without end (until its timeout); needs permissions.hosts. */
export const FLOODER_SOURCE = `import { Request, Response, http } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  const u = req.param("url");
  for (;;) http.fetch(u !== null ? u : "");
  return Response.text("unreachable");
}
`;

/**
 * A word counter as a newcomer writes it (issue 13): the body as text, words split on whitespace,
 * counted in a Map. A 500 KB body takes ~60-100 ms: heavy, past the 50 ms main-thread slice, but
 * well within its deadline.
 */
export const WORDCOUNT_SOURCE = `import { Request, Response } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  const text = req.text();
  const counts = new Map<string, i32>();
  let words = 0;
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 32;
    const space = c == 32 || c == 10 || c == 9 || c == 13;
    if (!space && start < 0) start = i;
    else if (space && start >= 0) {
      const w = text.substring(start, i).toLowerCase();
      counts.set(w, counts.has(w) ? counts.get(w) + 1 : 1);
      words++;
      start = -1;
    }
  }
  return Response.text(words.toString() + " words, " + counts.size.toString() + " distinct\\n");
}
`;

/** @typedef {{ dir: string, name: string, wasmPath: string }} Fixture */

const ROOT = path.join(os.tmpdir(), "wasm-fn-runtime-fixtures");

/**
 * Writes `<name>/wasm-fn.yaml` + `assembly/index.ts` and builds it (once per content).
 * `yaml` is appended to the generated config (limits, scaleOptions, isolation...).
 */
/**
 * @param {string} name
 * @param {string} source
 * @param {string} [yaml]
 * @returns {Promise<Fixture>}
 */
export async function buildFixture(name, source, yaml = "") {
  const config = `name: ${name}\nversion: 0.1.0\nlang: as\n${yaml}`;
  const hash = createHash("sha256").update(await toolchain()).update(config).update(source).digest("hex").slice(0, 16);
  const dir = path.join(ROOT, `${name}-${hash}`);
  const wasmPath = path.join(dir, "dist", `${name}.wasm`);
  if (await exists(wasmPath)) return { dir, name, wasmPath };
  // Build in a private directory, then publish it by rename: parallel suites never see half a build.
  const tmp = `${dir}.${process.pid}.${Date.now()}`;
  await mkdir(path.join(tmp, "assembly"), { recursive: true });
  await writeFile(path.join(tmp, "wasm-fn.yaml"), config);
  await writeFile(path.join(tmp, "assembly", "index.ts"), source);
  await buildFunction(tmp, { optimize: true });
  await rename(tmp, dir).catch(async () => {
    // Another suite published the same build first: use theirs.
    await rm(tmp, { recursive: true, force: true });
    if (!(await exists(wasmPath))) throw new Error(`could not publish fixture ${dir}`);
  });
  return { dir, name, wasmPath };
}

/** A private copy of a fixture (tests that rewrite dist/ must not touch the shared cache). */
/** @param {Fixture} f @param {string} into @returns {Promise<Fixture>} */
export async function copyFixture(f, into) {
  const dir = path.join(into, path.basename(f.dir));
  await cp(f.dir, dir, { recursive: true });
  return { dir, name: f.name, wasmPath: path.join(dir, "dist", `${f.name}.wasm`) };
}

/** @param {Fixture} f */
export async function moduleBytes(f) {
  return readFile(f.wasmPath);
}

let toolchainHash;
/** A hash of what a build depends on besides the function (SDK sources, the compiled build package): a change rebuilds. */
async function toolchain() {
  if (toolchainHash) return toolchainHash;
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
  const h = createHash("sha256");
  for (const dir of [path.join(root, "packages", "sdk", "assembly"), path.join(root, "packages", "build", "adapter"), path.join(root, "packages", "build", "dist"), path.join(root, "packages", "abi", "dist")]) {
    const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith(".ts") || f.endsWith(".js")).sort();
    for (const f of files) h.update(f).update(await readFile(path.join(dir, f)));
  }
  return (toolchainHash = h.digest("hex"));
}

/** @param {string} p */
async function exists(p) {
  return stat(p).then(() => true, () => false);
}

