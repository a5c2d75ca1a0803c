import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { cachedImageDir } from "./cache.js";
import { digestHex, sha256Digest } from "./digest.js";
import { OciErrorCode, ociError } from "./errors.js";
import { replaceDirAtomic } from "./fs-atomic.js";
import { NAME_RE } from "./image.js";
import { canonicalJson, parseJsonObject } from "./json.js";
import { Annotation, MediaType, WASM_PLATFORM } from "./media-types.js";
import { readTar } from "./tar.js";
import type { Descriptor, ImageManifest } from "./types.js";

/** A manifest plus a way to read its blobs, verified; from a registry or a layout on disk. */
export interface ImageSource {
  manifest: Descriptor;
  manifestBytes: Buffer;
  parsed: ImageManifest;
  readBlob(desc: { digest: string; size: number }): Promise<Buffer>;
}

/** What a pulled image gives `wasm-fn run`. */
export interface CachedImage {
  manifestDigest: string;
  wasmPath: string;
  metadata: Record<string, unknown> | null;
  layoutDir: string;
}

interface PullRecord { name: string; wasmDigest: string; metadata: Record<string, unknown> | null }

const invalid = (msg: string): Error => ociError(OciErrorCode.IMAGE_INVALID, msg);

function parseMetadata(text: string | undefined): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The module inside a tar(.gz) layer: the entrypoint's file, or else the only .wasm file. */
async function wasmFromLayer(layer: Buffer, desc: Descriptor, config: Record<string, unknown>, index: number): Promise<{ name: string; wasm: Buffer }> {
  const tar = desc.mediaType === MediaType.ociLayerTar ? layer : gunzipSafe(layer, desc.digest);
  const diffIds = (config.rootfs as { diff_ids?: string[] } | undefined)?.diff_ids;
  if (diffIds?.[index] && diffIds[index] !== sha256Digest(tar)) {
    throw ociError(OciErrorCode.DIGEST_MISMATCH, `layer ${desc.digest} unpacks to ${sha256Digest(tar)}, but the config says ${diffIds[index]}; the image is corrupt, nothing was stored`);
  }
  // A wasm-fn image's entrypoint is the WasmEdge command; the shim serves the guest the label names.
  const guest = (config.config as { Labels?: Record<string, string> } | undefined)?.Labels?.[Annotation.wasmFnGuest];
  const entry = (guest ?? (config.config as { Entrypoint?: string[] } | undefined)?.Entrypoint?.[0] ?? "").replace(/^\/+/, "");
  const files: { name: string; data: Buffer }[] = [];
  for await (const e of readTar(tar)) if (e.type === "file") files.push({ name: e.name.replace(/^(\.\/)+/, ""), data: e.data });
  const wasmFiles = files.filter((f) => f.name.endsWith(".wasm"));
  const hit = files.find((f) => f.name === entry) ?? (wasmFiles.length === 1 ? wasmFiles[0] : undefined);
  if (!hit) throw invalid(`layer ${desc.digest} holds no ${entry || ".wasm file"} (files: ${files.map((f) => f.name).join(", ").slice(0, 200) || "none"}); is this a wasm-fn image?`);
  return { name: hit.name.split("/").pop()!.replace(/(\.guest)?\.wasm$/, ""), wasm: hit.data };
}

/**
 * The most a layer may inflate to. A function image's layer is a few hundred KiB; a small gzip
 * that inflates to gigabytes (a gzip bomb) is refused before it fills memory or the cache.
 */
export const MAX_LAYER_INFLATED = 64 * 1024 * 1024;

function gunzipSafe(layer: Buffer, digest: string): Buffer {
  try {
    return gunzipSync(layer, { maxOutputLength: MAX_LAYER_INFLATED });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw invalid(`layer ${digest} inflates past ${MAX_LAYER_INFLATED / 1024 / 1024} MiB (${layer.length} bytes compressed), more than any function image holds; refused, nothing was stored`);
    }
    throw invalid(`layer ${digest} is not valid gzip (${(e as Error).message})`);
  }
}

/** Reads config and layers (verified by the source) and finds the module and metadata. */
async function extract(src: ImageSource): Promise<{ name: string; wasm: Buffer; metadata: Record<string, unknown> | null; blobs: Map<string, Buffer> }> {
  const { parsed } = src;
  const blobs = new Map<string, Buffer>();
  const configBytes = await src.readBlob(parsed.config);
  blobs.set(parsed.config.digest, configBytes);
  const config = parseJsonObject(configBytes, `config ${parsed.config.digest}`, invalid);
  const ann = parsed.annotations ?? {};
  let found: { name: string; wasm: Buffer } | undefined;
  for (const [i, desc] of parsed.layers.entries()) {
    const layer = await src.readBlob(desc);
    blobs.set(desc.digest, layer);
    if (found) continue;
    if (desc.mediaType === MediaType.wasmLayer) found = { name: ann[Annotation.title] ?? "module", wasm: layer };
    else if ([MediaType.ociLayerGzip, MediaType.dockerLayerGzip, MediaType.ociLayerTar].includes(desc.mediaType as never)) found = await wasmFromLayer(layer, desc, config, i);
  }
  if (!found) throw invalid(`manifest ${src.manifest.digest} has no Wasm layer (application/wasm or a tar layer with a .wasm file)`);
  if (found.wasm.length < 8 || found.wasm.readUInt32BE(0) !== 0x0061736d) throw invalid(`the module in ${src.manifest.digest} does not start with the Wasm magic bytes`);
  const labels = (config.config as { Labels?: Record<string, string> } | undefined)?.Labels ?? {};
  const metadata = parseMetadata(ann[Annotation.wasmFnFunction]) ?? parseMetadata(labels[Annotation.wasmFnFunction]);
  return { name: NAME_RE.test(found.name) ? found.name : "module", wasm: found.wasm, metadata, blobs };
}

/**
 * Verifies and writes an image into the cache as `images/<hex>/{layout/, <name>.wasm, pull.json}`,
 * atomically: a failed or refused pull leaves nothing behind.
 */
export async function materialize(src: ImageSource, cacheDir: string, tag?: string): Promise<CachedImage> {
  const { name, wasm, metadata, blobs } = await extract(src);
  blobs.set(src.manifest.digest, src.manifestBytes);
  const dir = cachedImageDir(cacheDir, src.manifest.digest);
  const desc: Descriptor = { mediaType: src.manifest.mediaType, digest: src.manifest.digest, size: src.manifestBytes.length, platform: { ...WASM_PLATFORM } };
  if (tag) desc.annotations = { [Annotation.refName]: tag };
  const record: PullRecord = { name, wasmDigest: sha256Digest(wasm), metadata };
  // Content-addressed: an intact copy (another pull got there first) is as good as ours, and
  // replacing it would pull files from under whoever is serving them.
  const present = await cacheHit(cacheDir, src.manifest.digest);
  if (present) return present;
  try {
    await replaceDirAtomic(dir, async (tmp) => {
      await mkdir(join(tmp, "layout", "blobs", "sha256"), { recursive: true });
      await writeFile(join(tmp, "layout", "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
      await writeFile(join(tmp, "layout", "index.json"), canonicalJson({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [desc] }));
      for (const [d, bytes] of blobs) await writeFile(join(tmp, "layout", "blobs", "sha256", digestHex(d)), bytes);
      await writeFile(join(tmp, `${name}.wasm`), wasm);
      await writeFile(join(tmp, "pull.json"), JSON.stringify(record));
    });
  } catch (e) {
    // A concurrent pull of the same image swapped its copy in between our check and our rename.
    const raced = await cacheHit(cacheDir, src.manifest.digest);
    if (raced) return raced;
    throw e;
  }
  return { manifestDigest: src.manifest.digest, wasmPath: join(dir, `${name}.wasm`), metadata, layoutDir: join(dir, "layout") };
}

/** A cached image, if present and its module still hashes to what was verified at pull time. */
export async function cacheHit(cacheDir: string, manifestDigest: string): Promise<CachedImage | undefined> {
  const dir = cachedImageDir(cacheDir, manifestDigest);
  try {
    const record = JSON.parse(await readFile(join(dir, "pull.json"), "utf8")) as PullRecord;
    if (!NAME_RE.test(record.name)) return undefined;
    const wasmPath = join(dir, `${record.name}.wasm`);
    if (sha256Digest(await readFile(wasmPath)) !== record.wasmDigest) return undefined; // changed on disk since: pull again
    return { manifestDigest, wasmPath, metadata: record.metadata ?? null, layoutDir: join(dir, "layout") };
  } catch {
    return undefined;
  }
}
