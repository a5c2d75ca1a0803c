/**
 * @wasm-fn/oci: OCI images for Wasm functions. Writes reproducible image layouts (runnable
 * WasmEdge/crun images or CNCF Wasm artifacts), and pushes, pulls (digest-verified, cached),
 * inspects and logs in to registries that speak the distribution spec.
 */
export { writeImageLayout, readLayout, type LocalImage } from "./layout.js";
export type { FunctionImageInput } from "./image.js";
export { pullToCache, loadArchiveToCache, loadLayoutToCache, type PullOptions } from "./pull.js";
export type { CachedImage } from "./materialize.js";
export { pushLayout, type PushOptions, type PushResult, type PushEvent } from "./push.js";
export { inspectImage, type InspectResult } from "./inspect.js";
export { login, normalizeRegistry } from "./login.js";
export { extractOciArchive, isArchivePath } from "./archive.js";
export { isImageReference, parseReference, formatReference, type ImageRef } from "./reference.js";
export { ociCacheDir } from "./cache.js";
export { dockerConfigPath } from "./auth/docker-config.js";
export { OciErrorCode } from "./errors.js";
export { MediaType, Annotation } from "./media-types.js";
export type { Descriptor, ImageManifest, ImageIndex, Platform } from "./types.js";
export { humanSize, shortDigest, transferReporter } from "./progress.js";
