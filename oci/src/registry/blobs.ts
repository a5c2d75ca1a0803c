import { digestVerifier, streamToFile } from "../blob-stream.js";
import { checkDescriptor, verifyBytes } from "../digest.js";
import { OciErrorCode, ociError, WfnError } from "../errors.js";
import { repoScope } from "./auth.js";
import type { RegistryClient } from "./client.js";
import { readBody, type HttpResponse } from "./http.js";
import { backoffMs, sleep } from "./retry.js";

export type Progress = (p: { digest: string; done: number; total: number }) => void;

const pushScopes = (repo: string): string[] => [repoScope(repo, "pull,push")];

/** HEAD /v2/<repo>/blobs/<digest>: true when the registry already has the blob (so push skips it). */
export async function hasBlob(c: RegistryClient, repo: string, digest: string): Promise<boolean> {
  const res = await c.request({ method: "HEAD", path: `/v2/${repo}/blobs/${digest}`, idempotent: true }, pushScopes(repo));
  if (res.status !== 200 && res.status !== 404) throw await c.fail(res, `check blob ${digest} in ${repo}`);
  await res.body.dump();
  return res.status === 200;
}

/** The Location header, resolved against the URL that returned it (registries may send it relative). */
function location(res: HttpResponse): string | undefined {
  const l = res.headers.location;
  const v = (Array.isArray(l) ? l[0] : l) || undefined;
  try {
    return v === undefined ? undefined : new URL(v, res.url).toString();
  } catch {
    return undefined; // unusable: the caller reports the answer as unexpected
  }
}

/**
 * Asks the registry to link a blob it holds for `from` into `repo` (cross-repository mount).
 * Returns "mounted", or the upload URL the registry opened instead (it may decline a mount).
 */
export async function mountBlob(c: RegistryClient, repo: string, digest: string, from: string): Promise<{ mounted: true } | { mounted: false; location?: string }> {
  const q = new URLSearchParams({ mount: digest, from });
  // Idempotent enough: sent twice, it mounts twice or opens a spare session.
  const res = await c.request({ method: "POST", path: `/v2/${repo}/blobs/uploads/?${q}`, idempotent: true }, [...pushScopes(repo), repoScope(from, "pull")]);
  // 401/403/404: no access to `from` (or it is gone): just upload.
  if (![201, 202, 401, 403, 404].includes(res.status)) throw await c.fail(res, `mount blob ${digest} from ${from} into ${repo}`);
  await res.body.dump();
  if (res.status === 201) return { mounted: true };
  return res.status === 202 ? { mounted: false, location: location(res) } : { mounted: false };
}

async function openUpload(c: RegistryClient, repo: string): Promise<string> {
  const res = await c.request({ method: "POST", path: `/v2/${repo}/blobs/uploads/`, idempotent: true }, pushScopes(repo));
  const loc = location(res);
  if (res.status !== 202 || !loc) throw await c.fail(res, `start upload to ${repo}`);
  await res.body.dump();
  return loc;
}

/** The next upload URL from a 202, or the error for any other answer. */
async function nextLocation(c: RegistryClient, res: HttpResponse, what: string): Promise<string> {
  const next = location(res);
  if (res.status !== 202 || !next) throw await c.fail(res, what);
  await res.body.dump();
  return next;
}

/** One upload session: monolithic PUT for small blobs, PATCH chunks (Content-Range) then PUT for large ones. */
async function uploadOnce(c: RegistryClient, repo: string, digest: string, bytes: Buffer, start: string | undefined, progress?: Progress): Promise<void> {
  let url = start ?? (await openUpload(c, repo));
  const scopes = pushScopes(repo);
  let rest = bytes;
  if (bytes.length > c.chunkSize) {
    for (let off = 0; off < bytes.length; off += c.chunkSize) {
      const chunk = bytes.subarray(off, Math.min(bytes.length, off + c.chunkSize));
      const range = `${off}-${off + chunk.length - 1}`;
      const res = await c.request({
        method: "PATCH", path: url, body: chunk,
        headers: { "content-type": "application/octet-stream", "content-range": range, "content-length": String(chunk.length) },
      }, scopes);
      url = await nextLocation(c, res, `upload chunk ${range} of ${digest} to ${repo}`);
      progress?.({ digest, done: off + chunk.length, total: bytes.length });
    }
    rest = Buffer.alloc(0);
  }
  const put = new URL(url);
  put.searchParams.set("digest", digest); // keeps the registry's own query (e.g. _state)
  const res = await c.request({
    method: "PUT", path: put.toString(), body: rest,
    headers: { "content-type": "application/octet-stream", "content-length": String(rest.length) },
  }, scopes);
  if (res.status !== 201) throw await c.fail(res, `finish upload of ${digest} to ${repo}`);
  await res.body.dump();
  const stored = res.headers["docker-content-digest"];
  if (typeof stored === "string" && stored !== digest) {
    throw ociError(OciErrorCode.DIGEST_MISMATCH, `${c.registry} stored the upload of ${digest} to ${repo} as ${stored.slice(0, 80)}; the registry or a proxy altered it. The manifest was not pushed`, { status: 502 });
  }
}

/**
 * Uploads a blob. A session cut off midway (dropped connection, 5xx) is abandoned and the blob
 * sent again in a fresh session after a back-off, a bounded number of times; then WFN_REGISTRY_UPLOAD_FAILED.
 * @example await uploadBlob(client, "hello", "sha256:ab...", bytes, undefined, (p) => console.error(p.done))
 */
export async function uploadBlob(c: RegistryClient, repo: string, digest: string, bytes: Buffer, start?: string, progress?: Progress): Promise<void> {
  const attempts = c.retry.attempts;
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(backoffMs(c.retry, i));
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

/** GET a blob, following redirects; our Authorization only goes to the registry's own origin. */
async function openBlob(c: RegistryClient, repo: string, digest: string): Promise<HttpResponse> {
  const scopes = [repoScope(repo, "pull")];
  let res = await c.request({ method: "GET", path: `/v2/${repo}/blobs/${digest}`, idempotent: true }, scopes);
  for (let hops = 0; [301, 302, 303, 307, 308].includes(res.status) && hops < 5; hops++) {
    const next = location(res);
    await res.body.dump();
    if (!next) break;
    // Storage back-ends (S3, CDNs) sign the URL themselves and reject a foreign Authorization.
    res = (await c.sameOrigin(next))
      ? await c.request({ method: "GET", path: next, idempotent: true }, scopes)
      : await c.requestUnsigned({ method: "GET", path: next, idempotent: true });
  }
  if (res.status !== 200) throw await c.fail(res, `get blob ${digest} from ${repo}`);
  return res;
}

/**
 * Downloads a blob and refuses it unless its sha256 and size match the descriptor
 * (WFN_OCI_DIGEST_MISMATCH). A download cut off midway is retried, a bounded number of times.
 */
export async function getBlob(c: RegistryClient, repo: string, desc: { digest: string; size: number }, progress?: Progress): Promise<Buffer> {
  checkDescriptor(desc, `blob in ${c.registry}/${repo}`);
  for (let attempt = 1; ; attempt++) {
    const res = await openBlob(c, repo, desc.digest);
    try {
      // More than announced stops the read; verification then refuses it.
      const bytes = await readBody(res, desc.size, `download of blob ${desc.digest}`, (done) => progress?.({ digest: desc.digest, done, total: desc.size }));
      verifyBytes(bytes, desc, `blob ${desc.digest} from ${c.registry}/${repo}`);
      return bytes;
    } catch (e) {
      if ((e as WfnError).code !== OciErrorCode.REGISTRY_UNREACHABLE || attempt >= c.retry.attempts) throw e;
      await sleep(backoffMs(c.retry, attempt));
    }
  }
}

/**
 * Streams a blob into a new file at `dest`, verified while it streams (sha256 and size, more than
 * announced stops the download): a mismatch is WFN_OCI_DIGEST_MISMATCH and leaves no file. A
 * download cut off midway is retried from the start, a bounded number of times.
 */
export async function downloadBlob(c: RegistryClient, repo: string, desc: { digest: string; size: number }, dest: string, progress?: Progress): Promise<void> {
  checkDescriptor(desc, `blob in ${c.registry}/${repo}`);
  for (let attempt = 1; ; attempt++) {
    const res = await openBlob(c, repo, desc.digest);
    let done = 0;
    const verify = digestVerifier(desc, `blob ${desc.digest} from ${c.registry}/${repo}`, (n) => { done = n; progress?.({ digest: desc.digest, done: n, total: desc.size }); });
    try {
      await streamToFile(res.body, [verify], dest);
      return;
    } catch (err) {
      const e = (err as WfnError).code?.startsWith("WFN_")
        ? err
        : ociError(OciErrorCode.REGISTRY_UNREACHABLE, `download of blob ${desc.digest} was cut off after ${done} bytes (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the network and try again. Nothing was stored`, { status: 502, cause: err });
      if ((e as WfnError).code !== OciErrorCode.REGISTRY_UNREACHABLE || attempt >= c.retry.attempts) throw e;
      await sleep(backoffMs(c.retry, attempt));
    }
  }
}
