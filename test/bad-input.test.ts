import { connect } from "node:net";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, serve, type Served } from "./harness/cli.js";

/** A module written in WAT, as a file. `version` is what its wfn_abi_version returns. */
async function watModule(dir: string, name: string, opts: { version?: number; handle?: boolean; extraImport?: string }): Promise<string> {
  const wat = `(module
    (import "wfn" "response_status" (func $status (param i32)))
    ${opts.extraImport ?? ""}
    (memory (export "memory") 1)
    (func (export "wfn_abi_version") (result i32) (i32.const ${opts.version ?? 0x10000}))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    ${opts.handle === false ? "" : `(func (export "wfn_handle") (result i32) (call $status (i32.const 204)) (i32.const 0))`})`;
  const mod = binaryen.parseText(wat);
  const file = path.join(dir, `${name}.wasm`);
  await writeFile(file, mod.emitBinary());
  mod.dispose();
  return file;
}

/** Sends raw bytes on a new connection and returns what comes back. */
function raw(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.write(bytes));
    let out = "";
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    setTimeout(() => { s.destroy(); resolve(out); }, 3000);
  });
}

describe("bad input gets a clear error and the shim keeps serving", () => {
  let dir: string;
  let shim: Served;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "wfn-bad-"));
    for (const t of ["examples/hello", "test/fixtures/trap"]) {
      const r = await cli(["build", t, "--no-image"]);
      expect(r.code, r.stderr).toBe(0);
    }
    files.notWasm = path.join(dir, "notwasm.wasm");
    await writeFile(files.notWasm, "#!/bin/sh\necho this is a shell script\n");
    files.abi2 = await watModule(dir, "abi2", { version: 0x20003 });
    files.noHandle = await watModule(dir, "nohandle", { handle: false });
    files.badImport = await watModule(dir, "badimport", { extraImport: `(import "env" "open_socket" (func (param i32) (result i32)))` });
    files.good = await watModule(dir, "good", {});
    // Built elsewhere (no fuel checks): the host instruments it at load, so its timeout still holds.
    const spin = binaryen.parseText(`(module (import "wfn" "response_status" (func $s (param i32))) (memory (export "memory") 1)
      (func (export "wfn_abi_version") (result i32) (i32.const 0x10000)) (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "wfn_handle") (result i32) (loop $l (br $l)) (i32.const 0)))`);
    files.spin = path.join(dir, "spin.wasm");
    await writeFile(files.spin, spin.emitBinary());
    spin.dispose();
    await writeFile(path.join(dir, "spin.json"), JSON.stringify({ config: { name: "spin", limits: { timeout: "300ms" } } }));
    shim = await serve(["examples/hello", "test/fixtures/trap", files.notWasm, files.abi2, files.noHandle, files.badImport, files.good, files.spin]);
  });
  afterAll(async () => { await shim?.stop(); });

  async function stillServing(): Promise<void> {
    const r = await fetch(`${shim.url}/default/hello`);
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("hello, world\n");
  }

  it("serves the good functions, and reports each bad module with its reason", async () => {
    const failed = JSON.parse(shim.output().split("\n").find((l) => l.startsWith('{"url"'))!).failed as { source: string; code: string; message: string }[];
    const by = Object.fromEntries(failed.map((f) => [path.basename(f.source), f]));
    expect(Object.keys(by).sort()).toEqual(["abi2.wasm", "badimport.wasm", "nohandle.wasm", "notwasm.wasm"]);
    expect(by["notwasm.wasm"]).toMatchObject({ code: "WFN_NOT_WASM" });
    expect(by["notwasm.wasm"]!.message).toMatch(/is not a WebAssembly module \(it starts with '#!\/bin\/sh/);
    expect(by["abi2.wasm"]).toMatchObject({ code: "WFN_ABI_VERSION" });
    expect(by["abi2.wasm"]!.message).toMatch(/built for wasm-fn ABI v2\.3, but this host serves ABI v1\.0/);
    expect(by["nohandle.wasm"]).toMatchObject({ code: "WFN_ABI_EXPORT" });
    expect(by["nohandle.wasm"]!.message).toMatch(/does not export wfn_handle/);
    expect(by["badimport.wasm"]).toMatchObject({ code: "WFN_ABI_IMPORT" });
    expect(by["badimport.wasm"]!.message).toMatch(/env\.open_socket/);
    // stderr is another pipe than the address line's stdout: wait for it rather than race it.
    await shim.logged(/error WFN_NOT_WASM: .*notwasm\.wasm is not a WebAssembly module/);
    expect((await fetch(`${shim.url}/default/good`)).status).toBe(204);
    await stillServing();
  });

  it("a module built elsewhere with an endless loop is stopped at its timeout (504)", async () => {
    const r = await fetch(`${shim.url}/default/spin`);
    const body = (await r.json()) as { error: { code: string; reason: string; message: string } };
    expect(r.status, JSON.stringify(body)).toBe(504);
    expect(body.error).toMatchObject({ reason: "WFN_TIMEOUT", message: expect.stringMatching(/timeout of 300 ms/) });
    await stillServing();
  });

  it("a lone bad module stops `wasm-fn run` with the error and exit 1", async () => {
    const r = await cli(["run", files.abi2!, "--port", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error WFN_ABI_VERSION: .*ABI v2\.3.*serves ABI v1\.0; rebuild it/m);
  });

  it("a handler that traps gets 500 with the request id, and its instance is never reused", async () => {
    expect(await (await fetch(`${shim.url}/default/trap/count`)).text()).toBe("1");
    expect(await (await fetch(`${shim.url}/default/trap/count`)).text()).toBe("2");
    const r = await fetch(`${shim.url}/default/trap/boom`);
    expect(r.status).toBe(500);
    const id = r.headers.get("x-request-id");
    const body = (await r.json()) as { error: { code: string; reason: string; message: string; requestId: string } };
    expect(body.error.reason).toBe("WFN_TRAP");
    expect(body.error.message).toMatch(/trap trapped: unreachable/);
    expect(body.error.requestId).toBe(id);
    // The instance that counted 1, 2 then trapped is gone: the next one starts from 1.
    expect(await (await fetch(`${shim.url}/default/trap/count`)).text()).toBe("1");
    await stillServing();
  });

  it("a body over the function's limit gets 413", async () => {
    const r = await fetch(`${shim.url}/default/trap/count`, { method: "POST", body: "x".repeat(4096) });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { code: string; reason: string; message: string } }).error).toMatchObject({ reason: "WFN_BODY_TOO_LARGE", message: expect.stringMatching(/over this function's limit of 1024 bytes.*limits.requestBody/) });
    // Without Content-Length (chunked), the limit holds while streaming.
    const chunked = await raw(shim.url, `POST /default/trap/count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${"y".repeat(2048)}\r\n0\r\n\r\n`);
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    await stillServing();
  });

  it("a malformed request gets 400", async () => {
    const garbage = await raw(shim.url, "THIS IS NOT HTTP\r\n\r\n");
    expect(garbage).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(garbage).toMatch(/WFN_BAD_REQUEST/);
    const badLength = await raw(shim.url, "POST /default/hello HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n");
    expect(badLength).toMatch(/^HTTP\/1\.1 400 /);
    const badEscape = await fetch(`${shim.url}/default/hello/%E0%A4%A`);
    expect(badEscape.status).toBe(400);
    expect(((await badEscape.json()) as { error: { message: string } }).error.message).toMatch(/malformed percent-encoding/);
    const absolute = await raw(shim.url, "GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(absolute).toMatch(/^HTTP\/1\.1 400 /);
    await stillServing();
  });

  it("an unknown route gets 404 naming the routes", async () => {
    const r = await fetch(`${shim.url}/default/nope`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/no function serves \/default\/nope; routes here: \/default\/hello/);
  });
});
