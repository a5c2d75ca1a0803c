// Attack: an image (from a registry, a layout folder or an archive) that asks the puller to hold or
// store more than any function image needs: a layer that inflates past what its descriptor says,
// a config or blobs far larger than a function's, hundreds of layers or index entries, a huge
// index.json, or a big layer meant to be buffered in memory. Each is refused with a sentence before
// anything is fetched where the numbers are known, layers stream to disk (never whole in memory),
// and a refused pull leaves nothing in the cache.
import { execFile, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLayoutToCache, pullToCache, pushLayout, writeImageLayout } from "@wasm-fn/oci";
import { ROOT } from "../harness/cli.js";
import { startRegistry, type RegistryHandle } from "../harness/registry.js";

const WASM = Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), randomBytes(4096)]);
const sha = (b: Buffer): string => "sha256:" + createHash("sha256").update(b).digest("hex");
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

let work: string;
let reg: RegistryHandle;
beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "wfn-oversized-"));
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh layout holding a real function image; returns its folder. */
async function layout(name: string, wasm: Buffer = WASM): Promise<string> {
  const dir = path.join(work, name);
  await writeImageLayout({ name, version: "0.1.0", wasm, format: "image", metadata: { name } }, dir);
  return dir;
}

interface Doc { [k: string]: unknown; layers: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[]; config: { digest: string; size: number } }

/** Rewrites a layout's manifest (and index.json to point at the new one). */
function rewriteManifest(dir: string, edit: (m: Doc, addBlob: (b: Buffer) => string) => void): void {
  const blobs = path.join(dir, "blobs", "sha256");
  const index = JSON.parse(readFileSync(path.join(dir, "index.json"), "utf8")) as { manifests: { digest: string; size: number }[] };
  const entry = index.manifests[0]!;
  const m = JSON.parse(readFileSync(path.join(blobs, entry.digest.slice(7)), "utf8")) as Doc;
  const addBlob = (b: Buffer): string => { const d = sha(b); writeFileSync(path.join(blobs, d.slice(7)), b); return d; };
  edit(m, addBlob);
  const bytes = json(m);
  entry.digest = addBlob(bytes);
  entry.size = bytes.length;
  writeFileSync(path.join(dir, "index.json"), json(index));
}

/** Images in a cache; a refused pull leaves none, and no temp folder either. */
const cached = (cache: string): string[] => (existsSync(path.join(cache, "images")) ? readdirSync(path.join(cache, "images")) : []);

/** Pushes blobs and a manifest as they are (our own push would refuse these manifests). */
async function pushRaw(repo: string, blobs: Buffer[], manifest: Buffer): Promise<string> {
  for (const b of blobs) {
    const start = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: "POST" });
    const put = new URL(start.headers.get("location")!, reg.url);
    put.searchParams.set("digest", sha(b));
    const res = await fetch(put, { method: "PUT", body: b, headers: { "content-type": "application/octet-stream" } });
    expect(res.status).toBe(201);
  }
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/v1`, { method: "PUT", body: manifest, headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } });
  expect(res.status, await res.text()).toBe(201);
  return `${reg.host}/${repo}:v1`;
}

function manifestFor(config: Buffer, layers: { mediaType: string; bytes: Buffer; size?: number }[], configSize = config.length): Buffer {
  return json({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.wasm.config.v0+json", digest: sha(config), size: configSize },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: sha(l.bytes), size: l.size ?? l.bytes.length })),
    annotations: { "org.opencontainers.image.title": "big" },
  });
}

describe("oversized and over-inflating images", () => {
  it("a layer that inflates past the size its descriptor declares is refused, nothing cached", async () => {
    const dir = await layout("liar");
    rewriteManifest(dir, (m) => { m.layers[0]!.annotations = { "dev.wasm-fn.inflated-size": "1024" }; });
    const cache = path.join(work, "cache-liar");
    await expect(loadLayoutToCache(dir, { cacheDir: cache })).rejects.toMatchObject({
      code: "WFN_OCI_IMAGE_INVALID",
      message: expect.stringMatching(/inflates past the 1024 bytes its descriptor declares.*nothing was stored/),
    });
    expect(cached(cache)).toEqual([]);
    // the same image with its true size is fine
    await expect(loadLayoutToCache(await layout("honest"), { cacheDir: cache })).resolves.toMatchObject({ wasmPath: expect.stringMatching(/honest\.wasm$/) });
  });

  it("a gzip bomb pulled from a registry is refused while it streams; no partial file is left", async () => {
    const bomb = Buffer.alloc(100 * 1024 * 1024);
    bomb.set([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    const dir = await layout("bomb", bomb);
    const { digest } = await pushLayout(dir, `${reg.host}/bomb:1`, { insecure: true, cacheDir: path.join(work, "push-cache") });
    const cache = path.join(work, "cache-bomb");
    await expect(pullToCache(`${reg.host}/bomb@${digest}`, { insecure: true, cacheDir: cache })).rejects.toMatchObject({
      code: "WFN_OCI_IMAGE_INVALID",
      message: expect.stringMatching(/inflates past 64 MiB/),
    });
    expect(cached(cache)).toEqual([]);
  }, 60_000);

  it("a config or blobs over the bounds are refused before anything is fetched", async () => {
    const config = json({ architecture: "wasm", os: "wasip1" });
    const cache = path.join(work, "cache-sizes");
    const bigConfig = await pushRaw("bigconfig", [config, WASM], manifestFor(config, [{ mediaType: "application/wasm", bytes: WASM }], 50 << 20));
    await expect(pullToCache(bigConfig, { insecure: true, cacheDir: cache })).rejects.toMatchObject({
      code: "WFN_OCI_IMAGE_INVALID", message: expect.stringMatching(/config is 52428800 bytes, over the 1 MiB limit.*nothing was fetched/),
    });
    const bigBlobs = await pushRaw("bigblobs", [config, WASM], manifestFor(config, [{ mediaType: "application/wasm", bytes: WASM, size: 900 << 20 }]));
    await expect(pullToCache(bigBlobs, { insecure: true, cacheDir: cache })).rejects.toMatchObject({
      code: "WFN_OCI_IMAGE_INVALID", message: expect.stringMatching(/blobs add up to \d+ bytes, over the 256 MiB limit for one image.*nothing was fetched/),
    });
    expect(cached(cache)).toEqual([]);
  });

  it("more layers than a Wasm image may have are refused", async () => {
    const config = json({ architecture: "wasm", os: "wasip1" });
    const layers = Array.from({ length: 17 }, (_, i) => ({ mediaType: "application/wasm", bytes: i === 0 ? WASM : Buffer.from(`layer ${i}`) }));
    const ref = await pushRaw("manylayers", [config, ...layers.map((l) => l.bytes)], manifestFor(config, layers));
    const cache = path.join(work, "cache-layers");
    await expect(pullToCache(ref, { insecure: true, cacheDir: cache })).rejects.toMatchObject({
      code: "WFN_OCI_IMAGE_INVALID", message: expect.stringMatching(/17 layers, more than the 16 a Wasm image may have/),
    });
    expect(cached(cache)).toEqual([]);
  });

  it("a layout's index.json over 4 MiB, or with hundreds of entries, is refused", async () => {
    const cache = path.join(work, "cache-index");
    const padded = await layout("padded");
    const index = readFileSync(path.join(padded, "index.json"), "utf8");
    writeFileSync(path.join(padded, "index.json"), index.replace("{", "{" + " ".repeat(5 << 20)));
    await expect(loadLayoutToCache(padded, { cacheDir: cache })).rejects.toMatchObject({ code: "WFN_OCI_LAYOUT_INVALID", message: expect.stringMatching(/index\.json is \d+ bytes, over/) });
    const crowded = await layout("crowded");
    const doc = JSON.parse(readFileSync(path.join(crowded, "index.json"), "utf8")) as { manifests: unknown[] };
    for (let i = 0; i < 300; i++) doc.manifests.push({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sha(Buffer.from(String(i))), size: 1, platform: { architecture: "amd64", os: "linux" } });
    writeFileSync(path.join(crowded, "index.json"), json(doc));
    await expect(loadLayoutToCache(crowded, { cacheDir: cache })).rejects.toMatchObject({ code: "WFN_OCI_IMAGE_INVALID", message: expect.stringMatching(/301 entries in the index, more than 256/) });
    expect(cached(cache)).toEqual([]);
  });

  it("what a pull killed midway left in the cache is removed by the next pull; a running pull's is kept", async () => {
    const cache = path.join(work, "cache-killed");
    const images = path.join(cache, "images");
    const dead = spawnSync("true").pid!; // exited: nothing of it is running any more
    const leftover = path.join(images, `.${"ab".repeat(32)}.new-${dead}-0123abcd`);
    const running = path.join(images, `.${"cd".repeat(32)}.new-${process.pid}-0123abcd`);
    mkdirSync(path.join(leftover, "layout", "blobs", "sha256"), { recursive: true });
    writeFileSync(path.join(leftover, "layout", "blobs", "sha256", "ab".repeat(32)), randomBytes(1 << 20)); // half a blob
    mkdirSync(running, { recursive: true });
    await loadLayoutToCache(await layout("after-kill"), { cacheDir: cache });
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(running)).toBe(true);
    expect(cached(cache).filter((n) => !n.startsWith("."))).toHaveLength(1);
  });

  it("a large layer streams to disk: pulling 96 MiB never holds it in memory", async () => {
    const dir = await layout("heavy");
    const extra = randomBytes(96 << 20); // incompressible, stored as it is
    rewriteManifest(dir, (m, addBlob) => { m.layers.push({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: addBlob(extra), size: extra.length }); });
    const { digest } = await pushLayout(dir, `${reg.host}/heavy:1`, { insecure: true, cacheDir: path.join(work, "push-cache") });
    const cache = path.join(work, "cache-heavy");
    // In a child process, so the RSS is the pull's alone (ru_maxrss would carry over vitest's own
    // through exec, so the child samples its RSS while it pulls).
    const script = `
      import { pullToCache } from "@wasm-fn/oci";
      const base = process.memoryUsage().rss;
      let peak = base;
      const t = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 2);
      await pullToCache(${JSON.stringify(`${reg.host}/heavy@${digest}`)}, { insecure: true, cacheDir: ${JSON.stringify(cache)} });
      peak = Math.max(peak, process.memoryUsage().rss);
      clearInterval(t);
      console.log(JSON.stringify({ base, peak }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, maxBuffer: 1 << 20 });
    const { base, peak } = JSON.parse(stdout.trim().split("\n").pop()!) as { base: number; peak: number };
    console.log(`heavy pull: RSS ${base} before, ${peak} at peak`);
    expect(cached(cache)).toHaveLength(1);
    expect(readFileSync(path.join(cache, "images", digest.slice(7), "layout", "blobs", "sha256", sha(extra).slice(7))).equals(extra)).toBe(true);
    expect(peak - base, `RSS ${base} before the pull, ${peak} at its peak`).toBeLessThan(extra.length); // chunks count until a GC; buffered, it would be the layer twice over
  }, 90_000);
});
