import { getCredentials, type Credentials } from "../auth/docker-config.js";
import { sha256Digest, isDigest } from "../digest.js";
import { OciErrorCode, ociError } from "../errors.js";
import { MANIFEST_ACCEPT } from "../media-types.js";
import { apiHost } from "../reference.js";
import { Authorizer } from "./auth.js";
import { statusError } from "./errors.js";
import { Http, readBody, type HttpRequest, type HttpResponse } from "./http.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";

export interface RegistryClientOptions {
  /** Allow plain HTTP (and self-signed HTTPS). Without it, only verified HTTPS is used. */
  insecure?: boolean;
  /** Use these instead of docker's config (login verifies new credentials this way). */
  credentials?: Credentials;
  retry?: Partial<RetryPolicy>;
  /** Blobs larger than this are uploaded in PATCH chunks of this size (default 8 MiB; WASM_FN_OCI_CHUNK_SIZE). */
  chunkSize?: number;
}

export interface RegistryRequest extends Omit<HttpRequest, "url"> {
  /** `/v2/...` or an absolute URL the registry handed out (upload Location, redirect). */
  path: string;
}

const MAX_MANIFEST_BYTES = 4 << 20;
const DEFAULT_CHUNK_SIZE = 8 << 20;

/** The PATCH chunk size: a positive whole number of bytes, or an upload would never finish. */
function chunkSizeFrom(option: number | undefined): number {
  const env = process.env.WASM_FN_OCI_CHUNK_SIZE;
  const [value, from] = option !== undefined ? [option, "chunkSize"] : env ? [Number(env), `WASM_FN_OCI_CHUNK_SIZE=${env.slice(0, 40)}`] : [DEFAULT_CHUNK_SIZE, ""];
  if (!Number.isSafeInteger(value) || value < 1) {
    throw ociError(OciErrorCode.CONFIG_INVALID, `${from || String(value)} is not a chunk size: use a whole number of bytes above 0 (default ${DEFAULT_CHUNK_SIZE})`);
  }
  return value;
}

/**
 * A client for one registry (distribution spec v2): finds its scheme and auth challenge with the
 * /v2/ ping, then signs each request for the repository scopes it needs.
 * @example const c = new RegistryClient("localhost:5000", { insecure: true }); await c.ping();
 */
export class RegistryClient {
  readonly host: string;
  readonly chunkSize: number;
  readonly retry: RetryPolicy;
  private readonly http: Http;
  private readonly authz: Authorizer;
  private base: string | undefined;

  constructor(readonly registry: string, readonly opts: RegistryClientOptions = {}) {
    this.host = apiHost(registry);
    this.chunkSize = chunkSizeFrom(opts.chunkSize);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.http = new Http(this.host, this.retry, !!opts.insecure);
    const creds = opts.credentials;
    this.authz = new Authorizer(registry, this.http, creds ? async () => creds : () => getCredentials(registry), !!opts.insecure);
  }

  /** Resolves the scheme: HTTPS always; plain HTTP only with --insecure when HTTPS is not spoken. */
  private async baseUrl(): Promise<string> {
    if (this.base) return this.base;
    const https = `https://${this.host}`;
    if (!this.opts.insecure) return (this.base = https);
    try {
      const res = await this.http.send({ method: "GET", url: `${https}/v2/` });
      await res.body.dump();
      this.base = https;
    } catch {
      this.base = `http://${this.host}`;
    }
    return this.base;
  }

  /**
   * GET /v2/: checks the registry is there and learns how it wants to be authenticated. With
   * `verifyAuth`, also proves the credentials work (what `wasm-fn login` needs).
   */
  async ping(verifyAuth = false): Promise<void> {
    const res = await this.send({ method: "GET", path: "/v2/", idempotent: true });
    if (res.status === 401) {
      const retry = await this.authz.learn(res.headers, [], undefined);
      if (!verifyAuth) return void (await res.body.dump());
      if (!retry) throw await this.fail(res, "log in");
      await res.body.dump();
      const again = await this.send({ method: "GET", path: "/v2/", idempotent: true }, await this.authz.header(retry));
      if (again.status !== 200) throw await this.fail(again, "log in");
      await again.body.dump();
      return;
    }
    if (res.status === 404) throw ociError(OciErrorCode.REGISTRY_NOT_FOUND, `${this.registry} has no /v2/ API; it is not an OCI registry (check the address)`, { status: 404 });
    if (res.status !== 200) throw await this.fail(res, "ping /v2/");
    await res.body.dump();
  }

  /** Whether `url` (absolute) is on the registry's own scheme, host and port. */
  async sameOrigin(url: string): Promise<boolean> {
    return new URL(url).origin === new URL(await this.baseUrl()).origin;
  }

  /**
   * Sends to `/v2/...` on the registry, or to an absolute URL it handed out. Credentials only go
   * to the registry's own origin (as docker and fetch do on redirects), and a URL on plain HTTP
   * is refused without --insecure, so an upload Location or redirect cannot downgrade us.
   */
  private async send(req: RegistryRequest, authorization?: string): Promise<HttpResponse> {
    const base = await this.baseUrl();
    const url = req.path.startsWith("/") ? base + req.path : req.path;
    const target = new URL(url);
    if (target.protocol !== "https:" && !(target.protocol === "http:" && this.opts.insecure)) {
      throw ociError(
        OciErrorCode.REGISTRY_INSECURE_REQUIRED,
        `${this.registry} sent wasm-fn to ${target.protocol === "http:" ? "a plain-HTTP address" : "an address it cannot use"} (${target.origin}); pass --insecure only if you trust that address`,
        { status: 502 },
      );
    }
    const headers = { ...(req.headers ?? {}) };
    if (authorization && target.origin === new URL(base).origin) headers.authorization = authorization;
    return this.http.send({ ...req, url, headers });
  }

  /**
   * Sends a request with the right Authorization for `scopes`, answering one 401 challenge.
   * The caller consumes or dumps the body.
   */
  async request(req: RegistryRequest, scopes: string[]): Promise<HttpResponse> {
    await this.baseUrl();
    const auth = await this.authz.header(scopes);
    const res = await this.send(req, auth);
    // Another origin's challenge is not ours to answer (and must not replace the registry's).
    if (res.status !== 401 || !(await this.sameOrigin(res.url))) return res;
    const retryScopes = await this.authz.learn(res.headers, scopes, auth);
    if (!retryScopes) return res;
    await res.body.dump();
    return this.send(req, await this.authz.header(retryScopes));
  }

  /** A request with no Authorization at all (redirects to storage back-ends). */
  requestUnsigned(req: RegistryRequest): Promise<HttpResponse> {
    return this.send(req);
  }

  /** The error for an unexpected answer (consumes the body). */
  fail(res: HttpResponse, what: string): Promise<Error> {
    return statusError(res, this.registry, what, this.authz.hasCredentials);
  }

  /**
   * Fetches a manifest (or index) and checks its bytes against the digest asked for, or the one
   * the registry announced. Returns undefined for 404.
   */
  async getManifest(repo: string, reference: string, scopes: string[]): Promise<{ bytes: Buffer; mediaType: string; digest: string } | undefined> {
    const res = await this.request({ method: "GET", path: `/v2/${repo}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, idempotent: true }, scopes);
    if (res.status === 404) { await res.body.dump(); return undefined; }
    if (res.status !== 200) throw await this.fail(res, `get manifest ${repo}:${reference}`);
    const bytes = await readBody(res, MAX_MANIFEST_BYTES, `download of manifest ${repo}:${reference}`);
    if (bytes.length > MAX_MANIFEST_BYTES) throw ociError(OciErrorCode.IMAGE_INVALID, `manifest ${repo}:${reference} is over ${MAX_MANIFEST_BYTES} bytes; refusing it`);
    const digest = sha256Digest(bytes);
    const announced = String(res.headers["docker-content-digest"] ?? "");
    const expected = isDigest(reference) ? reference : isDigest(announced) ? announced : digest;
    if (expected !== digest) {
      throw ociError(OciErrorCode.DIGEST_MISMATCH, `manifest ${this.registry}/${repo}:${reference} does not match its digest (expected ${expected}, got ${digest}); the registry or something between is corrupting data, nothing was stored`, { status: 502 });
    }
    const mediaType = String(res.headers["content-type"] ?? "").split(";")[0]!.trim();
    return { bytes, mediaType, digest };
  }

  /** HEAD a manifest: its digest without downloading it (undefined for 404). */
  async headManifest(repo: string, reference: string, scopes: string[]): Promise<string | undefined> {
    const res = await this.request({ method: "HEAD", path: `/v2/${repo}/manifests/${reference}`, headers: { accept: MANIFEST_ACCEPT }, idempotent: true }, scopes);
    if (res.status !== 200 && res.status !== 404) throw await this.fail(res, `check manifest ${repo}:${reference}`);
    await res.body.dump();
    if (res.status === 404) return undefined;
    const d = String(res.headers["docker-content-digest"] ?? "");
    return isDigest(d) ? d : undefined;
  }

  /** PUT a manifest under a tag or its digest; returns the digest the registry stored. */
  async putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string, scopes: string[]): Promise<string> {
    const res = await this.request({ method: "PUT", path: `/v2/${repo}/manifests/${reference}`, headers: { "content-type": mediaType }, body: bytes, idempotent: true }, scopes);
    if (res.status !== 201 && res.status !== 200) throw await this.fail(res, `put manifest ${repo}:${reference}`);
    await res.body.dump();
    const digest = sha256Digest(bytes);
    const stored = String(res.headers["docker-content-digest"] ?? digest);
    if (stored !== digest) throw ociError(OciErrorCode.DIGEST_MISMATCH, `${this.registry} stored manifest ${repo}:${reference} as ${stored}, not ${digest}; it rewrote the manifest, so digests will not verify`, { status: 502 });
    return digest;
  }

  async close(): Promise<void> {
    await this.http.close();
  }
}
