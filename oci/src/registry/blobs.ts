import { verifyBytes } from "../digest.js";
import { OciErrorCode, ociError, WfnError } from "../errors.js";
import { repoScope } from "./auth.js";
import type { RegistryClient } from "./client.js";
import type { HttpResponse } from "./http.js";

export type Progress = (p: { digest: string; done: number; total: number }) => void;

const pushScopes = (repo: string): string[] => [repoScope(repo, "pull,push")];

/** HEAD /v2/<repo>/blobs/<digest>: true when the registry already has the blob (so push skips it). */
export async function hasBlob(c: RegistryClient, repo: string, digest: string): Promise<boolean> {
  const res = await c.request({ method: "HEAD", path: `/v2/${repo}/blobs/${digest}`, idempotent: true }, pushScopes(repo));
  if (res.status !== 200 && res.status !== 404) throw await c.fail(res, `check blob ${digest} in ${repo}`);
  await res.body.dump();
  return res.status === 200;
}

/**
 * Asks the registry to link a blob it holds for `from` into `repo` (cross-repository mount).
 * Returns "mounted", or an upload URL the registry opened instead (it may decline a mount).
 */
export async function mountBlob(c: RegistryClient, repo: string, digest: string, from: string): Promise<{ mounted: true } | { mounted: false; location?: string }> {
  const q = new URLSearchParams({ mount: digest, from });
  const res = await c.request({ method: "POST", path: `/v2/${repo}/blobs/uploads/?${q}` }, [...pushScopes(repo), repoScope(from, "pull")]);
  // 401/403/404: no access to `from` (or it is gone): just upload.
  if (![201, 202, 401, 403, 404].includes(res.status)) throw await c.fail(res, `mount blob ${digest} from ${from} into ${repo}`);
  await res.body.dump();
  if (res.status === 201) return { mounted: true };
  return res.status === 202 ? { mounted: false, location: location(res) } : { mounted: false };
}

function location(res: HttpResponse): string | undefined {
  const l = res.headers.location;
  return (Array.isArray(l) ? l[0] : l) || undefined;
}

/** Resolves a Location (maybe relative) against the URL that returned it, and adds query parameters. */
function withQuery(loc: string, base: string, params: Record<string, string>): string {
  const u = new URL(loc, base);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

async function openUpload(c: RegistryClient, repo: string): Promise<{ url: string }> {
  const res = await c.request({ method: "POST", path: `/v2/${repo}/blobs/uploads/` }, pushScopes(repo));
  const loc = location(res);
  if (res.status !== 202 || !loc) throw await c.fail(res, `start upload to ${repo}`);
  await res.body.dump();
  return { url: new URL(loc, res.url).toString() };
}

/** One upload session: monolithic PUT for small blobs, PATCH chunks then PUT for large ones. */
async function uploadOnce(c: RegistryClient, repo: string, digest: string, bytes: Buffer, start: string | undefined, progress?: Progress): Promise<void> {
  let url = start ?? (await openUpload(c, repo)).url;
  const scopes = pushScopes(repo);
  if (bytes.length > c.chunkSize) {
    for (let off = 0; off < bytes.length; off += c.chunkSize) {
      const chunk = bytes.subarray(off, Math.min(bytes.length, off + c.chunkSize));
      const res = await c.request({
        method: "PATCH", path: url, body: chunk,
        headers: { "content-type": "application/octet-stream", "content-range": `${off}-${off + chunk.length - 1}`, "content-length": String(chunk.length) },
      }, scopes);
      const next = location(res);
      if (res.status !== 202 || !next) throw await c.fail(res, `upload chunk ${off}-${off + chunk.length - 1} of ${digest} to ${repo}`);
      await res.body.dump();
      url = new URL(next, url).toString();
      progress?.({ digest, done: off + chunk.length, total: bytes.length });
    }
    bytes = Buffer.alloc(0);
  }
  const res = await c.request({
    method: "PUT", path: withQuery(url, url, { digest }), body: bytes,
    headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) },
  }, scopes);
  if (res.status !== 201) throw await c.fail(res, `finish upload of ${digest} to ${repo}`);
  await res.body.dump();
}

/**
 * Uploads a blob. A session cut off midway (dropped connection, 5xx) is abandoned and the blob
 * sent again in a fresh session, a bounded number of times; then WFN_REGISTRY_UPLOAD_FAILED.
 * @example await uploadBlob(client, "hello", "sha256:ab...", bytes, undefined, (p) => console.error(p.done))
 */
export async function uploadBlob(c: RegistryClient, repo: string, digest: string, bytes: Buffer, start?: string, progress?: Progress): Promise<void> {
  const attempts = c.opts.retry?.attempts ?? 3;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      await uploadOnce(c, repo, digest, bytes, i === 0 ? start : undefined, progress);
      return;
    } catch (e) {
      last = e;
      const code = (e as WfnError).code;
      // Auth, permission and "blob invalid" answers will not change on a retry.
      if (code !== OciErrorCode.REGISTRY_UNREACHABLE && code !== OciErrorCode.REGISTRY_SERVER_ERROR) throw e;
    }
  }
  throw ociError(
    OciErrorCode.REGISTRY_UPLOAD_FAILED,
    `upload of ${digest} (${bytes.length} bytes) to ${c.registry}/${repo} was cut off ${attempts} times (${(last as Error).message}). Check the network and run push again; blobs already stored are skipped`,
    { status: 502, cause: last },
  );
}

/**
 * Downloads a blob, following redirects (without our Authorization when the host changes),
 * and refuses it unless its sha256 and size match the descriptor (WFN_OCI_DIGEST_MISMATCH).
 */
export async function getBlob(c: RegistryClient, repo: string, desc: { digest: string; size: number }, progress?: Progress): Promise<Buffer> {
  let res = await c.request({ method: "GET", path: `/v2/${repo}/blobs/${desc.digest}`, idempotent: true }, [repoScope(repo, "pull")]);
  for (let hops = 0; [301, 302, 303, 307, 308].includes(res.status) && hops < 5; hops++) {
    const next = location(res);
    await res.body.dump();
    if (!next) break;
    const url = new URL(next, res.url);
    // Storage back-ends (S3, CDNs) sign the URL themselves and reject a foreign Authorization.
    res = url.host === new URL(res.url).host
      ? await c.request({ method: "GET", path: url.toString(), idempotent: true }, [repoScope(repo, "pull")])
      : await c.requestUnsigned({ method: "GET", path: url.toString(), idempotent: true });
  }
  if (res.status !== 200) throw await c.fail(res, `get blob ${desc.digest} from ${repo}`);
  const chunks: Buffer[] = [];
  let done = 0;
  for await (const chunk of res.body) {
    const b = chunk as Buffer;
    done += b.length;
    if (done > desc.size) { res.body.destroy(); break; } // more than announced: stop reading, verification fails below
    chunks.push(b);
    progress?.({ digest: desc.digest, done, total: desc.size });
  }
  const bytes = Buffer.concat(chunks);
  verifyBytes(bytes, desc, `blob ${desc.digest} from ${c.registry}/${repo}`);
  return bytes;
}
