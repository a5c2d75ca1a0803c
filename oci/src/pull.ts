import { withExtractedArchive } from "./archive.js";
import { ociCacheDir, recordBlobSources } from "./cache.js";
import { checkDescriptor } from "./digest.js";
import { OciErrorCode, ociError } from "./errors.js";
import { parseJsonObject } from "./json.js";
import { checkIndexLimits, checkManifestLimits } from "./limits.js";
import { readLayout, selectManifest } from "./layout.js";
import { cacheHit, materialize, type CachedImage, type ImageSource } from "./materialize.js";
import { isIndexMediaType, MediaType } from "./media-types.js";
import { formatReference, parseReference, type ImageRef } from "./reference.js";
import { repoScope } from "./registry/auth.js";
import { downloadBlob, getBlob, type Progress } from "./registry/blobs.js";
import { RegistryClient, type RegistryClientOptions } from "./registry/client.js";
import type { ImageIndex, ImageManifest } from "./types.js";

export interface PullOptions {
  insecure?: boolean;
  cacheDir?: string;
  onProgress?: Progress;
  /** Test hooks and tuning for the registry client (retries). */
  client?: Omit<RegistryClientOptions, "insecure">;
}

const invalid = (m: string): Error => ociError(OciErrorCode.IMAGE_INVALID, m);

/**
 * Fetches the manifest for a reference, following an index to the Wasm platform's manifest, and
 * checks every descriptor in it before any blob is fetched. Shared by pull and inspect.
 */
export async function resolveRemote(c: RegistryClient, r: ImageRef, onProgress?: Progress): Promise<ImageSource> {
  const name = formatReference(r);
  const scopes = [repoScope(r.repository, "pull")];
  let m = await c.getManifest(r.repository, r.digest ?? r.tag ?? "latest", scopes);
  if (!m) throw ociError(OciErrorCode.REGISTRY_NOT_FOUND, `${name} does not exist; check the repository and tag (push it first with 'wasm-fn push')`, { status: 404 });
  let doc = parseJsonObject(m.bytes, `manifest of ${name}`, invalid);
  if (isIndexMediaType((doc.mediaType as string | undefined) ?? m.mediaType)) {
    const index = doc as unknown as ImageIndex;
    if (Array.isArray(index.manifests)) checkIndexLimits(index.manifests, `${name}: index ${m.digest}`);
    const chosen = selectManifest(index, undefined, name);
    checkDescriptor(chosen, `${name}: index ${m.digest}`);
    m = await c.getManifest(r.repository, chosen.digest, scopes);
    if (!m) throw ociError(OciErrorCode.REGISTRY_NOT_FOUND, `${name}: its index names ${chosen.digest}, which the registry does not have`, { status: 404 });
    doc = parseJsonObject(m.bytes, `manifest ${chosen.digest}`, invalid);
  }
  if (!doc.config || !Array.isArray(doc.layers)) throw invalid(`${name} is not an image manifest (no config or layers)`);
  const parsed = doc as unknown as ImageManifest;
  checkManifestLimits(parsed, `${name}: manifest ${m.digest}`); // first: it bounds the loop below
  for (const d of [parsed.config, ...parsed.layers]) checkDescriptor(d, `${name}: manifest ${m.digest}`);
  const mediaType = parsed.mediaType ?? (m.mediaType || MediaType.ociManifest);
  return {
    manifest: { mediaType, digest: m.digest, size: m.bytes.length },
    manifestBytes: m.bytes,
    parsed,
    readBlob: (d, max) => {
      if (max !== undefined && d.size > max) throw invalid(`${name}: blob ${d.digest} is ${d.size} bytes, over the ${max}-byte limit for what it holds`);
      return getBlob(c, r.repository, d, onProgress);
    },
    copyBlob: (d, dest) => downloadBlob(c, r.repository, d, dest, onProgress),
  };
}

/**
 * Pulls an image into the content-addressed cache, verifying every digest, and returns the module.
 * A digest reference already cached needs no network; a tag costs one HEAD when unchanged.
 * @example const { wasmPath, metadata } = await pullToCache("localhost:5000/hello:0.1.0", { insecure: true })
 */
export async function pullToCache(ref: string, opts: PullOptions = {}): Promise<CachedImage> {
  const r = parseReference(ref);
  const cacheDir = ociCacheDir(opts.cacheDir);
  if (r.digest) {
    const hit = await cacheHit(cacheDir, r.digest);
    if (hit) return hit;
  }
  const c = new RegistryClient(r.registry, { ...opts.client, insecure: !!opts.insecure });
  try {
    await c.ping();
    if (!r.digest) {
      const current = await c.headManifest(r.repository, r.tag ?? "latest", [repoScope(r.repository, "pull")]);
      const hit = current ? await cacheHit(cacheDir, current) : undefined;
      if (hit) return hit;
    }
    const src = await resolveRemote(c, r, opts.onProgress);
    const out = await materialize(src, cacheDir, r.tag);
    const digests = [src.parsed.config.digest, ...src.parsed.layers.map((l) => l.digest)];
    await recordBlobSources(cacheDir, r.registry, r.repository, digests).catch(() => undefined);
    return out;
  } finally {
    await c.close();
  }
}

/**
 * Imports an oci-archive tar (e.g. from `wasm-fn build --tar`) into the same cache, refusing
 * unsafe archives before anything is written.
 * @example await loadArchiveToCache("dist/hello.oci.tar")
 */
export function loadArchiveToCache(tarPath: string, opts: { cacheDir?: string } = {}): Promise<CachedImage> {
  return withExtractedArchive(tarPath, (dir) => loadLayoutToCache(dir, opts));
}

/** Imports an OCI layout folder into the cache (verifying it like a pull). */
export async function loadLayoutToCache(dir: string, opts: { cacheDir?: string; tag?: string } = {}): Promise<CachedImage> {
  const img = await readLayout(dir, opts.tag);
  return materialize(img, ociCacheDir(opts.cacheDir), opts.tag);
}
