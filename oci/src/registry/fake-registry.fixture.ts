/**
 * A tiny in-memory distribution server for the registry client tests (port 0, optional TLS):
 * just enough of the spec to round-trip, plus a hook to answer any request the way a
 * misbehaving registry or proxy would. Not compiled into the package (see tsconfig exclude).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export type Hook = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean | void;
export const sha = (b: Buffer): string => "sha256:" + createHash("sha256").update(b).digest("hex");
export const FAST = { retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 50 } };

/** Just enough of the distribution spec (blobs are per repository, as a mount needs): ping, blobs, uploads (monolithic, chunked, mount), manifests, tokens. */
export async function fakeRegistry(opts: { auth?: "basic" | "bearer"; hook?: Hook; tls?: { key: string; cert: string } } = {}) {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { body: Buffer; type: string }>();
  const uploads = new Map<string, Buffer>();
  const log: string[] = [];
  const tokenScopes: string[] = [];
  let nextId = 0;
  const good = "Basic " + Buffer.from("alice:s3cret").toString("base64");
  const send = (res: ServerResponse, status: number, headers: Record<string, string> = {}, body: Buffer | string = ""): void => {
    res.writeHead(status, headers).end(body);
  };
  function authorized(req: IncomingMessage, res: ServerResponse, repo: string | undefined, push: boolean): boolean {
    const h = req.headers.authorization ?? "";
    if (opts.auth === "basic" && h !== good) return send(res, 401, { "www-authenticate": 'Basic realm="fake"' }), false;
    if (opts.auth === "bearer") {
      const need = repo ? `repository:${repo}:${push ? "pull,push" : "pull"}` : "";
      const granted = h.startsWith("Bearer ") ? Buffer.from(h.slice(7), "base64url").toString().split(" ") : null;
      if (!granted || (need && !granted.includes(need))) {
        send(res, 401, { "www-authenticate": `Bearer realm="${url}/token",service="fake"${need ? `,scope="${need}"` : ""}` });
        return false;
      }
    }
    return true;
  }
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const u = new URL(req.url!, url);
      log.push(`${req.method} ${u.pathname}${u.search}`);
      if (opts.hook?.(req, res, body)) return;
      if (u.pathname === "/token") {
        if (req.headers.authorization !== good) return send(res, 401);
        tokenScopes.push(`${u.searchParams.get("service")}|${u.searchParams.getAll("scope").join(" ")}`);
        return send(res, 200, { "content-type": "application/json" }, JSON.stringify({ token: Buffer.from(["granted", ...u.searchParams.getAll("scope")].join(" ")).toString("base64url") }));
      }
      if (u.pathname === "/v2/") return authorized(req, res, undefined, false) && send(res, 200);
      const m = /^\/v2\/(.+)\/(blobs|manifests)\/(uploads\/)?(.*)$/.exec(u.pathname);
      if (!m) return send(res, 404);
      const [, repo, kind, upload, rest] = m as unknown as [string, string, string, string | undefined, string];
      if (!authorized(req, res, repo, req.method !== "GET" && req.method !== "HEAD")) return;
      if (kind === "manifests") {
        if (req.method === "PUT") {
          manifests.set(`${repo}:${rest}`, { body, type: String(req.headers["content-type"]) });
          manifests.set(`${repo}:${sha(body)}`, { body, type: String(req.headers["content-type"]) });
          return send(res, 201, { "docker-content-digest": sha(body) });
        }
        const man = manifests.get(`${repo}:${rest}`);
        if (!man) return send(res, 404, {}, '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}');
        return send(res, 200, { "content-type": man.type, "docker-content-digest": sha(man.body) }, req.method === "HEAD" ? "" : man.body);
      }
      if (!upload) {
        const blob = blobs.get(`${repo}@${rest}`);
        if (!blob) return send(res, 404);
        return send(res, 200, { "content-length": String(blob.length) }, req.method === "HEAD" ? "" : blob);
      }
      if (req.method === "POST") {
        const mount = u.searchParams.get("mount");
        const from = blobs.get(`${u.searchParams.get("from")}@${mount}`);
        if (mount && from) return blobs.set(`${repo}@${mount}`, from), send(res, 201, { location: `/v2/${repo}/blobs/${mount}` });
        const id = String(nextId++);
        uploads.set(id, Buffer.alloc(0));
        return send(res, 202, { location: `/v2/${repo}/blobs/uploads/${id}?_state=x` });
      }
      const sofar = uploads.get(rest);
      if (!sofar) return send(res, 404, {}, '{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN"}]}');
      const all = Buffer.concat([sofar, body]);
      if (req.method === "PATCH") {
        if (req.headers["content-range"] !== `${sofar.length}-${all.length - 1}`) return send(res, 416);
        uploads.set(rest, all);
        return send(res, 202, { location: `/v2/${repo}/blobs/uploads/${rest}?_state=y`, range: `0-${all.length - 1}` });
      }
      const digest = u.searchParams.get("digest")!;
      if (sha(all) !== digest) return send(res, 400, {}, '{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}');
      blobs.set(`${repo}@${digest}`, all);
      uploads.delete(rest);
      return send(res, 201, { "docker-content-digest": digest });
    });
  };
  const server = opts.tls ? createHttpsServer(opts.tls, handler) : createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `${opts.tls ? "https" : "http"}://${host}`;
  return { host, url, blobs, manifests, log, tokenScopes, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
