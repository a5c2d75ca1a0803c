#!/usr/bin/env node
// Packs the `wasm-fn` CLI and the workspace packages it runs on into <outdir>, with a package.json and a
// package-lock.json there, so `cd <outdir> && npm ci` installs a working `wasm-fn` outside this repository
// (node_modules/.bin/wasm-fn). Run `npm run build` first: the tarballs ship the compiled dist/.
//
//   node scripts/pack-cli.mjs /tmp/wasm-fn && cd /tmp/wasm-fn && npm ci --offline
//
// Why a lockfile: the @wasm-fn/* packages are not on a registry, and a lockless install of the tarballs
// resolves every third-party range from full registry metadata, which the npm cache of a machine that
// only ran `npm ci` does not hold (it holds the tarballs and the abbreviated metadata). The lockfile is
// cut from this repository's: the versions CI tested, each tarball fetched by integrity, so the install
// works offline from that cache.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** What `wasm-fn` needs at run time, in dependency order (the examples workspaces are not shipped). */
export const PACKED = ["packages/abi", "packages/sdk", "packages/build", "oci", "runtime-shim", "packages/deploy", "packages/cli"];

/**
 * Packs into `outDir` and writes its package.json and package-lock.json.
 * @returns the tarballs: file name, size in bytes, and the package name.
 */
export async function packCli(outDir) {
  mkdirSync(outDir, { recursive: true });
  for (const dir of PACKED) {
    try { readdirSync(path.join(ROOT, dir, "dist")); } catch { if (dir !== "packages/sdk") throw new Error(`${dir}/dist is missing: run \`npm run build\` first`); }
  }
  await shipAdapter();
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", outDir, ...PACKED.flatMap((d) => ["-w", d])], { cwd: ROOT, encoding: "utf8", env: cleanEnv() });
  const packed = JSON.parse(out).map((p) => ({ name: p.name, file: p.filename, size: p.size }));
  const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));
  const dependencies = Object.fromEntries(packed.map((p) => [p.name, `file:${p.file}`]));
  const packages = { "": { name: "wasm-fn-install", dependencies } };
  const wsDirs = new Map(PACKED.map((d) => [d, `node_modules/${lock.packages[d].name}`]));
  for (const [i, p] of packed.entries()) {
    const dir = PACKED[i];
    const ws = lock.packages[dir];
    if (ws.name !== p.name) throw new Error(`npm pack answered ${p.name} where ${dir} (${ws.name}) was expected`);
    const integrity = `sha512-${createHash("sha512").update(readFileSync(path.join(outDir, p.file))).digest("base64")}`;
    const { name: _name, ...meta } = ws;
    packages[wsDirs.get(dir)] = { ...meta, resolved: `file:${p.file}`, integrity };
    copyDeps(lock.packages, packages, dir, wsDirs, new Set(packed.map((q) => q.name)));
  }
  writeFileSync(path.join(outDir, "package.json"), JSON.stringify({ name: "wasm-fn-install", private: true, dependencies }, null, 2) + "\n");
  writeFileSync(path.join(outDir, "package-lock.json"), JSON.stringify({ name: "wasm-fn-install", lockfileVersion: 3, requires: true, packages }, null, 2) + "\n");
  return packed;
}

/**
 * Compiles the WasmEdge adapter into packages/build/dist, where a build looks before its cache, so the
 * tarball ships it: a user's first build does not spend seconds compiling it (7-9 s here, 70 ms to read). Adapters of other sources
 * (stale caches) are left out.
 */
async function shipAdapter() {
  const dist = path.join(ROOT, "packages", "build", "dist");
  const saved = process.env.WASM_FN_CACHE;
  process.env.WASM_FN_CACHE = mkdtempSync(path.join(os.tmpdir(), "wasm-fn-pack-cache-"));
  try {
    const { adapterModule } = await import(pathToFileURL(path.join(dist, "wasmedge.js")).href);
    const adapter = Buffer.from(await adapterModule());
    for (const f of readdirSync(dist).filter((n) => /^wasmedge-adapter-.*\.wasm$/.test(n))) {
      if (!readFileSync(path.join(dist, f)).equals(adapter)) rmSync(path.join(dist, f));
    }
  } finally {
    rmSync(process.env.WASM_FN_CACHE, { recursive: true, force: true });
    if (saved === undefined) delete process.env.WASM_FN_CACHE; else process.env.WASM_FN_CACHE = saved;
  }
}

/**
 * Copies the lock entries `from` (a location in this repository's lockfile) depends on, and theirs,
 * to their places in the new tree: a workspace folder becomes node_modules/<its name>, so a package
 * nested under runtime-shim/node_modules stays nested under the runtime's folder.
 */
function copyDeps(src, dst, from, wsDirs, wsNames) {
  const entry = src[from];
  const optional = new Set(Object.keys(entry.optionalDependencies ?? {}));
  const peersOptional = new Set(Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
  const names = [...Object.keys(entry.dependencies ?? {}), ...optional, ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !peersOptional.has(n))];
  for (const name of names) {
    if (wsNames.has(name)) continue;
    const at = resolveIn(src, from, name);
    if (!at) {
      if (optional.has(name)) continue;
      throw new Error(`${from} needs ${name}, which package-lock.json does not hold`);
    }
    const to = relocate(at, wsDirs);
    if (dst[to]) continue;
    const { dev: _d, devOptional: _do, peer: _p, ...copy } = src[at];
    dst[to] = copy;
    copyDeps(src, dst, at, wsDirs, wsNames);
  }
}

/** Node's lookup over lockfile locations: <from>/node_modules/<name>, then each parent's. */
function resolveIn(src, from, name) {
  let dir = from;
  for (;;) {
    const at = `${dir ? `${dir}/` : ""}node_modules/${name}`;
    if (src[at] && !src[at].link) return at;
    if (!dir) return null;
    const i = dir.lastIndexOf("/node_modules/");
    dir = i >= 0 ? dir.slice(0, i) : "";
  }
}

function relocate(at, wsDirs) {
  for (const [dir, to] of wsDirs) if (at.startsWith(`${dir}/node_modules/`)) return to + at.slice(dir.length);
  return at;
}

/** npm's own variables from an outer `npm test` (its prefix, workspace, ...) must not steer the inner npm. */
export function cleanEnv(env = process.env) {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !/^npm_/i.test(k)));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = path.resolve(process.argv[2] ?? "wasm-fn-pack");
  for (const p of await packCli(outDir)) console.log(`${p.file}  ${(p.size / 1024).toFixed(1)} KiB`);
  console.log(`next: cd ${outDir} && npm ci   (then ${path.join(outDir, "node_modules", ".bin", "wasm-fn")} --help)`);
}
