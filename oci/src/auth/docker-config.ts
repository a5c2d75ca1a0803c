import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { OciErrorCode, ociError } from "../errors.js";
import { writeFileAtomic } from "../fs-atomic.js";

/** Credentials for one registry. Never log or print these. */
export type Credentials = { username: string; password: string } | { identityToken: string };

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [other: string]: unknown;
}

const DOCKER_HUB_KEY = "https://index.docker.io/v1/";

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` (the docker CLI's rule). */
export function dockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG || join(homedir(), ".docker"), "config.json");
}

async function readConfig(path: string): Promise<DockerConfig> {
  const text = await readFile(path, "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw ociError(OciErrorCode.CREDENTIALS_INVALID, `cannot read ${path} (${e.code}); check its permissions`);
  });
  if (text === undefined || text.trim() === "") return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as DockerConfig;
  } catch { /* reported below */ }
  throw ociError(OciErrorCode.CREDENTIALS_INVALID, `${path} is not a JSON object; fix or remove it, then run 'wasm-fn login'`);
}

/** Config keys are written many ways (https://host/v1/, host); compare hosts only. */
function hostOf(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
}

function isHub(host: string): boolean {
  return host === "docker.io" || host === "index.docker.io" || host === "registry-1.docker.io";
}

function findKey<T>(map: Record<string, T> | undefined, registry: string): [string, T] | undefined {
  if (!map) return undefined;
  const want = hostOf(registry);
  return Object.entries(map).find(([k]) => hostOf(k) === want || (isHub(want) && isHub(hostOf(k))));
}

function decodeAuth(entry: NonNullable<DockerConfig["auths"]>[string], path: string, key: string): Credentials | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) throw ociError(OciErrorCode.CREDENTIALS_INVALID, `${path}: auths["${key}"].auth is not base64 of user:password; run 'wasm-fn login ${key}' again`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}

/** Runs `docker-credential-<helper> get`; "not found" means no credentials, not an error. */
export function runCredentialHelper(helper: string, serverUrl: string): Promise<Credentials | undefined> {
  const bin = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = execFile(bin, ["get"], { timeout: 30_000 }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
        reject(ociError(OciErrorCode.CREDENTIALS_HELPER_FAILED, `${bin} is not on PATH but ${dockerConfigPath()} names it; install it or remove it from credsStore/credHelpers`));
        return;
      }
      if (err) {
        if (/not found/i.test(stdout)) resolve(undefined);
        else reject(ociError(OciErrorCode.CREDENTIALS_HELPER_FAILED, `${bin} get failed for ${serverUrl} (exit ${String(err.code)}); run '${bin} list' to check it`));
        return;
      }
      try {
        const out = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (!out.Secret) return resolve(undefined);
        resolve(out.Username === "<token>" ? { identityToken: out.Secret } : { username: out.Username ?? "", password: out.Secret });
      } catch {
        reject(ociError(OciErrorCode.CREDENTIALS_HELPER_FAILED, `${bin} get printed something that is not JSON; check the helper`));
      }
    });
    child.stdin?.end(serverUrl);
  });
}

/**
 * Credentials for `registry` from docker's config: credHelpers[registry], then auths, then
 * credsStore. Returns undefined when none are configured (anonymous access).
 * @example await getCredentials("ghcr.io") // { username: "me", password: "ghp_..." } | undefined
 */
export async function getCredentials(registry: string): Promise<Credentials | undefined> {
  const path = dockerConfigPath();
  const cfg = await readConfig(path);
  const serverUrl = isHub(hostOf(registry)) ? DOCKER_HUB_KEY : registry;
  const helper = findKey(cfg.credHelpers, registry);
  if (helper) return runCredentialHelper(helper[1], serverUrl);
  const auth = findKey(cfg.auths, registry);
  const fromFile = auth ? decodeAuth(auth[1], path, auth[0]) : undefined;
  if (fromFile) return fromFile;
  if (cfg.credsStore) return runCredentialHelper(cfg.credsStore, serverUrl);
  return undefined;
}

/**
 * Stores credentials under `auths` in docker's config (other keys kept), atomically, mode 0600.
 * @example await storeCredentials("localhost:5000", "me", "secret")
 */
export async function storeCredentials(registry: string, username: string, password: string): Promise<string> {
  const path = dockerConfigPath();
  const cfg = await readConfig(path);
  const auths = { ...(cfg.auths ?? {}) };
  const existing = findKey(auths, registry);
  const key = existing?.[0] ?? (isHub(hostOf(registry)) ? DOCKER_HUB_KEY : registry);
  auths[key] = { auth: Buffer.from(`${username}:${password}`, "utf8").toString("base64") };
  await writeFileAtomic(path, JSON.stringify({ ...cfg, auths }, null, "\t") + "\n", 0o600);
  return path;
}
