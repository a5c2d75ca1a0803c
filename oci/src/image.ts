import { gzipSync, constants as zc } from "node:zlib";
import { sha256Digest } from "./digest.js";
import { OciErrorCode, ociError } from "./errors.js";
import { canonicalJson } from "./json.js";
import { Annotation, MediaType, WASM_PLATFORM } from "./media-types.js";
import type { Provenance } from "./provenance.js";
import { writeTar } from "./tar.js";
import type { Descriptor, ImageIndex, ImageManifest } from "./types.js";

/** What `wasm-fn build` knows about a function when it packs it. */
export interface FunctionImageInput {
  /** Function name, e.g. "hello"; the entrypoint is /<name>.wasm. */
  name: string;
  /** e.g. "0.1.0" -> org.opencontainers.image.version and the layout's ref name. */
  version: string;
  /** The module bytes: the ABI guest the Node shim serves. */
  wasm: Uint8Array;
  /**
   * The WasmEdge form (a WASI command: guest + adapter), the image's entrypoint `/<name>.wasm`;
   * the guest then rides beside it as `/<name>.guest.wasm`, named by the config label dev.wasm-fn.guest.
   */
  wasmedge?: Uint8Array;
  /** "image": runnable WasmEdge/crun image; "artifact": CNCF Wasm OCI artifact (runwasi, wkg). */
  format: "image" | "artifact";
  /** Stored as compact JSON in Labels["dev.wasm-fn.function"] (image) and the manifest annotation of that name. */
  metadata: Record<string, unknown>;
  /** Function source folder; gives org.opencontainers.image.{source,revision,created} when inside git. */
  sourceDir?: string;
  /**
   * The module is a component (a TS/JS function, a wasi:http/proxy component): what it imports and
   * exports, and the world it targets. Packed only as the CNCF Wasm OCI artifact (os wasip2, the
   * config's `component` field), the CNCF spec's form for components.
   */
  component?: { imports: string[]; exports: string[]; target: string | null };
}

/** An image in memory: every blob by digest, plus the manifest and the layout's index.json. */
export interface BuiltImage {
  blobs: Map<string, Buffer>;
  manifest: Descriptor;
  configDigest: string;
  layerDigest: string;
  index: Buffer;
}

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];
/** A function name that is safe as a file name (`<name>.wasm`) in an image and in the cache. */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function validate(input: FunctionImageInput): void {
  if (!NAME_RE.test(input.name)) throw ociError(OciErrorCode.IMAGE_INVALID, `function name '${input.name}' cannot be a file name in an image: use letters, digits, '.', '_' or '-'`);
  if (!input.version) throw ociError(OciErrorCode.IMAGE_INVALID, `function '${input.name}' has no version: set one in its metadata (e.g. 0.1.0)`);
  if (input.format !== "image" && input.format !== "artifact") throw ociError(OciErrorCode.IMAGE_INVALID, `unknown image format '${String(input.format)}': use 'image' or 'artifact'`);
  if (input.component && input.format !== "artifact") throw ociError(OciErrorCode.IMAGE_INVALID, `'${input.name}' is a component: it is packed as a Wasm OCI artifact (--format artifact); the WasmEdge image form is for the wasm-fn ABI's modules`);
  if (input.wasm.length < 8 || WASM_MAGIC.some((b, i) => input.wasm[i] !== b)) {
    throw ociError(OciErrorCode.IMAGE_INVALID, `the module for '${input.name}' does not start with the Wasm magic bytes (\\0asm); rebuild it with 'wasm-fn build'`);
  }
}

/** gzip with a fixed level, no name, mtime 0 and OS "unknown" so the bytes depend on content only. */
export function reproducibleGzip(data: Uint8Array): Buffer {
  const gz = gzipSync(data, { level: 9, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY });
  gz[9] = 0xff; // the OS byte differs between platforms' zlib builds
  return gz;
}

function annotations(input: FunctionImageInput, prov: Provenance): Record<string, string> {
  const a: Record<string, string> = {
    [Annotation.title]: input.name,
    [Annotation.version]: input.version,
    [Annotation.created]: prov.created,
    [Annotation.wasmFnFunction]: canonicalJson(input.metadata),
  };
  if (prov.source) a[Annotation.source] = prov.source;
  if (prov.revision) a[Annotation.revision] = prov.revision;
  if (input.format === "image") a[Annotation.wasmVariant] = "compat-smart";
  return a;
}

function layerAndConfig(input: FunctionImageInput, prov: Provenance): { layer: Buffer; layerType: string; config: Buffer; configType: string; inflated?: number } {
  if (input.format === "artifact") {
    const layer = Buffer.from(input.wasm);
    const c = input.component;
    const config = c
      ? { created: prov.created, ...WASM_PLATFORM, os: "wasip2", layerDigests: [sha256Digest(layer)], component: { exports: c.exports, imports: c.imports, ...(c.target ? { target: c.target } : {}) } }
      : { created: prov.created, ...WASM_PLATFORM, layerDigests: [sha256Digest(layer)] };
    return { layer, layerType: MediaType.wasmLayer, config: Buffer.from(canonicalJson(config)), configType: MediaType.wasmConfig };
  }
  // 0755: crun looks the entrypoint up as an executable before handing it to WasmEdge.
  const guestFile = `${input.name}.guest.wasm`;
  const files = input.wasmedge
    ? [{ name: `${input.name}.wasm`, type: "file" as const, data: input.wasmedge, mode: 0o755 }, { name: guestFile, type: "file" as const, data: input.wasm, mode: 0o644 }]
    : [{ name: `${input.name}.wasm`, type: "file" as const, data: input.wasm, mode: 0o755 }];
  const tar = writeTar(files, prov.mtime);
  const labels: Record<string, string> = { [Annotation.wasmFnFunction]: canonicalJson(input.metadata) };
  if (input.wasmedge) labels[Annotation.wasmFnGuest] = `/${guestFile}`;
  const config = {
    created: prov.created,
    ...WASM_PLATFORM,
    config: { Entrypoint: [`/${input.name}.wasm`], Labels: labels },
    rootfs: { type: "layers", diff_ids: [sha256Digest(tar)] },
    history: [{ created: prov.created, created_by: "wasm-fn build" }],
  };
  return { layer: reproducibleGzip(tar), layerType: MediaType.ociLayerGzip, config: Buffer.from(canonicalJson(config)), configType: MediaType.ociConfig, inflated: tar.length };
}

/**
 * Packs a function into an OCI image (or Wasm artifact) in memory; byte-identical for the same inputs.
 * @example const img = buildImage({ name: "hello", version: "0.1.0", wasm, format: "image", metadata: {} }, await provenance())
 */
export function buildImage(input: FunctionImageInput, prov: Provenance): BuiltImage {
  validate(input);
  const { layer, layerType, config, configType, inflated } = layerAndConfig(input, prov);
  const ann = annotations(input, prov);
  const layerDesc: Descriptor = { mediaType: layerType, digest: sha256Digest(layer), size: layer.length };
  // Lets a puller cap the inflated bytes exactly instead of at the per-image bound.
  if (inflated !== undefined) layerDesc.annotations = { [Annotation.wasmFnInflatedSize]: String(inflated) };
  const configDesc: Descriptor = { mediaType: configType, digest: sha256Digest(config), size: config.length };
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers: [layerDesc], annotations: ann };
  const manifestBytes = Buffer.from(canonicalJson(manifest));
  const manifestDesc: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: sha256Digest(manifestBytes),
    size: manifestBytes.length,
    platform: { ...WASM_PLATFORM },
    annotations: { [Annotation.refName]: input.version },
  };
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [manifestDesc], annotations: ann };
  const blobs = new Map<string, Buffer>([
    [layerDesc.digest, layer],
    [configDesc.digest, config],
    [manifestDesc.digest, manifestBytes],
  ]);
  return { blobs, manifest: manifestDesc, configDigest: configDesc.digest, layerDigest: layerDesc.digest, index: Buffer.from(canonicalJson(index)) };
}
