/**
 * Our layouts and pushed images, read by tools nobody here wrote: skopeo (containers/image) and
 * umoci. And the other way round: a layout skopeo wrote is read by our inspect and cache.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inspectImage, loadLayoutToCache, pullToCache, pushLayout, writeImageLayout } from "@wasm-fn/oci";
import { requireBinary } from "./harness/proc.js";
import { startRegistry, type RegistryHandle } from "./harness/registry.js";

const WASM = Buffer.concat([Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]), Buffer.from("tools")]);
const sha = (b: Buffer): string => "sha256:" + createHash("sha256").update(b).digest("hex");

async function tool(cmd: string, ...args: string[]): Promise<string> {
  requireBinary(cmd);
  const { stdout } = await promisify(execFile)(cmd, args, { maxBuffer: 16 << 20 });
  return stdout;
}
const skopeo = (...args: string[]): Promise<string> => tool("skopeo", "--insecure-policy", ...args);

let work: string;
let reg: RegistryHandle;
let image: { layout: string; digest: string };
let artifact: { layout: string; digest: string };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wfn-tools-"));
  reg = await startRegistry();
  const make = async (format: "image" | "artifact") => {
    const layout = join(work, format, "oci");
    const out = await writeImageLayout({ name: "hello", version: "0.1.0", wasm: WASM, format, metadata: { name: "hello" } }, layout);
    return { layout, digest: out.manifestDigest };
  };
  image = await make("image");
  artifact = await make("artifact");
});
afterAll(async () => {
  await reg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("skopeo", () => {
  it("inspects our layout: platform, labels, digest, raw manifest", async () => {
    const info = JSON.parse(await skopeo("inspect", `oci:${image.layout}:0.1.0`));
    expect(info).toMatchObject({ Digest: image.digest, Architecture: "wasm", Os: "wasip1", Labels: { "dev.wasm-fn.function": '{"name":"hello"}' } });
    expect(info.Layers).toHaveLength(1);
    const raw = Buffer.from(await skopeo("inspect", "--raw", `oci:${image.layout}:0.1.0`));
    expect(sha(raw)).toBe(image.digest);
    const art = Buffer.from(await skopeo("inspect", "--raw", `oci:${artifact.layout}:0.1.0`));
    expect(sha(art)).toBe(artifact.digest);
    expect(JSON.parse(art.toString()).config.mediaType).toBe("application/vnd.wasm.config.v0+json");
  });

  it("copies our layout to the registry unchanged, and we pull what skopeo pushed", async () => {
    await skopeo("copy", "--dest-tls-verify=false", `oci:${image.layout}:0.1.0`, `docker://${reg.host}/via-skopeo:1`);
    const pulled = await pullToCache(`${reg.host}/via-skopeo:1`, { insecure: true, cacheDir: join(work, "cache-a") });
    expect(pulled.manifestDigest).toBe(image.digest);
    expect(readFileSync(pulled.wasmPath).equals(WASM)).toBe(true);
    await skopeo("copy", "--dest-tls-verify=false", `oci:${artifact.layout}:0.1.0`, `docker://${reg.host}/art-via-skopeo:1`);
    const art = await pullToCache(`${reg.host}/art-via-skopeo:1`, { insecure: true, cacheDir: join(work, "cache-a") });
    expect(art.manifestDigest).toBe(artifact.digest);
  });

  it("inspects and copies the image we pushed; we read the layout skopeo wrote", async () => {
    const pushed = await pushLayout(image.layout, `${reg.host}/ours:0.1.0`, { insecure: true, cacheDir: join(work, "cache-b") });
    const info = JSON.parse(await skopeo("inspect", "--tls-verify=false", `docker://${reg.host}/ours:0.1.0`));
    expect(info).toMatchObject({ Digest: pushed.digest, Architecture: "wasm", Os: "wasip1" });
    const copy = join(work, "skopeo-layout");
    await skopeo("copy", "--src-tls-verify=false", `docker://${reg.host}/ours:0.1.0`, `oci:${copy}:copied`);
    const inspected = await inspectImage(copy);
    expect(inspected.digest).toBe(image.digest);
    expect(inspected.annotations["module.wasm.image/variant"]).toBe("compat-smart");
    const cached = await loadLayoutToCache(copy, { cacheDir: join(work, "cache-c") });
    expect(readFileSync(cached.wasmPath).equals(WASM)).toBe(true);
    const pushedArt = await pushLayout(artifact.layout, `${reg.host}/ours-art:0.1.0`, { insecure: true, cacheDir: join(work, "cache-b") });
    const rawArt = Buffer.from(await skopeo("inspect", "--raw", "--tls-verify=false", `docker://${reg.host}/ours-art:0.1.0`));
    expect(sha(rawArt)).toBe(pushedArt.digest);
  });
});

describe("umoci", () => {
  it("lists the tag and reads the layer history of our layout", async () => {
    expect((await tool("umoci", "ls", "--layout", image.layout)).trim()).toBe("0.1.0");
    const stat = JSON.parse(await tool("umoci", "stat", "--image", `${image.layout}:0.1.0`, "--json"));
    expect(stat.history).toHaveLength(1);
    expect(stat.history[0]).toMatchObject({ created_by: "wasm-fn build", layer: { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" } });
    const layerDigest = (await inspectImage(image.layout)).layers[0]!.digest;
    expect(stat.history[0].layer.digest).toBe(layerDigest);
  });
});
