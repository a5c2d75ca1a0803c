import { isDigest } from "./digest.js";
import { OciErrorCode, ociError } from "./errors.js";

/** A parsed image reference: `registry/repository[:tag][@digest]`. */
export interface ImageRef {
  /** Host[:port] as written (docker.io when omitted). */
  registry: string;
  /** Repository path inside the registry, e.g. `me/hello` (`library/x` on Docker Hub). */
  repository: string;
  tag?: string;
  digest?: string;
  /** Whether the registry was written out (`localhost:5000/x`) rather than implied (`x`). */
  explicitRegistry: boolean;
}

// The grammar of github.com/distribution/reference, split so each error can name its part.
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]{1,5})?$`);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const TAG_RE = /^[\w][\w.-]{0,127}$/;
const NAME_MAX = 255;

function invalid(ref: string, why: string): Error {
  return ociError(OciErrorCode.REF_INVALID, `invalid image reference '${ref.slice(0, 300)}': ${why}. Expected registry/repository[:tag][@sha256:<64 hex>], e.g. localhost:5000/hello:0.1.0`, { status: 400 });
}

/** Splits `ref` into name, tag and digest text without validating them yet. */
function splitRef(ref: string): { name: string; tag?: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) { digest = rest.slice(at + 1); rest = rest.slice(0, at); }
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), digest };
  return { name: rest, digest };
}

function looksLikeDomain(first: string): boolean {
  return first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase();
}

/**
 * Parses an image reference, refusing invalid names, tags and digests (WFN_REF_INVALID).
 * @example parseReference("localhost:5000/hello:0.1.0") // { registry: "localhost:5000", repository: "hello", tag: "0.1.0", ... }
 */
export function parseReference(ref: string): ImageRef {
  if (typeof ref !== "string" || ref.length === 0) throw invalid(String(ref), "it is empty");
  if (/\s/.test(ref)) throw invalid(ref, "it contains whitespace");
  const { name, tag, digest } = splitRef(ref);
  if (digest !== undefined && !isDigest(digest)) throw invalid(ref, `digest '${digest.slice(0, 80)}' is not 'sha256:' followed by 64 lowercase hex characters`);
  if (tag !== undefined && !TAG_RE.test(tag)) throw invalid(ref, `tag '${tag.slice(0, 140)}' must be 1-128 of [A-Za-z0-9_.-] and not start with '.' or '-'`);
  const parts = name.split("/");
  const explicitRegistry = parts.length > 1 && looksLikeDomain(parts[0]!);
  const registry = explicitRegistry ? parts.shift()! : "docker.io";
  if (!DOMAIN_RE.test(registry)) throw invalid(ref, `registry '${registry}' is not a host[:port]`);
  if (parts.length === 0 || parts.some((p) => !PATH_COMPONENT_RE.test(p))) {
    throw invalid(ref, `name '${parts.join("/")}' must be lowercase letters, digits and separators (. _ __ -) between '/'`);
  }
  if (!explicitRegistry && parts.length === 1) parts.unshift("library");
  const repository = parts.join("/");
  if (registry.length + 1 + repository.length > NAME_MAX) throw invalid(ref, `name is longer than ${NAME_MAX} characters`);
  const out: ImageRef = { registry: registry === "index.docker.io" ? "docker.io" : registry, repository, explicitRegistry };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** `registry/repository[:tag][@digest]`, the canonical spelling. */
export function formatReference(r: Pick<ImageRef, "registry" | "repository" | "tag" | "digest">): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/**
 * True when `s` names an image in a registry rather than a local path: it must parse and spell
 * out its registry. `examples/hello` is a valid Docker Hub name, but users mean the folder.
 * @example isImageReference("localhost:5000/hello:1.0") // true
 * @example isImageReference("./examples/hello") // false
 */
export function isImageReference(s: string): boolean {
  if (typeof s !== "string" || /^(\.{1,2})?\//.test(s) || s.endsWith(".wasm") || s.endsWith(".tar")) return false;
  try {
    return parseReference(s).explicitRegistry;
  } catch {
    return false;
  }
}

/** The host the registry API lives on (Docker Hub's API is not at docker.io). */
export function apiHost(registry: string): string {
  return registry === "docker.io" ? "registry-1.docker.io" : registry;
}
