import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { digestHex } from "./digest.js";
import { writeFileAtomic } from "./fs-atomic.js";

/**
 * The pull cache: `$WASM_FN_CACHE/oci` when WASM_FN_CACHE is set, else
 * `${XDG_CACHE_HOME:-~/.cache}/wasm-fn/oci`. Images live under `images/<manifest hex>/`.
 * @example ociCacheDir() // "/home/me/.cache/wasm-fn/oci"
 */
export function ociCacheDir(override?: string): string {
  if (override) return override;
  if (process.env.WASM_FN_CACHE) return join(process.env.WASM_FN_CACHE, "oci");
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "wasm-fn", "oci");
}

/** Folder of one cached image, named by its manifest digest so it can never hold other content. */
export function cachedImageDir(cacheDir: string, manifestDigest: string): string {
  return join(cacheDir, "images", digestHex(manifestDigest));
}

const SOURCES_FILE = "blob-sources.json";
const MAX_SOURCES = 8;

type Sources = Record<string, string[]>;

async function readSources(cacheDir: string): Promise<Sources> {
  try {
    const parsed = JSON.parse(await readFile(join(cacheDir, SOURCES_FILE), "utf8")) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Sources) : {};
  } catch {
    return {}; // a lost or broken hint file only costs a mount: start afresh
  }
}

/**
 * Remembers which `registry/repository` holds each blob, so a later push of the same blob to
 * another repository of that registry can mount it instead of uploading it again.
 */
export async function recordBlobSources(cacheDir: string, registry: string, repository: string, digests: string[]): Promise<void> {
  const sources = await readSources(cacheDir);
  const where = `${registry}/${repository}`;
  for (const d of digests) {
    const list = (sources[d] ?? []).filter((s) => s !== where);
    sources[d] = [where, ...list].slice(0, MAX_SOURCES);
  }
  await writeFileAtomic(join(cacheDir, SOURCES_FILE), JSON.stringify(sources));
}

/** Repositories on `registry`, other than `repository`, known to hold `digest`. */
export async function knownBlobSources(cacheDir: string, registry: string, repository: string, digest: string): Promise<string[]> {
  const sources = await readSources(cacheDir);
  const prefix = `${registry}/`;
  return (sources[digest] ?? []).filter((s) => s.startsWith(prefix) && s !== prefix + repository).map((s) => s.slice(prefix.length));
}
