import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { dockerConfigPath, getCredentials, storeCredentials } from "./docker-config.js";

const ROOT = mkdtempSync(join(tmpdir(), "wfn-docker-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
let dir: string;
const saved = { DOCKER_CONFIG: process.env.DOCKER_CONFIG, PATH: process.env.PATH };
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const writeConfig = (cfg: unknown): void => writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));

/** A docker-credential-<name> script on PATH that answers like the real helpers. */
function helper(name: string, answers: Record<string, { Username: string; Secret: string }>): void {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  const cases = Object.entries(answers).map(([url, a]) => `  "${url}") echo '${JSON.stringify({ ServerURL: url, ...a })}' ;;`).join("\n");
  writeFileSync(join(bin, `docker-credential-${name}`), `#!/bin/sh\n[ "$1" = get ] || exit 2\nread url\ncase "$url" in\n${cases}\n  *) echo "credentials not found in native keychain"; exit 1 ;;\nesac\n`);
  chmodSync(join(bin, `docker-credential-${name}`), 0o755);
  process.env.PATH = `${bin}:${saved.PATH}`;
}

beforeEach(() => {
  dir = mkdtempSync(join(ROOT, "t-"));
  process.env.DOCKER_CONFIG = dir;
});
afterEach(() => {
  process.env.DOCKER_CONFIG = saved.DOCKER_CONFIG;
  process.env.PATH = saved.PATH;
});

describe("getCredentials", () => {
  it("respects DOCKER_CONFIG and reads auths however the key is spelled", async () => {
    expect(dockerConfigPath()).toBe(join(dir, "config.json"));
    writeConfig({ auths: { "https://localhost:5000/v1/": { auth: b64("alice:pa:ss") }, "https://index.docker.io/v1/": { auth: b64("hub:tok") } } });
    expect(await getCredentials("localhost:5000")).toEqual({ username: "alice", password: "pa:ss" });
    expect(await getCredentials("docker.io")).toEqual({ username: "hub", password: "tok" });
    expect(await getCredentials("ghcr.io")).toBeUndefined();
  });

  it("returns nothing when there is no config, and a clear error for a broken one", async () => {
    expect(await getCredentials("ghcr.io")).toBeUndefined();
    writeFileSync(join(dir, "config.json"), "{not json");
    await expect(getCredentials("ghcr.io")).rejects.toMatchObject({ code: "WFN_CREDENTIALS_INVALID" });
  });

  it("asks credHelpers first, then auths, then credsStore", async () => {
    helper("fake", { "ghcr.io": { Username: "gh", Secret: "ghp_x" }, "quay.io": { Username: "<token>", Secret: "idtok" } });
    writeConfig({ credHelpers: { "ghcr.io": "fake" }, credsStore: "fake", auths: { "ghcr.io": { auth: b64("file:wrong") }, "r.io": { auth: b64("r:1") } } });
    expect(await getCredentials("ghcr.io")).toEqual({ username: "gh", password: "ghp_x" });
    expect(await getCredentials("r.io")).toEqual({ username: "r", password: "1" });
    expect(await getCredentials("quay.io")).toEqual({ identityToken: "idtok" });
    expect(await getCredentials("unknown.io")).toBeUndefined();
  });

  it("says which helper is missing", async () => {
    writeConfig({ credsStore: "nonexistent-helper" });
    await expect(getCredentials("ghcr.io")).rejects.toMatchObject({ code: "WFN_CREDENTIALS_HELPER_FAILED", message: expect.stringContaining("docker-credential-nonexistent-helper") });
  });
});

describe("storeCredentials", () => {
  it("writes auths with mode 0600, keeps other settings, replaces the old entry, leaves no temp file", async () => {
    writeConfig({ credHelpers: { "gcr.io": "gcloud" }, auths: { "https://localhost:5000": { auth: b64("old:old") } }, psFormat: "x" });
    const path = await storeCredentials("localhost:5000", "alice", "s3cret");
    const cfg = JSON.parse(readFileSync(path, "utf8"));
    expect(cfg.credHelpers).toEqual({ "gcr.io": "gcloud" });
    expect(cfg.psFormat).toBe("x");
    expect(cfg.auths).toEqual({ "https://localhost:5000": { auth: b64("alice:s3cret") } });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(["config.json"]);
    expect(await getCredentials("localhost:5000")).toEqual({ username: "alice", password: "s3cret" });
  });

  it("creates the config folder and uses docker's key for Docker Hub", async () => {
    process.env.DOCKER_CONFIG = join(dir, "new", "docker");
    const path = await storeCredentials("docker.io", "me", "tok");
    expect(Object.keys(JSON.parse(readFileSync(path, "utf8")).auths)).toEqual(["https://index.docker.io/v1/"]);
  });
});
