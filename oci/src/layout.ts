import { createReadStream } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { digestVerifier, streamToFile } from "./blob-stream.js";
import { digestHex, verifyBytes } from "./digest.js";
import { OciErrorCode, ociError } from "./errors.js";
import { replaceDirAtomic, writeFileAtomic } from "./fs-atomic.js";
import { buildImage, type BuiltImage, type FunctionImageInput } from "./image.js";
import { parseJsonObject } from "./json.js";
import { checkIndexLimits, checkManifestLimits, OciLimits } from "./limits.js";
import { Annotation, MediaType, isIndexMediaType } from "./media-types.js";
import { provenance } from "./provenance.js";
import { writeTar, type TarInput } from "./tar.js";
import type { Descriptor, ImageIndex, ImageManifest } from "./types.js";

const OCI_LAYOUT = Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" }));

/** The files of an OCI image layout for a built image, as tar entries (also used to write the folder). */
export function layoutEntries(img: BuiltImage): TarInput[] {
  const entries: TarInput[] = [
    { name: "oci-layout", type: "file", data: OCI_LAYOUT },
    { name: "index.json", type: "file", data: img.index },
    { name: "blobs", type: "directory" },
    { name: "blobs/sha256", type: "directory" },
  ];
  for (const [digest, bytes] of img.blobs) entries.push({ name: `blobs/sha256/${digestHex(digest)}`, type: "file", data: bytes });
  return entries;
}

/**
 * Writes a function's OCI image layout to `outDir` (replacing it atomically) and, with `tarPath`,
 * the same layout as a reproducible oci-archive tar. Same inputs give the same digests.
 * @example await writeImageLayout({ name: "hello", version: "0.1.0", wasm, format: "image", metadata: {} }, "examples/hello/dist/oci", { tarPath: "examples/hello/dist/hello.oci.tar" })
 */
export async function writeImageLayout(
  input: FunctionImageInput,
  outDir: string,
  opts: { tarPath?: string } = {},
): Promise<{ manifestDigest: string; configDigest: string; layerDigest: string; totalSize: number; tarPath?: string }> {
  const prov = await provenance(input.sourceDir);
  const img = buildImage(input, prov);
  const entries = layoutEntries(img);
  await replaceDirAtomic(outDir, async (tmp) => {
    for (const e of entries) {
      const path = join(tmp, e.name);
      if (e.type === "directory") await mkdir(path, { recursive: true });
      else await writeFile(path, e.data ?? new Uint8Array(), { mode: 0o644 });
    }
    // Inside the swap, so a tar that cannot be written leaves the old layout in place too.
    if (opts.tarPath) {
      await mkdir(dirname(opts.tarPath), { recursive: true });
      await writeFileAtomic(opts.tarPath, writeTar(entries, prov.mtime));
    }
  });
  let totalSize = 0;
  for (const b of img.blobs.values()) totalSize += b.length;
  const out = { manifestDigest: img.manifest.digest, configDigest: img.configDigest, layerDigest: img.layerDigest, totalSize };
  return opts.tarPath ? { ...out, tarPath: opts.tarPath } : out;
}

/** An image read from a layout folder; blobs are verified against their digests when read. */
export interface LocalImage {
  dir: string;
  manifest: Descriptor;
  manifestBytes: Buffer;
  parsed: ImageManifest;
  /** Reads a whole blob into memory: at most `max` bytes (default: the per-image bound). */
  readBlob(desc: { digest: string; size?: number }, max?: number): Promise<Buffer>;
  /** Streams a blob into a new file at `dest`, verified on the way (no file is left on a mismatch). */
  copyBlob(desc: { digest: string; size: number }, dest: string): Promise<void>;
}

function layoutError(dir: string, why: string): Error {
  return ociError(OciErrorCode.LAYOUT_INVALID, `${dir} is not a usable OCI image layout: ${why}. Rebuild it with 'wasm-fn build'`);
}

/**
 * Picks the manifest to use from an index: the one tagged `tag` if given, else the only one,
 * else the one for the Wasm platform.
 */
export function selectManifest(index: ImageIndex, tag: string | undefined, where: string): Descriptor {
  let list = index.manifests ?? [];
  if (tag) list = list.filter((d) => d.annotations?.[Annotation.refName] === tag);
  if (list.length > 1) list = list.filter((d) => d.platform?.architecture === "wasm");
  const chosen = list[0];
  if (list.length === 1 && chosen) return chosen;
  const names = (index.manifests ?? []).map((d) => d.annotations?.[Annotation.refName] ?? d.digest).join(", ");
  throw ociError(
    list.length === 0 ? OciErrorCode.PLATFORM_NOT_FOUND : OciErrorCode.LAYOUT_INVALID,
    `${where}: ${list.length === 0 ? `no Wasm image${tag ? ` tagged '${tag}'` : ""}` : "several Wasm images"} (has: ${names || "nothing"}); name one with <dir>:<tag>`,
  );
}

/** Reads a manifest blob and, if it is an index, follows it to the Wasm manifest. */
async function resolveManifest(image: Pick<LocalImage, "readBlob">, desc: Descriptor, where: string, depth = 0): Promise<{ desc: Descriptor; bytes: Buffer; parsed: ImageManifest }> {
  const bytes = await image.readBlob(desc, OciLimits.manifestBytes);
  const doc = parseJsonObject(bytes, `${where} manifest ${desc.digest}`, (m) => ociError(OciErrorCode.IMAGE_INVALID, m));
  if (isIndexMediaType((doc.mediaType as string | undefined) ?? desc.mediaType)) {
    if (depth >= 4) throw ociError(OciErrorCode.IMAGE_INVALID, `${where}: indexes nested more than 4 deep`);
    const index = doc as unknown as ImageIndex;
    if (Array.isArray(index.manifests)) checkIndexLimits(index.manifests, `${where} index ${desc.digest}`);
    return resolveManifest(image, selectManifest(index, undefined, where), where, depth + 1);
  }
  if (!doc.config || !Array.isArray(doc.layers)) throw ociError(OciErrorCode.IMAGE_INVALID, `${where}: manifest ${desc.digest} has no config or layers`);
  checkManifestLimits(doc as unknown as ImageManifest, `${where}: manifest ${desc.digest}`);
  return { desc: { ...desc, mediaType: (doc.mediaType as string | undefined) ?? desc.mediaType ?? MediaType.ociManifest }, bytes, parsed: doc as unknown as ImageManifest };
}

/**
 * Opens an OCI image layout folder (ours, skopeo's, umoci's).
 * @example const img = await readLayout("examples/hello/dist/oci"); img.parsed.layers
 */
export async function readLayout(dir: string, tag?: string): Promise<LocalImage> {
  const layoutFile = await readFile(join(dir, "oci-layout"), "utf8").catch(() => undefined);
  if (layoutFile === undefined) throw layoutError(dir, "it has no oci-layout file");
  const indexSize = await stat(join(dir, "index.json")).then((s) => s.size, () => undefined);
  if (indexSize === undefined) throw layoutError(dir, "it has no index.json");
  if (indexSize > OciLimits.manifestBytes) throw layoutError(dir, `index.json is ${indexSize} bytes, over the ${OciLimits.manifestBytes}-byte limit`);
  const index = parseJsonObject(await readFile(join(dir, "index.json")), `${dir}/index.json`, (m) => layoutError(dir, m)) as unknown as ImageIndex;
  if (!Array.isArray(index.manifests)) throw layoutError(dir, "index.json has no manifests list");
  checkIndexLimits(index.manifests, `${dir}/index.json`);
  const blobPath = (d: { digest: string }): string => join(dir, "blobs", "sha256", digestHex(d.digest));
  // The size on disk is checked before reading, so a huge file never reaches memory.
  const blobSize = async (d: { digest: string; size?: number }, max: number): Promise<number> => {
    const size = await stat(blobPath(d)).then((s) => s.size, () => undefined);
    if (size === undefined) throw layoutError(dir, `blob ${d.digest} is missing`);
    if (d.size !== undefined && size !== d.size) {
      throw ociError(OciErrorCode.DIGEST_MISMATCH, `${dir}: blob ${d.digest} is ${size} bytes on disk, but its descriptor says ${d.size}; the layout is corrupt or was tampered with, nothing was stored`, { status: 502 });
    }
    if (size > max) throw ociError(OciErrorCode.IMAGE_INVALID, `${dir}: blob ${d.digest} is ${size} bytes, over the ${max}-byte limit for what it holds; refused`);
    return size;
  };
  const readBlob = async (d: { digest: string; size?: number }, max: number = OciLimits.imageBytes): Promise<Buffer> => {
    await blobSize(d, max);
    const bytes = await readFile(blobPath(d)).catch(() => undefined);
    if (!bytes) throw layoutError(dir, `blob ${d.digest} is missing`);
    verifyBytes(bytes, d, `${dir}: blob ${d.digest}`);
    return bytes;
  };
  const copyBlob = async (d: { digest: string; size: number }, dest: string): Promise<void> => {
    await blobSize(d, OciLimits.imageBytes);
    await streamToFile(createReadStream(blobPath(d)), [digestVerifier(d, `${dir}: blob ${d.digest}`)], dest);
  };
  const { desc, bytes, parsed } = await resolveManifest({ readBlob }, selectManifest(index, tag, dir), dir);
  return { dir, manifest: desc, manifestBytes: bytes, parsed, readBlob, copyBlob };
}
