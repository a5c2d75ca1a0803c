import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeList, encodeList, ErrorCode, Op, text } from "@wasm-fn/abi";
import type { CallContext } from "../index.js";
import { hostAllowed, httpCapability } from "./index.js";

const ctxFor = (hosts: string[]) => ({ fn: { name: "f", namespace: "default", appId: "f", permissions: { hosts } } }) as unknown as CallContext;
let srv: Server;
let port: number;

beforeAll(async () => {
  srv = createServer((req, res) => {
    if (req.url === "/slow") return; // never answers
    if (req.url === "/big") { res.end(Buffer.alloc(4096)); return; }
    if (req.url === "/redirect") { res.writeHead(302, { location: "http://denied.example/" }); res.end(); return; }
    let b = "";
    req.on("data", (c) => (b += c));
    req.on("end", () => { res.setHeader("x-echo", String(req.headers["x-in"])); res.setHeader("x-host", String(req.headers.host)); res.end(`${req.method} ${b}`); });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  port = (srv.address() as AddressInfo).port;
});
afterAll(() => { srv.closeAllConnections(); srv.close(); });

describe("http capability (deny by default)", () => {
  it("matches hosts, ports and wildcards", () => {
    const u = (s: string) => new URL(s);
    expect(hostAllowed(u("https://api.example.com/x"), ["api.example.com"])).toBe(true);
    expect(hostAllowed(u("https://api.example.com:8443/x"), ["api.example.com:443"])).toBe(false);
    expect(hostAllowed(u("https://api.example.com/x"), ["api.example.com:443"])).toBe(true);
    expect(hostAllowed(u("https://a.b.example.com/"), ["*.example.com"])).toBe(true);
    expect(hostAllowed(u("https://example.com/"), ["*.example.com"])).toBe(false);
    expect(hostAllowed(u("https://evil-example.com/"), ["*.example.com"])).toBe(false);
    expect(hostAllowed(u("http://[::1]:80/"), ["[::1]"])).toBe(true);
    expect(hostAllowed(u("https://anything.test/"), ["*"])).toBe(true);
    expect(hostAllowed(u("https://anything.test/"), [])).toBe(false);
    // an entry without a port grants 80 and 443 only
    expect(hostAllowed(u("http://api.example.com:8080/"), ["api.example.com"])).toBe(false);
    expect(hostAllowed(u("http://api.example.com:8080/"), ["api.example.com:*"])).toBe(true);
    expect(hostAllowed(u("http://api.example.com:8080/"), ["*"])).toBe(false);
  });

  it("denies a host not granted, naming it and the config key", () => {
    const cap = httpCapability();
    expect(() => cap.handle(Op.HTTP_FETCH, encodeList(["GET", `http://localhost:${port}/`, "", ""]), ctxFor(["127.0.0.1"])))
      .toThrow(expect.objectContaining({ code: ErrorCode.DENIED, message: expect.stringMatching(new RegExp(`localhost:${port}.*permissions\\.hosts`)) }));
  });

  it("fetches from a granted host: status, headers, body", async () => {
    const r = decodeList(await httpCapability().handle(Op.HTTP_FETCH, encodeList(["POST", `http://127.0.0.1:${port}/echo`, "x-in: 42\n", "hello"]), ctxFor([`127.0.0.1:${port}`])));
    expect(text(r[0])).toBe("200");
    expect(text(r[1])).toContain("x-echo: 42");
    expect(text(r[2])).toBe("POST hello");
  });

  it("ignores a guest's Host header (no reaching another virtual host behind an allowed address)", async () => {
    const r = decodeList(await httpCapability().handle(Op.HTTP_FETCH, encodeList(["GET", `http://127.0.0.1:${port}/echo`, "Host: admin.internal\n", ""]), ctxFor([`127.0.0.1:${port}`])));
    expect(text(r[1])).toContain(`x-host: 127.0.0.1:${port}`);
  });

  it("a malformed method or header is INVALID_ARGUMENT, not UNAVAILABLE", async () => {
    const ctx = ctxFor([`127.0.0.1:${port}`]);
    await expect(httpCapability().handle(Op.HTTP_FETCH, encodeList(["GE T", `http://127.0.0.1:${port}/echo`, "", ""]), ctx)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(httpCapability().handle(Op.HTTP_FETCH, encodeList(["GET", `http://127.0.0.1:${port}/echo`, "transfer-encoding: chunked\n", ""]), ctx)).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });

  it("does not follow redirects (an allowed host cannot bounce a guest elsewhere)", async () => {
    const r = decodeList(await httpCapability().handle(Op.HTTP_FETCH, encodeList(["GET", `http://127.0.0.1:${port}/redirect`, "", ""]), ctxFor([`127.0.0.1:${port}`])));
    expect(text(r[0])).toBe("302");
  });

  it("times out, caps the body, and refuses other schemes", async () => {
    const ctx = ctxFor([`127.0.0.1:${port}`]);
    await expect(httpCapability({ timeoutMs: 200 }).handle(Op.HTTP_FETCH, encodeList(["GET", `http://127.0.0.1:${port}/slow`, "", ""]), ctx)).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    await expect(httpCapability({ maxResponseBytes: 1024 }).handle(Op.HTTP_FETCH, encodeList(["GET", `http://127.0.0.1:${port}/big`, "", ""]), ctx)).rejects.toMatchObject({ code: ErrorCode.TOO_LARGE });
    expect(() => httpCapability().handle(Op.HTTP_FETCH, encodeList(["GET", "file:///etc/passwd", "", ""]), ctx)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
  });
});
