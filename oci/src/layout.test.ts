import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { FunctionImageInput } from "./image.js";
import { readLayout, writeImageLayout } from "./layout.js";
import { readTar } from "./tar.js";

const WASM = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
const input = (over: Partial<FunctionImageInput> = {}): FunctionImageInput => ({
  name: "hello", version: "0.1.0", wasm: WASM, format: "image", metadata: { name: "hello", trigger: { http: { path: "/hello" } }, capabilities: ["state"] }, ...over,
});
const sha = (b: Uint8Array): string => "sha256:" + createHash("sha256").update(b).digest("hex");
const ROOT = mkdtempSync(join(tmpdir(), "wfn-layout-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
const tmp = (): string => mkdtempSync(join(ROOT, "t-"));
const json = (p: string): Record<string, any> => JSON.parse(readFileSync(p, "utf8"));

afterEach(() => { delete process.env.SOURCE_DATE_EPOCH; });

describe("writeImageLayout, image format", () => {
  it("writes a runnable WasmEdge image: platform, entrypoint, one gzip layer with /<name>.wasm", async () => {
    const dir = join(tmp(), "oci");
    const out = await writeImageLayout(input(), dir);
    expect(json(join(dir, "oci-layout"))).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = json(join(dir, "index.json"));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({ digest: out.manifestDigest, platform: { architecture: "wasm", os: "wasip1" }, annotations: { "org.opencontainers.image.ref.name": "0.1.0" } });
    expect(index.annotations["module.wasm.image/variant"]).toBe("compat-smart");
    const img = await readLayout(dir);
    const m = img.parsed;
    expect(m.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(m.config).toMatchObject({ mediaType: "application/vnd.oci.image.config.v1+json", digest: out.configDigest });
    expect(m.layers).toEqual([{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: out.layerDigest, size: expect.any(Number), annotations: { "dev.wasm-fn.inflated-size": expect.stringMatching(/^\d+$/) } }]);
    expect(m.annotations).toMatchObject({
      "module.wasm.image/variant": "compat-smart",
      "org.opencontainers.image.title": "hello",
      "org.opencontainers.image.version": "0.1.0",
      "org.opencontainers.image.created": "1970-01-01T00:00:00Z",
    });
    expect(JSON.parse(m.annotations!["dev.wasm-fn.function"]!)).toEqual(input().metadata);
    const config = JSON.parse((await img.readBlob(m.config)).toString());
    expect(config).toMatchObject({ architecture: "wasm", os: "wasip1", config: { Entrypoint: ["/hello.wasm"] } });
    expect(JSON.parse(config.config.Labels["dev.wasm-fn.function"])).toEqual(input().metadata);
    const layer = await img.readBlob(m.layers[0]!);
    const tar = gunzipSync(layer);
    expect(config.rootfs).toEqual({ type: "layers", diff_ids: [sha(tar)] });
    expect(m.layers[0]!.annotations!["dev.wasm-fn.inflated-size"]).toBe(String(tar.length));
    const entries = [];
    for await (const e of readTar(tar)) entries.push(e);
    expect(entries.map((e) => [e.name, e.mode, e.data.equals(Buffer.from(WASM))])).toEqual([["hello.wasm", 0o755, true]]);
    expect(layer[9]).toBe(0xff); // gzip OS byte fixed
    expect(layer.readUInt32LE(4)).toBe(0); // gzip mtime 0
    expect(out.totalSize).toBe(readdirSync(join(dir, "blobs", "sha256")).reduce((n, f) => n + readFileSync(join(dir, "blobs", "sha256", f)).length, 0));
  });

  it("gives byte-identical digests for the same inputs, whatever the metadata key order or folder", async () => {
    const a = await writeImageLayout(input(), join(tmp(), "oci"), { tarPath: join(tmp(), "a.tar") });
    const reordered = { capabilities: ["state"], trigger: { http: { path: "/hello" } }, name: "hello" };
    const b = await writeImageLayout(input({ metadata: reordered }), join(tmp(), "x", "oci"), { tarPath: join(tmp(), "b.tar") });
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(readFileSync(a.tarPath!).equals(readFileSync(b.tarPath!))).toBe(true);
    const c = await writeImageLayout(input({ version: "0.1.1" }), join(tmp(), "oci"));
    expect(c.manifestDigest).not.toBe(a.manifestDigest);
    expect(c.layerDigest).toBe(a.layerDigest); // unchanged module, same layer: registries dedupe it
  });

  it("honours SOURCE_DATE_EPOCH for created and tar mtimes", async () => {
    process.env.SOURCE_DATE_EPOCH = "1700000000";
    const dir = join(tmp(), "oci");
    await writeImageLayout(input(), dir);
    const img = await readLayout(dir);
    expect(img.parsed.annotations!["org.opencontainers.image.created"]).toBe("2023-11-14T22:13:20Z");
    const tar = gunzipSync(await img.readBlob(img.parsed.layers[0]!));
    expect(parseInt(tar.subarray(136, 147).toString(), 8)).toBe(1_700_000_000);
    process.env.SOURCE_DATE_EPOCH = "yesterday";
    await expect(writeImageLayout(input(), join(tmp(), "oci"))).rejects.toThrow(/SOURCE_DATE_EPOCH/);
  });

  it("takes created, source and revision from git, without credentials in the URL", async () => {
    const repo = tmp();
    const git = (...args: string[]): string => execFileSync("git", args, { cwd: repo, env: { ...process.env, GIT_AUTHOR_DATE: "2024-05-01T10:00:00Z", GIT_COMMITTER_DATE: "2024-05-01T10:00:00Z" } }).toString().trim();
    git("init", "-q");
    git("config", "user.email", "t@example.com");
    git("config", "user.name", "t");
    git("remote", "add", "origin", "https://bob:ghp_secret@github.com/me/fns.git");
    mkdirSync(join(repo, "hello"));
    writeFileSync(join(repo, "hello", "f.ts"), "x");
    git("add", ".");
    git("commit", "-q", "-m", "c");
    const dir = join(tmp(), "oci");
    await writeImageLayout(input({ sourceDir: join(repo, "hello") }), dir);
    const ann = (await readLayout(dir)).parsed.annotations!;
    expect(ann["org.opencontainers.image.created"]).toBe("2024-05-01T10:00:00Z");
    expect(ann["org.opencontainers.image.revision"]).toBe(git("rev-parse", "HEAD"));
    expect(ann["org.opencontainers.image.source"]).toBe("https://github.com/me/fns.git");
    expect(JSON.stringify(ann)).not.toContain("ghp_secret");
    // Outside git: no source or revision, created at the epoch.
    const plain = join(tmp(), "oci");
    await writeImageLayout(input({ sourceDir: tmp() }), plain);
    const ann2 = (await readLayout(plain)).parsed.annotations!;
    expect(ann2["org.opencontainers.image.source"]).toBeUndefined();
    expect(ann2["org.opencontainers.image.created"]).toBe("1970-01-01T00:00:00Z");
  });
});

describe("writeImageLayout, artifact format", () => {
  it("writes the CNCF Wasm OCI artifact: wasm config with layerDigests, one application/wasm layer", async () => {
    const dir = join(tmp(), "oci");
    const out = await writeImageLayout(input({ format: "artifact" }), dir);
    const img = await readLayout(dir);
    expect(img.parsed.config.mediaType).toBe("application/vnd.wasm.config.v0+json");
    expect(img.parsed.layers).toEqual([{ mediaType: "application/wasm", digest: sha(WASM), size: 8 }]);
    expect(out.layerDigest).toBe(sha(WASM));
    const config = JSON.parse((await img.readBlob(img.parsed.config)).toString());
    expect(config).toEqual({ architecture: "wasm", os: "wasip1", layerDigests: [sha(WASM)], created: "1970-01-01T00:00:00Z" });
    expect(img.parsed.annotations!["module.wasm.image/variant"]).toBeUndefined();
    expect(img.parsed.annotations!["org.opencontainers.image.title"]).toBe("hello");
  });
});

describe("writeImageLayout is atomic", () => {
  it("leaves no folder and no temp files when the input is refused", async () => {
    const parent = tmp();
    await expect(writeImageLayout(input({ wasm: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }), join(parent, "oci"))).rejects.toMatchObject({ code: "WFN_OCI_IMAGE_INVALID" });
    await expect(writeImageLayout(input({ name: "../evil" }), join(parent, "oci"))).rejects.toMatchObject({ code: "WFN_OCI_IMAGE_INVALID" });
    expect(readdirSync(parent)).toEqual([]);
  });

  it("replaces an existing layout entirely, keeping the old one if writing fails", async () => {
    const parent = tmp();
    const dir = join(parent, "oci");
    mkdirSync(dir);
    writeFileSync(join(dir, "stale"), "old");
    await writeImageLayout(input(), dir);
    expect(existsSync(join(dir, "stale"))).toBe(false);
    const tarBlocker = join(parent, "blocked");
    writeFileSync(tarBlocker, "a file, so the tar's folder cannot be created");
    const before = readFileSync(join(dir, "index.json"));
    await expect(writeImageLayout(input({ version: "9" }), dir, { tarPath: join(tarBlocker, "x.tar") })).rejects.toThrow();
    expect(readdirSync(parent).sort()).toEqual(["blocked", "oci"]);
    expect(readFileSync(join(dir, "index.json")).equals(before)).toBe(true);
  });
});
