import { OciErrorCode, ociError } from "./errors.js";
import type { ImageManifest } from "./types.js";

/**
 * What wasm-fn accepts from an image, registry or layout it does not control. A function image is
 * a manifest of about 1 KiB, a config under 1 KiB and one layer of a few hundred KiB, so every
 * bound sits far above that and far below what would hurt the machine pulling it.
 */
export const OciLimits = {
  /** A manifest or index document (JSON), and a layout's index.json. */
  manifestBytes: 4 << 20,
  /** The config blob (JSON), read into memory. */
  configBytes: 1 << 20,
  /** Layers in one manifest. */
  layers: 16,
  /** Entries in one index (or a layout's index.json). */
  indexEntries: 256,
  /** Every blob a manifest names, added up (what a pull downloads and stores). */
  imageBytes: 256 << 20,
  /** What the layers of one image may inflate to, together (a gzip bomb is refused past it). */
  inflatedBytes: 64 << 20,
} as const;

const MiB = (n: number): string => `${n / 1024 / 1024} MiB`;

/**
 * Refuses a manifest that asks for more than `OciLimits` allows, before any blob is fetched for it.
 * Throws WFN_OCI_IMAGE_INVALID with the number that is too high.
 */
export function checkManifestLimits(m: ImageManifest, what: string): void {
  const fail = (why: string): Error => ociError(OciErrorCode.IMAGE_INVALID, `${what}: ${why}; refused, nothing was fetched for it`, { status: 502 });
  if (m.layers.length > OciLimits.layers) throw fail(`${m.layers.length} layers, more than the ${OciLimits.layers} a Wasm image may have`);
  const configSize = Number(m.config?.size);
  if (configSize > OciLimits.configBytes) throw fail(`its config is ${configSize} bytes, over the ${MiB(OciLimits.configBytes)} limit`);
  let total = configSize;
  for (const l of m.layers) total += Number(l?.size);
  if (total > OciLimits.imageBytes) throw fail(`its blobs add up to ${total} bytes, over the ${MiB(OciLimits.imageBytes)} limit for one image`);
}

/** Refuses an index with more entries than any Wasm image needs. */
export function checkIndexLimits(manifests: unknown[], what: string): void {
  if (manifests.length > OciLimits.indexEntries) {
    throw ociError(OciErrorCode.IMAGE_INVALID, `${what}: ${manifests.length} entries in the index, more than ${OciLimits.indexEntries}; refused`, { status: 502 });
  }
}
