import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, open, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import tarStream from "tar-stream";
import { cappedHasher } from "./blob-stream.js";
import { cachedImageDir } from "./cache.js";
import { digestHex } from "./digest.js";
import { OciErrorCode, ociError } from "./errors.js";
import { removeStaleTemps, replaceDirAtomic } from "./fs-atomic.js";
import { NAME_RE } from "./image.js";
import { canonicalJson, parseJsonObject } from "./json.js";
import { checkManifestLimits, OciLimits } from "./limits.js";
import { Annotation, MediaType, WASM_PLATFORM } from "./media-types.js";
import type { Descriptor, ImageManifest } from "./types.js";

/** A manifest plus a way to read its blobs, verified; from a registry or a layout on disk. */
export interface ImageSource {
  manifest: Descriptor;
  manifestBytes: Buffer;
  parsed: ImageManifest;
  /** A small blob (the config) in memory, verified; at most `max` bytes. */
  readBlob(desc: { digest: string; size: number }, max?: number): Promise<Buffer>;
  /** Streams a blob into a new file at `dest`, verified while it streams; no file is left on failure. */
  copyBlob(desc: { digest: string; size: number }, dest: string): Promise<void>;
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

/**
 * The most the layers of one image may inflate to, together. A function image's layer is a few
 * hundred KiB; a small gzip that inflates to gigabytes (a gzip bomb) is refused at this point.
 */
export const MAX_LAYER_INFLATED = OciLimits.inflatedBytes;
/** Entries read from one layer, and .wasm files kept from it, at most. */
const MAX_LAYER_ENTRIES = 10_000;
const MAX_WASM_FILES = 32;

interface FoundModule { name: string; file: string; digest: string }

/** A .wasm file from a layer, streamed to a temp file next to the final one. */
async function saveEntry(entry: AsyncIterable<Buffer>, file: string): Promise<string> {
  const hash = createHash("sha256");
  const fh = await open(file, "wx", 0o644);
  try {
    for await (const chunk of entry) {
      hash.update(chunk);
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  return "sha256:" + hash.digest("hex");
}

/** Why a layer could not be read, as one sentence; our own errors pass through. */
function layerError(e: unknown, digest: string, gz: boolean): Error {
  const err = e as NodeJS.ErrnoException;
  if (err.code?.startsWith("WFN_")) return err;
  if (gz && err.code?.startsWith("Z_")) return invalid(`layer ${digest} is not valid gzip (${err.message})`);
  return invalid(`layer ${digest} is not a readable tar (${err.message})`);
}

/**
 * Finds the module inside a tar(.gz) layer already on disk (verified): the entrypoint's file, or
 * else the only .wasm file. The layer is inflated as a stream, capped at `cap` bytes (the layer's
 * declared inflated size or what is left of the image's budget), and .wasm entries go straight to
 * temp files in `tmp`; nothing of the layer is held in memory.
 */
async function wasmFromLayer(layerFile: string, desc: Descriptor, config: Record<string, unknown>, index: number, tmp: string, budget: number): Promise<{ found: FoundModule; inflated: number }> {
  const declared = Number(desc.annotations?.[Annotation.wasmFnInflatedSize] ?? NaN);
  const bySize = Number.isSafeInteger(declared) && declared >= 0 && declared < budget;
  const cap = bySize ? declared : budget;
  const tooBig = (): Error => invalid(bySize
    ? `layer ${desc.digest} inflates past the ${declared} bytes its descriptor declares (${Annotation.wasmFnInflatedSize}); refused, nothing was stored`
    : `layer ${desc.digest} inflates past ${MAX_LAYER_INFLATED / 1024 / 1024} MiB (${desc.size} bytes compressed), more than any function image holds; refused, nothing was stored`);
  const gz = desc.mediaType !== MediaType.ociLayerTar;
  const input = createReadStream(layerFile);
  const counter = cappedHasher(cap, tooBig);
  const extract = tarStream.extract();
  const feeding = pipeline(gz ? [input, createGunzip(), counter] : [input, counter]);
  feeding.catch((e: unknown) => extract.destroy(e as Error));
  counter.pipe(extract);
  const kept = new Map<string, { file: string; digest: string }>();
  const names: string[] = [];
  // A wasm-fn image's entrypoint is the WasmEdge command; the shim serves the guest the label names.
  const guest = (config.config as { Labels?: Record<string, string> } | undefined)?.Labels?.[Annotation.wasmFnGuest];
  const entry = (guest ?? (config.config as { Entrypoint?: string[] } | undefined)?.Entrypoint?.[0] ?? "").replace(/^\/+/, "");
  try {
    for await (const e of extract) {
      const name = e.header.name.replace(/^(\.\/)+/, "");
      if (names.push(name) > MAX_LAYER_ENTRIES) throw invalid(`layer ${desc.digest} has more than ${MAX_LAYER_ENTRIES} entries; not a function image`);
      const wanted = (e.header.type ?? "file") === "file" && (name === entry || name.endsWith(".wasm"));
      if (!wanted) { e.resume(); continue; }
      if (!kept.has(name) && kept.size >= MAX_WASM_FILES) throw invalid(`layer ${desc.digest} has more than ${MAX_WASM_FILES} .wasm files; not a function image`);
      const file = join(tmp, `.layer${index}-${names.length}.part`);
      const digest = await saveEntry(e as AsyncIterable<Buffer>, file);
      const old = kept.get(name);
      if (old) await rm(old.file, { force: true }); // tar semantics: the later entry wins
      kept.set(name, { file, digest });
    }
    await feeding;
  } catch (e) {
    input.destroy();
    throw layerError(await feeding.then(() => e, (f: unknown) => ((f as { code?: string }).code?.startsWith("WFN_") ? f : e)), desc.digest, gz);
  }
  const diffIds = (config.rootfs as { diff_ids?: string[] } | undefined)?.diff_ids;
  if (diffIds?.[index] && diffIds[index] !== counter.digest()) {
    throw ociError(OciErrorCode.DIGEST_MISMATCH, `layer ${desc.digest} unpacks to ${counter.digest()}, but the config says ${diffIds[index]}; the image is corrupt, nothing was stored`);
  }
  const wasmNames = [...kept.keys()].filter((n) => n.endsWith(".wasm"));
  const hitName = kept.has(entry) ? entry : wasmNames.length === 1 ? wasmNames[0] : undefined;
  const hit = hitName === undefined ? undefined : kept.get(hitName);
  if (!hit || hitName === undefined) throw invalid(`layer ${desc.digest} holds no ${entry || ".wasm file"} (files: ${names.join(", ").slice(0, 200) || "none"}); is this a wasm-fn image?`);
  for (const [n, k] of kept) if (n !== hitName) await rm(k.file, { force: true });
  return { found: { name: hitName.split("/").pop()!.replace(/(\.guest)?\.wasm$/, ""), file: hit.file, digest: hit.digest }, inflated: counter.bytes() };
}

/** The first bytes of a file (the Wasm magic check). */
async function head(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, "r");
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(n), 0, n, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Streams config and layers (verified while they stream) into `tmp`'s layout, and finds the
 * module and metadata. Every file lands in `tmp`, which the caller renames into place or removes.
 */
async function extractInto(src: ImageSource, tmp: string): Promise<{ name: string; wasmDigest: string; metadata: Record<string, unknown> | null }> {
  const { parsed } = src;
  const blobsDir = join(tmp, "layout", "blobs", "sha256");
  await mkdir(blobsDir, { recursive: true });
  const configBytes = await src.readBlob(parsed.config, OciLimits.configBytes);
  await writeFile(join(blobsDir, digestHex(parsed.config.digest)), configBytes);
  const config = parseJsonObject(configBytes, `config ${parsed.config.digest}`, invalid);
  const ann = parsed.annotations ?? {};
  let found: FoundModule | undefined;
  let budget = OciLimits.inflatedBytes;
  for (const [i, desc] of parsed.layers.entries()) {
    const file = join(blobsDir, digestHex(desc.digest));
    const have = await stat(file).then(() => true, () => false); // the same blob twice in one manifest
    if (!have) await src.copyBlob(desc, file);
    if (found) continue;
    if (desc.mediaType === MediaType.wasmLayer) {
      if (desc.size > budget) throw invalid(`the module layer ${desc.digest} is ${desc.size} bytes, over the ${MAX_LAYER_INFLATED / 1024 / 1024} MiB a function image may hold; refused, nothing was stored`);
      const copy = join(tmp, `.layer${i}.part`);
      await copyFile(file, copy);
      found = { name: ann[Annotation.title] ?? "module", file: copy, digest: desc.digest };
    } else if ([MediaType.ociLayerGzip, MediaType.dockerLayerGzip, MediaType.ociLayerTar].includes(desc.mediaType as never)) {
      const r = await wasmFromLayer(file, desc, config, i, tmp, budget);
      budget -= r.inflated;
      found = r.found;
    }
  }
  if (!found) throw invalid(`manifest ${src.manifest.digest} has no Wasm layer (application/wasm or a tar layer with a .wasm file)`);
  const magic = await head(found.file, 8);
  if (magic.length < 8 || magic.readUInt32BE(0) !== 0x0061736d) throw invalid(`the module in ${src.manifest.digest} does not start with the Wasm magic bytes`);
  const name = NAME_RE.test(found.name) ? found.name : "module";
  await rename(found.file, join(tmp, `${name}.wasm`));
  const labels = (config.config as { Labels?: Record<string, string> } | undefined)?.Labels ?? {};
  const metadata = parseMetadata(ann[Annotation.wasmFnFunction]) ?? parseMetadata(labels[Annotation.wasmFnFunction]);
  return { name, wasmDigest: found.digest, metadata };
}

/**
 * Verifies and writes an image into the cache as `images/<hex>/{layout/, <name>.wasm, pull.json}`,
 * atomically: a failed or refused pull leaves nothing behind.
 */
export async function materialize(src: ImageSource, cacheDir: string, tag?: string): Promise<CachedImage> {
  checkManifestLimits(src.parsed, `manifest ${src.manifest.digest}`);
  const dir = cachedImageDir(cacheDir, src.manifest.digest);
  const desc: Descriptor = { mediaType: src.manifest.mediaType, digest: src.manifest.digest, size: src.manifestBytes.length, platform: { ...WASM_PLATFORM } };
  if (tag) desc.annotations = { [Annotation.refName]: tag };
  // Content-addressed: an intact copy (another pull got there first) is as good as ours, and
  // replacing it would pull files from under whoever is serving them.
  const present = await cacheHit(cacheDir, src.manifest.digest);
  if (present) return present;
  const done: { name?: string; metadata?: Record<string, unknown> | null } = {};
  const images = dirname(dir);
  const hadImages = await stat(images).then(() => true, () => false);
  if (hadImages) await removeStaleTemps(images); // what a pull killed midway left behind
  try {
    // Everything is written into a temp folder next to the image's, renamed into place at the
    // end; any failure (a mismatch, a bomb, a full disk) removes it, so no partial file remains.
    await replaceDirAtomic(dir, async (tmp) => {
      const { name, wasmDigest, metadata } = await extractInto(src, tmp);
      await writeFile(join(tmp, "layout", "blobs", "sha256", digestHex(src.manifest.digest)), src.manifestBytes);
      await writeFile(join(tmp, "layout", "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
      await writeFile(join(tmp, "layout", "index.json"), canonicalJson({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [desc] }));
      const record: PullRecord = { name, wasmDigest, metadata };
      await writeFile(join(tmp, "pull.json"), JSON.stringify(record));
      Object.assign(done, { name, metadata });
    });
  } catch (e) {
    // A concurrent pull of the same image swapped its copy in between our check and our rename.
    const raced = await cacheHit(cacheDir, src.manifest.digest);
    if (raced) return raced;
    if (!hadImages) await rmdir(images).catch(() => undefined); // only when empty: a first pull that failed leaves no trace
    throw e;
  }
  return { manifestDigest: src.manifest.digest, wasmPath: join(dir, `${done.name}.wasm`), metadata: done.metadata ?? null, layoutDir: join(dir, "layout") };
}

/** sha256 of a file, streamed. */
async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return "sha256:" + hash.digest("hex");
}

/** A cached image, if present and its module still hashes to what was verified at pull time. */
export async function cacheHit(cacheDir: string, manifestDigest: string): Promise<CachedImage | undefined> {
  const dir = cachedImageDir(cacheDir, manifestDigest);
  try {
    const record = JSON.parse(await readFile(join(dir, "pull.json"), "utf8")) as PullRecord;
    if (!NAME_RE.test(record.name)) return undefined;
    const wasmPath = join(dir, `${record.name}.wasm`);
    if ((await fileDigest(wasmPath)) !== record.wasmDigest) return undefined; // changed on disk since: pull again
    return { manifestDigest, wasmPath, metadata: record.metadata ?? null, layoutDir: join(dir, "layout") };
  } catch {
    return undefined;
  }
}
