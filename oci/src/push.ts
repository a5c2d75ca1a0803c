import { knownBlobSources, ociCacheDir, recordBlobSources } from "./cache.js";
import { OciErrorCode, ociError } from "./errors.js";
import { readLayout } from "./layout.js";
import { Annotation } from "./media-types.js";
import { formatReference, parseReference, TAG_RE } from "./reference.js";
import { repoScope } from "./registry/auth.js";
import { hasBlob, mountBlob, uploadBlob, type Progress } from "./registry/blobs.js";
import { RegistryClient, type RegistryClientOptions } from "./registry/client.js";
import type { Descriptor } from "./types.js";

/** What happened to each blob during a push (shown as one line per blob by the CLI). */
export interface PushEvent {
  digest: string;
  size: number;
  action: "exists" | "mounted" | "uploading" | "uploaded";
  from?: string;
}

export interface PushOptions {
  insecure?: boolean;
  cacheDir?: string;
  onEvent?: (e: PushEvent) => void;
  onProgress?: Progress;
  client?: Omit<RegistryClientOptions, "insecure">;
}

export interface PushResult {
  /** The reference pushed, with the tag used. */
  ref: string;
  digest: string;
  /** Manifest size in bytes (what `docker push` prints as size). */
  size: number;
  /** Manifest + config + layers. */
  totalSize: number;
}

/** Pushes one blob: skip if present, mount from a repository known to hold it, else upload. */
async function pushBlob(c: RegistryClient, repo: string, desc: Descriptor, bytes: Buffer, opts: PushOptions, cacheDir: string): Promise<void> {
  const ev = (action: PushEvent["action"], from?: string): void => opts.onEvent?.({ digest: desc.digest, size: desc.size, action, ...(from ? { from } : {}) });
  if (await hasBlob(c, repo, desc.digest)) return ev("exists");
  let start: string | undefined;
  for (const from of await knownBlobSources(cacheDir, c.registry, repo, desc.digest)) {
    const m = await mountBlob(c, repo, desc.digest, from);
    if (m.mounted) return ev("mounted", from);
    start = m.location;
    if (start) break;
  }
  ev("uploading");
  await uploadBlob(c, repo, desc.digest, bytes, start, opts.onProgress);
  ev("uploaded");
}

/**
 * Pushes the image in an OCI layout folder (`<fn>/dist/oci`) to a registry: blobs first
 * (skipped when present, mounted when another repository there has them), then the manifest.
 * Without a tag in `ref`, the layout's version tag is used.
 * @example await pushLayout("examples/hello/dist/oci", "localhost:5000/hello:0.1.0", { insecure: true }) // { digest: "sha256:...", ... }
 */
export async function pushLayout(layoutDir: string, ref: string, opts: PushOptions = {}): Promise<PushResult> {
  const r = parseReference(ref);
  const img = await readLayout(layoutDir);
  if (r.digest && r.digest !== img.manifest.digest) {
    throw ociError(OciErrorCode.REF_INVALID, `${ref} names digest ${r.digest}, but the image in ${layoutDir} is ${img.manifest.digest}; drop '@...' or rebuild`, { status: 400 });
  }
  const layoutTag = img.manifest.annotations?.[Annotation.refName];
  const tag = r.tag ?? (r.digest ? undefined : layoutTag && TAG_RE.test(layoutTag) ? layoutTag : "latest");
  const cacheDir = ociCacheDir(opts.cacheDir);
  const c = new RegistryClient(r.registry, { ...opts.client, insecure: !!opts.insecure });
  try {
    await c.ping();
    const descs = [img.parsed.config, ...img.parsed.layers];
    for (const d of descs) await pushBlob(c, r.repository, d, await img.readBlob(d), opts, cacheDir);
    const mediaType = img.parsed.mediaType ?? img.manifest.mediaType;
    const digest = await c.putManifest(r.repository, tag ?? img.manifest.digest, img.manifestBytes, mediaType, [repoScope(r.repository, "pull,push")]);
    await recordBlobSources(cacheDir, r.registry, r.repository, descs.map((d) => d.digest)).catch(() => undefined);
    const totalSize = img.manifestBytes.length + descs.reduce((n, d) => n + d.size, 0);
    return { ref: formatReference({ ...r, tag }), digest, size: img.manifestBytes.length, totalSize };
  } finally {
    await c.close();
  }
}
