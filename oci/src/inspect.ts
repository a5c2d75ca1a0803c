import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extractOciArchive, isArchivePath } from "./archive.js";
import { OciErrorCode, ociError } from "./errors.js";
import { parseJsonObject } from "./json.js";
import { readLayout, selectManifest } from "./layout.js";
import { isIndexMediaType, MediaType } from "./media-types.js";
import { formatReference, parseReference } from "./reference.js";
import { repoScope } from "./registry/auth.js";
import { getBlob } from "./registry/blobs.js";
import { RegistryClient } from "./registry/client.js";
import type { Descriptor, ImageIndex, ImageManifest } from "./types.js";

/** Everything `wasm-fn inspect` shows; also its `--json` document. */
export interface InspectResult {
  source: "registry" | "layout" | "archive";
  target: string;
  digest: string;
  mediaType: string;
  artifactType?: string;
  /** Manifest bytes. */
  size: number;
  /** Manifest + config + layers. */
  totalSize: number;
  annotations: Record<string, string>;
  config: { mediaType: string; digest: string; size: number; content: Record<string, unknown> };
  layers: Descriptor[];
}

const invalid = (m: string): Error => ociError(OciErrorCode.IMAGE_INVALID, m);

function summarize(source: InspectResult["source"], target: string, desc: Descriptor, bytes: Buffer, parsed: ImageManifest, config: Buffer): InspectResult {
  const out: InspectResult = {
    source, target,
    digest: desc.digest,
    mediaType: parsed.mediaType ?? desc.mediaType,
    size: bytes.length,
    totalSize: bytes.length + parsed.config.size + parsed.layers.reduce((n, l) => n + l.size, 0),
    annotations: parsed.annotations ?? {},
    config: { ...parsed.config, content: parseJsonObject(config, `config ${parsed.config.digest}`, invalid) },
    layers: parsed.layers,
  };
  if (parsed.artifactType) out.artifactType = parsed.artifactType;
  return out;
}

async function inspectLocal(dir: string, source: "layout" | "archive", target: string): Promise<InspectResult> {
  const img = await readLayout(dir);
  return summarize(source, target, img.manifest, img.manifestBytes, img.parsed, await img.readBlob(img.parsed.config));
}

async function inspectRemote(ref: string, insecure: boolean): Promise<InspectResult> {
  const r = parseReference(ref);
  const c = new RegistryClient(r.registry, { insecure });
  const scopes = [repoScope(r.repository, "pull")];
  try {
    await c.ping();
    const name = formatReference(r);
    let m = await c.getManifest(r.repository, r.digest ?? r.tag ?? "latest", scopes);
    if (!m) throw ociError(OciErrorCode.REGISTRY_NOT_FOUND, `${name} does not exist; check the repository and tag`, { status: 404 });
    let doc = parseJsonObject(m.bytes, `manifest of ${name}`, invalid);
    if (isIndexMediaType((doc.mediaType as string | undefined) ?? m.mediaType)) {
      const chosen = selectManifest(doc as unknown as ImageIndex, undefined, name);
      m = await c.getManifest(r.repository, chosen.digest, scopes);
      if (!m) throw ociError(OciErrorCode.REGISTRY_NOT_FOUND, `${name}: manifest ${chosen.digest} is missing`, { status: 404 });
      doc = parseJsonObject(m.bytes, `manifest ${chosen.digest}`, invalid);
    }
    const parsed = doc as unknown as ImageManifest;
    if (!parsed.config || !Array.isArray(parsed.layers)) throw invalid(`${name} is not an image manifest`);
    const desc = { mediaType: parsed.mediaType ?? m.mediaType ?? MediaType.ociManifest, digest: m.digest, size: m.bytes.length };
    return summarize("registry", name, desc, m.bytes, parsed, await getBlob(c, r.repository, parsed.config));
  } finally {
    await c.close();
  }
}

/**
 * Describes an image without running it: a registry reference, an OCI layout folder, or an
 * oci-archive tar (unpacked safely into a temp folder, then removed).
 * @example (await inspectImage("examples/hello/dist/oci")).annotations["module.wasm.image/variant"] // "compat-smart"
 */
export async function inspectImage(target: string, opts: { insecure?: boolean } = {}): Promise<InspectResult> {
  if (await isArchivePath(target)) {
    const tmp = await mkdtemp(join(tmpdir(), "wasm-fn-inspect-"));
    try {
      await extractOciArchive(target, join(tmp, "layout"));
      return await inspectLocal(join(tmp, "layout"), "archive", target);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const isDir = await stat(target).then((s) => s.isDirectory(), () => false);
  if (isDir) return inspectLocal(target, "layout", target);
  return inspectRemote(target, !!opts.insecure);
}
