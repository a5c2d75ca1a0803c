/**
 * Registry client against a tiny in-memory distribution server on port 0: the status codes,
 * bearer flow, chunked and cut-off uploads and tampering that a real registry will not produce
 * on demand. Round trips against the real docker-registry live in test/oci-registry.test.ts.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { writeImageLayout } from "../layout.js";
import { pullToCache } from "../pull.js";
import { pushLayout } from "../push.js";
import { RegistryClient } from "./client.js";
import { FAST, fakeRegistry, type Hook } from "./fake-registry.fixture.js";

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

describe("upload sessions", () => {
  it("uploads into the session a registry opens when it declines a mount, resolving a relative Location", async () => {
    const reg = await start();
    await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    for (const k of [...reg.blobs.keys()]) if (k.startsWith("a@")) reg.blobs.delete(k); // the mount source is gone
    const events: string[] = [];
    await pushLayout(layout, `${reg.host}/b:1`, { insecure: true, cacheDir, client: FAST, onEvent: (e) => events.push(e.action) });
    expect(events).toEqual(["uploading", "uploaded", "uploading", "uploaded"]);
    expect(reg.log.filter((l) => l.startsWith("POST /v2/b/")).every((l) => l.includes("mount="))).toBe(true); // no extra session opened
  });

  it("starts a fresh session after a 5xx on a chunk the registry may have applied, instead of resending it", async () => {
    let failed = false;
    const reg = await start({
      hook: (req, res) => {
        if (req.method !== "PATCH" || failed) return;
        failed = true; // let the fake store the chunk, then answer 500 as a failing proxy would
        const writeHead = res.writeHead.bind(res);
        res.writeHead = (() => writeHead(500)) as unknown as typeof res.writeHead;
      },
    });
    await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: { ...FAST, chunkSize: 100 } });
    expect(reg.log.filter((l) => l.startsWith("POST")).length).toBe(3); // config, config again, layer
    expect(reg.log.filter((l) => l.startsWith("PATCH")).length).toBe(1 + [...reg.blobs.values()].reduce((n, b) => n + Math.ceil(b.length / 100), 0));
  });

  it("refuses a chunk size that would never finish an upload", () => {
    const code = (f: () => unknown): unknown => { try { f(); return undefined; } catch (e) { return (e as { code?: string }).code; } };
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(code(() => new RegistryClient("x.io", { chunkSize: bad }))).toBe("WFN_OCI_CONFIG_INVALID");
    process.env.WASM_FN_OCI_CHUNK_SIZE = "-5";
    try {
      expect(() => new RegistryClient("x.io")).toThrow(/WASM_FN_OCI_CHUNK_SIZE/);
    } finally {
      delete process.env.WASM_FN_OCI_CHUNK_SIZE;
    }
  });

  it("refuses a finished upload the registry stored under another digest", async () => {
    const reg = await start({
      hook: (req, res) => {
        if (req.method !== "PUT" || !req.url!.includes("/uploads/")) return;
        const writeHead = res.writeHead.bind(res);
        res.writeHead = ((s: number) => writeHead(s, { "docker-content-digest": "sha256:" + "0".repeat(64) })) as unknown as typeof res.writeHead;
      },
    });
    await expect(pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST })).rejects.toMatchObject({ code: "WFN_OCI_DIGEST_MISMATCH" });
    expect(reg.manifests.size).toBe(0);
  });
});

describe("downloads", () => {
  it("retries a blob download cut off midway; when it keeps being cut, fails with a code and caches nothing", async () => {
    let cuts = 1;
    const reg = await start({
      hook: (req, res) => {
        if (req.method !== "GET" || !/\/blobs\/sha256:/.test(req.url!) || cuts-- <= 0) return;
        res.writeHead(200, { "content-length": "5000" });
        res.write(Buffer.alloc(10));
        setTimeout(() => req.socket.destroy(), 10);
        return true;
      },
    });
    await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    const pulled = await pullToCache(`${reg.host}/a:1`, { insecure: true, cacheDir: join(work, "c1"), client: FAST });
    expect(pulled.manifestDigest).toMatch(/^sha256:/);
    cuts = Infinity;
    const fresh = join(work, "c2");
    await expect(pullToCache(`${reg.host}/a:1`, { insecure: true, cacheDir: fresh, client: FAST })).rejects.toMatchObject({ code: "WFN_REGISTRY_UNREACHABLE", message: expect.stringContaining("cut off") });
    expect(existsSync(join(fresh, "images"))).toBe(false);
  });

  it("refuses descriptors without a size or with a malformed digest before downloading anything", async () => {
    const reg = await start();
    await pushLayout(layout, `${reg.host}/a:1`, { insecure: true, cacheDir, client: FAST });
    const base = JSON.parse(reg.manifests.get("a:1")!.body.toString()) as { layers: Record<string, unknown>[] };
    const variants: [string, (l: Record<string, unknown>) => void, RegExp][] = [
      ["nosize", (l) => { delete l.size; }, /size/],
      ["hugesize", (l) => { l.size = 2 ** 40; }, /size/],
      ["baddigest", (l) => { l.digest = "sha256:../../../v2/other"; }, /digest/],
    ];
    for (const [tag, change, why] of variants) {
      const m = structuredClone(base);
      change(m.layers[0]!);
      reg.manifests.set(`a:${tag}`, { body: Buffer.from(JSON.stringify(m)), type: "application/vnd.oci.image.manifest.v1+json" });
      const n = reg.log.length;
      await expect(pullToCache(`${reg.host}/a:${tag}`, { insecure: true, cacheDir, client: FAST })).rejects.toMatchObject({ code: "WFN_OCI_IMAGE_INVALID", message: expect.stringMatching(why) });
      expect(reg.log.slice(n).filter((l) => l.includes("/blobs/"))).toEqual([]);
    }
  });
});

describe("TLS: credentials stay on the registry's own HTTPS origin", () => {
  let tls: { key: string; cert: string };
  let saved: Dispatcher;
  beforeAll(() => {
    const dir = mkdtempSync(join(ROOT, "tls-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k"), "-out", join(dir, "c"), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], { stdio: "ignore" });
    tls = { key: readFileSync(join(dir, "k"), "utf8"), cert: readFileSync(join(dir, "c"), "utf8") };
    saved = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connect: { ca: tls.cert } })); // trust the test CA without --insecure
  });
  afterAll(() => setGlobalDispatcher(saved));

  /** A plain-HTTP server that records every request (and whether it carried credentials). */
  async function trap(): Promise<{ url: string; seen: string[] }> {
    const seen: string[] = [];
    const server = createServer((req, res) => { seen.push(`${req.method} ${req.url} auth=${req.headers.authorization ?? ""}`); res.writeHead(201).end(); });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push({ close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  it("refuses an upload Location on plain HTTP without --insecure, sending nothing there", async () => {
    const t = await trap();
    const reg = await start({
      tls, auth: "basic",
      hook: (req, res) => {
        if (req.method === "POST" && req.url!.includes("/blobs/uploads/")) { res.writeHead(202, { location: `${t.url}/v2/a/blobs/uploads/1?_state=s` }).end(); return true; }
      },
    });
    storeLogin(reg.host);
    const err = await pushLayout(layout, `${reg.host}/a:1`, { cacheDir, client: FAST }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "WFN_REGISTRY_INSECURE_REQUIRED" });
    expect(t.seen).toEqual([]);
  });

  it("follows a blob redirect to another origin without our Authorization, and refuses one to plain HTTP", async () => {
    const t = await trap();
    let reg: Awaited<ReturnType<typeof start>> | undefined;
    let target = "";
    const foreign: string[] = [];
    reg = await start({
      tls, auth: "basic",
      hook: (req, res) => {
        const blob = /^\/v2\/a\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url!)?.[1];
        if (req.method !== "GET" || !blob) return;
        if (req.headers.host?.startsWith("localhost")) {
          foreign.push(req.headers.authorization ?? "");
          res.writeHead(200).end(reg!.blobs.get(`a@${blob}`));
          return true;
        }
        res.writeHead(307, { location: `${target}${req.url}` }).end();
        return true;
      },
    });
    storeLogin(reg.host);
    await pushLayout(layout, `${reg.host}/a:1`, { cacheDir, client: FAST });
    target = `https://localhost:${reg.host.split(":")[1]}`;
    await pullToCache(`${reg.host}/a:1`, { cacheDir: join(work, "c1"), client: FAST });
    expect(foreign.length).toBe(2);
    expect(foreign.every((a) => a === "")).toBe(true);
    target = t.url;
    await expect(pullToCache(`${reg.host}/a:1`, { cacheDir: join(work, "c2"), client: FAST })).rejects.toMatchObject({ code: "WFN_REGISTRY_INSECURE_REQUIRED" });
    expect(t.seen).toEqual([]);
  });
});
