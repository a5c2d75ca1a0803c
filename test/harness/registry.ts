/**
 * A real OCI registry (Debian's docker-registry, i.e. distribution) for tests: a free loopback
 * port, storage in a temp folder; open, behind htpasswd basic auth, or behind token auth (the
 * registry verifies RS256 JWTs from a small token service started here, as Docker Hub/GHCR do).
 *
 * @example
 *   const reg = await startRegistry({ auth: { username: "alice", password: "s3cret" } });
 *   // push to `${reg.host}/hello:0.1.0` with insecure: true ... then
 *   await reg.stop();
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createSign, randomBytes } from "node:crypto";
import { freePort, requireBinary, startProcess } from "./proc.js";

export interface RegistryHandle {
  /** `127.0.0.1:<port>`, the registry part of image references. */
  host: string;
  port: number;
  url: string;
  /** Where blobs live (`docker/registry/v2/blobs/sha256/<2>/<hex>/data`), for tamper tests. */
  storageDir: string;
  /** Token mode: every scope set the token service was asked for, as "service|scope scope". */
  tokenRequests: string[];
  stop(): Promise<void>;
  logs(): string;
}

export interface RegistryOptions {
  /**
   * One account. `htpasswd` (default): basic auth (bcrypt, the only kind distribution accepts).
   * `token`: bearer tokens from a token service that checks this account and grants any scope.
   */
  auth?: { username: string; password: string; mode?: "htpasswd" | "token" };
}

/** A bcrypt htpasswd line; the password goes in on stdin (-i), never on a command line `ps` shows. */
function htpasswd(username: string, password: string): Promise<string> {
  requireBinary("htpasswd");
  return new Promise((resolve, reject) => {
    const child = execFile("htpasswd", ["-Bni", username], (err, stdout) => (err ? reject(err) : resolve(stdout.trim() + "\n")));
    child.stdin?.end(password);
  });
}

function config(port: number, storageDir: string, auth: string): string {
  return [
    "version: 0.1",
    "log:\n  level: warn\n  accesslog:\n    disabled: true",
    `storage:\n  filesystem:\n    rootdirectory: ${storageDir}\n  delete:\n    enabled: true`,
    `http:\n  addr: 127.0.0.1:${port}\n  secret: wasm-fn-test-secret`,
    auth,
  ].join("\n");
}

const SERVICE = "wasm-fn-test";
const ISSUER = "wasm-fn-test-issuer";

/** A self-signed RS256 certificate: the registry trusts tokens whose x5c chain ends in it. */
async function signingCert(dir: string): Promise<{ key: string; certPem: string; certPath: string }> {
  requireBinary("openssl");
  const keyPath = join(dir, "token.key");
  const certPath = join(dir, "token.crt");
  await promisify(execFile)("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=wasm-fn-test-token"]);
  return { key: await readFile(keyPath, "utf8"), certPem: await readFile(certPath, "utf8"), certPath };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

/** The distribution token spec's JWT: access list from the requested scopes, signed RS256 with x5c. */
function jwt(cert: { key: string; certPem: string }, subject: string, scopes: string[]): string {
  const der = cert.certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const now = Math.floor(Date.now() / 1000);
  const access = scopes.map((s) => {
    const parts = s.split(":");
    return { type: parts[0], name: parts.slice(1, -1).join(":"), actions: (parts.at(-1) ?? "").split(",") };
  });
  const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5c: [der] }));
  const claims = b64url(JSON.stringify({ iss: ISSUER, sub: subject, aud: SERVICE, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString("hex"), access }));
  const sig = createSign("RSA-SHA256").update(`${header}.${claims}`).sign(cert.key);
  return `${header}.${claims}.${b64url(sig)}`;
}

/** Token service on a free port: checks basic credentials, grants the scopes asked for. */
async function startTokenService(account: { username: string; password: string }, cert: { key: string; certPem: string }, log: string[]): Promise<{ server: Server; realm: string }> {
  const good = "Basic " + Buffer.from(`${account.username}:${account.password}`).toString("base64");
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const scopes = u.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
    log.push(`${u.searchParams.get("service")}|${scopes.join(" ")}`);
    if (req.headers.authorization !== good) return void res.writeHead(401, { "content-type": "application/json" }).end('{"details":"bad credentials"}');
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: jwt(cert, account.username, scopes), expires_in: 300 }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token` };
}

/** The registry's auth section, plus whatever must be stopped with it. */
async function authSection(dir: string, opts: RegistryOptions, log: string[]): Promise<{ yaml: string; server?: Server }> {
  if (!opts.auth) return { yaml: "" };
  if (opts.auth.mode !== "token") {
    const path = join(dir, "htpasswd");
    await writeFile(path, await htpasswd(opts.auth.username, opts.auth.password));
    return { yaml: `auth:\n  htpasswd:\n    realm: wasm-fn-test\n    path: ${path}\n` };
  }
  const cert = await signingCert(dir);
  const { server, realm } = await startTokenService(opts.auth, cert, log);
  return { server, yaml: `auth:\n  token:\n    realm: ${realm}\n    service: ${SERVICE}\n    issuer: ${ISSUER}\n    rootcertbundle: ${cert.certPath}\n` };
}

/** Starts docker-registry (and its token service in token mode) and waits until /v2/ answers. */
export async function startRegistry(opts: RegistryOptions = {}): Promise<RegistryHandle> {
  requireBinary("docker-registry");
  const dir = await mkdtemp(join(tmpdir(), "wasm-fn-registry-"));
  const storageDir = join(dir, "storage");
  const tokenRequests: string[] = [];
  let token: Server | undefined;
  const cleanup = async (): Promise<void> => {
    await new Promise<void>((r) => (token ? token.close(() => r()) : r()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const auth = await authSection(dir, opts, tokenRequests);
    token = auth.server;
    const port = await freePort();
    const configPath = join(dir, "config.yml");
    await writeFile(configPath, config(port, storageDir, auth.yaml));
    const url = `http://127.0.0.1:${port}`;
    const proc = await startProcess("docker-registry", ["serve", configPath], { readyUrl: `${url}/v2/`, timeoutMs: 20_000 });
    return {
      host: `127.0.0.1:${port}`, port, url, storageDir, tokenRequests,
      logs: proc.logs,
      stop: async () => { await proc.stop(); await cleanup(); },
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Path of a blob's data file inside the registry's storage (to corrupt it on purpose). */
export function registryBlobPath(reg: RegistryHandle, digest: string): string {
  const hex = digest.replace(/^sha256:/, "");
  return join(reg.storageDir, "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
}
