/** Media types and annotation keys wasm-fn writes and reads (OCI image spec 1.1, CNCF Wasm OCI artifact v0). */
export const MediaType = {
  ociLayout: "application/vnd.oci.image.layout.v1",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerTar: "application/vnd.oci.image.layer.v1.tar",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  wasmConfig: "application/vnd.wasm.config.v0+json",
  wasmLayer: "application/wasm",
} as const;

/** What we accept when fetching a manifest: single-platform manifests first, then indexes. */
export const MANIFEST_ACCEPT = [MediaType.ociManifest, MediaType.dockerManifest, MediaType.ociIndex, MediaType.dockerManifestList].join(", ");

export const Annotation = {
  refName: "org.opencontainers.image.ref.name",
  title: "org.opencontainers.image.title",
  version: "org.opencontainers.image.version",
  created: "org.opencontainers.image.created",
  source: "org.opencontainers.image.source",
  revision: "org.opencontainers.image.revision",
  /** crun (built with WasmEdge) runs a container as Wasm when this is on the pod and args[0] ends in .wasm. */
  wasmVariant: "module.wasm.image/variant",
  /** Compact JSON of the function's metadata (routes, trigger, capabilities...). */
  wasmFnGuest: "dev.wasm-fn.guest",
  wasmFnFunction: "dev.wasm-fn.function",
  /** On a tar+gzip layer: the bytes it inflates to; a pull refuses the layer past that. */
  wasmFnInflatedSize: "dev.wasm-fn.inflated-size",
} as const;

export const WASM_PLATFORM = { architecture: "wasm", os: "wasip1" } as const;

export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ociIndex || mt === MediaType.dockerManifestList;
}

export function isManifestMediaType(mt: string | undefined): boolean {
  return mt === MediaType.ociManifest || mt === MediaType.dockerManifest;
}
