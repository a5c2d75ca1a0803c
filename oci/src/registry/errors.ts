import { OciErrorCode, ociError } from "../errors.js";
import { readBody, type HttpResponse } from "./http.js";

/** The registry's own error words ({"errors":[{"code","message"}]}), shortened; never headers. */
async function registrySays(res: HttpResponse): Promise<string> {
  // undici throws asynchronously when a consumed body is read again; never try.
  const used = (res.body as { bodyUsed?: boolean }).bodyUsed || res.body.readableEnded || res.body.destroyed;
  const text = used ? "" : await readBody(res, 64 << 10, "error answer").then((b) => b.toString("utf8"), () => "");
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const first = body.errors?.[0];
    if (first) return ` (registry says: ${[first.code, first.message].filter(Boolean).join(": ").slice(0, 300)})`;
  } catch { /* not JSON */ }
  return "";
}

/**
 * Maps an unexpected registry answer to a WfnError with a stable code and a next step.
 * @example throw await statusError(res, "localhost:5000", "push blob sha256:ab.. to hello")
 */
export async function statusError(res: HttpResponse, registry: string, what: string, hasCredentials = false): Promise<Error> {
  const says = await registrySays(res);
  const s = res.status;
  const at = `${what}: ${registry} answered HTTP ${s}${says}`;
  if (s === 401) {
    const next = hasCredentials ? `the stored credentials were refused; run 'wasm-fn login ${registry}' again` : `run 'wasm-fn login ${registry}' first`;
    return ociError(OciErrorCode.REGISTRY_UNAUTHORIZED, `${at}; ${next}`, { status: 401 });
  }
  if (s === 403) return ociError(OciErrorCode.REGISTRY_FORBIDDEN, `${at}; the account is not allowed to do this on that repository (check its permissions or the repository name)`, { status: 403 });
  if (s === 404) return ociError(OciErrorCode.REGISTRY_NOT_FOUND, `${at}; check the repository name and tag (or the registry address)`, { status: 404 });
  if (s === 429) return ociError(OciErrorCode.REGISTRY_RATE_LIMITED, `${at} after several tries; the registry is rate-limiting, wait a while and try again${retryAfterHint(res)}`, { status: 429 });
  if (s >= 500) return ociError(OciErrorCode.REGISTRY_SERVER_ERROR, `${at} after several tries; the registry is failing, try again later`, { status: 502 });
  return ociError(OciErrorCode.REGISTRY_UNEXPECTED, `${at}, which wasm-fn does not expect here`, { status: 502 });
}

function retryAfterHint(res: HttpResponse): string {
  const v = res.headers["retry-after"];
  return v ? ` (it asked for ${Array.isArray(v) ? v[0] : v}${/^\d+$/.test(String(v)) ? " s" : ""})` : "";
}
