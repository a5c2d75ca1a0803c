import { stat } from "node:fs/promises";
import { isArchivePath, withExtractedArchive } from "./archive.js";
import { OciErrorCode, ociError } from "./errors.js";
import { parseJsonObject } from "./json.js";
import { readLayout } from "./layout.js";
import { resolveRemote } from "./pull.js";
import { formatReference, parseReference } from "./reference.js";
import { RegistryClient } from "./registry/client.js";
import type { Descriptor, ImageManifest } from "./types.js";

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
  try {
    await c.ping();
    const src = await resolveRemote(c, r);
    return summarize("registry", formatReference(r), src.manifest, src.manifestBytes, src.parsed, await src.readBlob(src.parsed.config));
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
  if (await isArchivePath(target)) return withExtractedArchive(target, (dir) => inspectLocal(dir, "archive", target));
  const isDir = await stat(target).then((s) => s.isDirectory(), () => false);
  if (isDir) return inspectLocal(target, "layout", target);
  // Spelled as a path, it is a typo'd path: saying "invalid image reference" would mislead.
  if (/^\.{0,2}\//.test(target) || /\.tar$/i.test(target)) {
    throw ociError(OciErrorCode.LAYOUT_INVALID, `${target} is neither an OCI layout folder nor an oci-archive file; check the path, or write one with 'wasm-fn build [--tar]'`);
  }
  return inspectRemote(target, !!opts.insecure);
}
