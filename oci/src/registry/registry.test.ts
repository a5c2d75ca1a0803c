/**
 * Registry client against a tiny in-memory distribution server on port 0: the status codes,
 * bearer flow, chunked and cut-off uploads and tampering that a real registry will not produce
 * on demand. Round trips against the real docker-registry live in test/oci-registry.test.ts.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeImageLayout } from "../layout.js";
import { pullToCache } from "../pull.js";
import { pushLayout } from "../push.js";

type Hook = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean | void;
const sha = (b: Buffer): string => "sha256:" + createHash("sha256").update(b).digest("hex");
const FAST = { retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 50 } };

/** Just enough of the distribution spec (blobs are per repository, as a mount needs): ping, blobs, uploads (monolithic, chunked, mount), manifests, tokens. */
async function fakeRegistry(opts: { auth?: "basic" | "bearer"; hook?: Hook } = {}) {
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
  const server = createServer((req, res) => {
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
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = `http://${host}`;
  return { host, url, blobs, manifests, log, tokenScopes, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const ROOT = mkdtempSync(join(tmpdir(), "wfn-reg-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
let work: string;
let cacheDir: string;
let layout: string;
const servers: { close(): Promise<void> }[] = [];
async function start(o: Parameters<typeof fakeRegistry>[0] = {}) {
  const s = await fakeRegistry(o);
  servers.push(s);
  return s;
}

beforeEach(async () => {
  work = mkdtempSync(join(ROOT, "t-"));
  cacheDir = join(work, "cache");
  layout = join(work, "oci");
  process.env.DOCKER_CONFIG = join(work, "docker");
  const wasm = Buffer.concat([Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]), Buffer.alloc(1000, 1)]);
  await writeImageLayout({ name: "hello", version: "0.1.0", wasm, format: "artifact", metadata: { name: "hello" } }, layout);
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  delete process.env.DOCKER_CONFIG;
});

function storeLogin(host: string, user = "alice", pass = "s3cret"): void {
  mkdirSync(process.env.DOCKER_CONFIG!, { recursive: true });
  writeFileSync(join(process.env.DOCKER_CONFIG!, "config.json"), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${pass}`).toString("base64") } } }));
}

describe("push and pull", () => {
  it("round-trip with bearer tokens fetched for the right service and scopes", async () => {
    const reg = await start({ auth: "bearer" });
    storeLogin(reg.host);
    const pushed = await pushLayout(layout, `${reg.host}/team/hello:1`, { insecure: true, cacheDir, client: FAST });
    expect(reg.tokenScopes).toContain("fake|repository:team/hello:pull,push");
    const pulled = await pullToCache(`${reg.host}/team/hello:1`, { insecure: true, cacheDir, client: FAST });
    expect(pulled.manifestDigest).toBe(pushed.digest);
    expect(reg.tokenScopes).toContain("fake|repository:team/hello:pull");
    expect(pulled.metadata).toEqual({ name: "hello" });
  });

  it("uploads in PATCH chunks above the chunk size, and mounts from a known repository", async () => {
    const reg = await start();
    await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: { ...FAST, chunkSize: 100 } });
    const patches = reg.log.filter((l) => l.startsWith("PATCH"));
    const sizes = [...reg.blobs.values()].map((b) => b.length);
    expect(sizes).toContain(1008);
    expect(patches.length).toBe(sizes.reduce((n, size) => n + Math.ceil(size / 100), 0)); // every blob in 100-byte chunks
    const events: string[] = [];
    await pushLayout(layout, `${reg.host}/b:1`, { insecure: true, cacheDir, client: FAST, onEvent: (e) => events.push(e.action) });
    expect(events).toEqual(["mounted", "mounted"]);
    expect(reg.log.some((l) => l.includes("mount=") && l.includes("from=a"))).toBe(true);
  });

  it("starts a fresh session when an upload is cut off midway, and gives up after a bounded number", async () => {
    let cuts = 1;
    const cut: Hook = (req) => {
      if (req.method === "PUT" && req.url!.includes("/uploads/") && cuts-- > 0) { req.socket.destroy(); return true; }
    };
    const reg = await start({ hook: cut });
    await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    expect(reg.log.filter((l) => l.startsWith("POST")).length).toBe(3); // config, layer, layer again
    cuts = Infinity;
    const other = await start({ hook: cut });
    const err = await pushLayout(layout, `${other.host}/b:1`, { insecure: true, cacheDir, client: FAST }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "WFN_REGISTRY_UPLOAD_FAILED", message: expect.stringContaining("cut off 3 times") });
    expect(other.log.filter((l) => l.startsWith("POST")).length).toBe(3);
    expect(other.manifests.size).toBe(0);
  });

  it("refuses a tampered blob and writes nothing to the cache", async () => {
    const reg = await start();
    const { digest } = await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    for (const [d, b] of reg.blobs) if (b.length > 500) reg.blobs.set(d, Buffer.concat([b.subarray(0, -1), Buffer.from([0x42])]));
    const fresh = join(work, "fresh");
    await expect(pullToCache(`${reg.host}/a:1`, { insecure: true, cacheDir: fresh, client: FAST })).rejects.toMatchObject({ code: "WFN_OCI_DIGEST_MISMATCH" });
    expect(existsSync(join(fresh, "images"))).toBe(false);
    await expect(pullToCache(`${reg.host}/a@${digest}`, { insecure: true, cacheDir: fresh, client: FAST })).rejects.toMatchObject({ code: "WFN_OCI_DIGEST_MISMATCH" });
  });

  it("refuses a manifest that does not match the digest the registry announced", async () => {
    const reg = await start({
      hook: (req, res) => {
        if (req.method === "GET" && req.url!.includes("/manifests/")) { res.writeHead(200, { "docker-content-digest": "sha256:" + "0".repeat(64), "content-type": "application/vnd.oci.image.manifest.v1+json" }).end("{}"); return true; }
      },
    });
    await expect(pullToCache(`${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST })).rejects.toMatchObject({ code: "WFN_OCI_DIGEST_MISMATCH" });
  });

  it("uses the cache: a tag costs one HEAD when unchanged, a digest needs no registry at all", async () => {
    const reg = await start();
    const { digest } = await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    const first = await pullToCache(`${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    const n = reg.log.length;
    const second = await pullToCache(`${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    expect(second).toEqual(first);
    expect(reg.log.slice(n).filter((l) => !l.startsWith("GET /v2/ ") && l !== "GET /v2/")).toEqual(["HEAD /v2/a/manifests/1"]);
    await reg.close();
    expect((await pullToCache(`${reg.host}/a@${digest}`, { cacheDir })).wasmPath).toBe(first.wasmPath);
  });
});

describe("registry answers", () => {
  const answer = (status: number, headers: Record<string, string> = {}): Hook => (req, res) => {
    if (req.url!.includes("/manifests/")) { res.writeHead(status, headers).end('{"errors":[{"code":"X","message":"nope"}]}'); return true; }
  };
  it.each([
    [401, "WFN_REGISTRY_UNAUTHORIZED", /wasm-fn login/],
    [403, "WFN_REGISTRY_FORBIDDEN", /not allowed/],
    [404, "WFN_REGISTRY_NOT_FOUND", /does not exist|check the repository/],
    [429, "WFN_REGISTRY_RATE_LIMITED", /rate-limiting/],
    [500, "WFN_REGISTRY_SERVER_ERROR", /try again later/],
  ])("HTTP %i -> %s with a next step", async (status, code, hint) => {
    const reg = await start({ hook: answer(status) });
    const err = await pullToCache(`${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code, message: expect.stringMatching(hint) });
    const tries = reg.log.filter((l) => l.startsWith("HEAD")).length;
    expect(tries).toBe(status === 429 || status === 500 ? 3 : 1); // 429/5xx retried, bounded
  });

  it("retries 429 honouring Retry-After, then succeeds", async () => {
    let left = 2;
    const reg = await start({ hook: (req, res) => { if (req.method === "HEAD" && left-- > 0) { res.writeHead(429, { "retry-after": "0" }).end(); return true; } } });
    await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    expect(reg.log.filter((l) => l.startsWith("HEAD")).length).toBe(4); // 2 refused + config + layer
  });

  it("does not wait for a Retry-After longer than its bound", async () => {
    const reg = await start({ hook: answer(429, { "retry-after": "3600" }) });
    const t0 = Date.now();
    await expect(pullToCache(`${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST })).rejects.toMatchObject({ code: "WFN_REGISTRY_RATE_LIMITED", message: expect.stringContaining("3600") });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("refuses wrong basic credentials without printing them", async () => {
    const reg = await start({ auth: "basic" });
    storeLogin(reg.host, "alice", "WRONG-pass");
    const err = await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST }).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: "WFN_REGISTRY_UNAUTHORIZED", message: expect.stringContaining("login") });
    expect(JSON.stringify({ m: (err as Error).message, s: (err as Error).stack })).not.toMatch(/WRONG-pass|YWxpY2U6V1JPTkct/);
  });

  it("speaks plain HTTP only when told --insecure", async () => {
    const reg = await start();
    await expect(pullToCache(`${reg.host}/a:1`, { cacheDir, client: FAST })).rejects.toMatchObject({ code: "WFN_REGISTRY_INSECURE_REQUIRED", message: expect.stringContaining("--insecure") });
    expect(reg.log).toEqual([]);
  });
});
