import { storeCredentials } from "./auth/docker-config.js";
import { OciErrorCode, ociError } from "./errors.js";
import { RegistryClient } from "./registry/client.js";

/** `https://host:5000/v2/` -> `host:5000`: people paste URLs; docker config keys are hosts. */
export function normalizeRegistry(input: string): string {
  const host = input.trim().replace(/^[a-z]+:\/\//i, "").replace(/\/.*$/, "");
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(host)) {
    throw ociError(OciErrorCode.REF_INVALID, `'${input.slice(0, 100)}' is not a registry host[:port] (e.g. ghcr.io or localhost:5000)`, { status: 400 });
  }
  return host.toLowerCase();
}

/**
 * Checks credentials against the registry's /v2/ (basic or token auth), then stores them in
 * docker's config. The password is never printed, logged or put in an error.
 * @example await login("localhost:5000", "me", secret, { insecure: true }) // { registry: "localhost:5000", configPath: "/home/me/.docker/config.json" }
 */
export async function login(registryInput: string, username: string, password: string, opts: { insecure?: boolean } = {}): Promise<{ registry: string; configPath: string }> {
  if (!username) throw ociError(OciErrorCode.CREDENTIALS_MISSING, "no user name: pass -u <user>");
  if (!password) throw ociError(OciErrorCode.CREDENTIALS_MISSING, "empty password or token: pipe it to --password-stdin (e.g. echo \"$TOKEN\" | wasm-fn login ghcr.io -u me --password-stdin)");
  const registry = normalizeRegistry(registryInput);
  const client = new RegistryClient(registry, { insecure: !!opts.insecure, credentials: { username, password } });
  try {
    await client.ping(true);
  } finally {
    await client.close();
  }
  const configPath = await storeCredentials(registry, username, password);
  return { registry, configPath };
}
