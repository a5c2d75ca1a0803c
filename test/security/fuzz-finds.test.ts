// What the fuzz pass (test/security/fuzz.test.ts) found, each kept as a plain test that failed
// before its fix: bad input reaches the admin API, the gateway and the loader as a 4xx with a
// sentence, and nothing grows with repeated uploads.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";

let shim: Served;
let work: string;

function wat(text: string): Buffer {
  const m = binaryen.parseText(text);
  const b = Buffer.from(m.emitBinary());
  m.dispose();
  return b;
}

const guest = (memory: string): Buffer => wat(`(module
  (import "wfn" "response_body" (func $body (param i32 i32)))
  (memory (export "memory") ${memory})
  (data (i32.const 16) "ok\\n")
  (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
  (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "wfn_handle") (result i32) (call $body (i32.const 16) (i32.const 3)) (i32.const 0)))`);

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), "wfn-fuzz-finds-"));
  await ensureBuilt("examples/hello");
  writeFileSync(path.join(work, "prey.wasm"), guest("1"));
  writeFileSync(path.join(work, "prey.json"), JSON.stringify({ config: { name: "prey", limits: { timeout: "1s" } } }));
  shim = await serve(["examples/hello", path.join(work, "prey.wasm")], ["--no-access-log"]);
});
afterAll(async () => {
  await shim?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function upload(module: Buffer): Promise<{ status: number; body: { error?: { code: string; message: string }; origin?: string } }> {
  const r = await fetch(`${shim.url}/admin/functions/default/prey`, { method: "PUT", body: module });
  return { status: r.status, body: (await r.json()) as { error?: { code: string; message: string }; origin?: string } };
}

describe("fuzz finds", () => {
  it("an uploaded module whose memory needs more pages than limits.memory is a 400, not a 500", async () => {
    const r = await upload(guest("2000"));
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ reason: "WFN_MEMORY_LIMIT", message: expect.stringMatching(/needs 2000 memory pages .* raise limits\.memory/) });
    expect(await (await fetch(`${shim.url}/default/prey`)).text()).toBe("ok\n"); // the old version serves
  });

  it("a module that traps while it starts (its start function, _initialize) is refused with a 400, not a 500", async () => {
    const start = (body: string): Buffer => wat(`(module
      (memory (export "memory") 1)
      ${body}
      (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
      (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "wfn_handle") (result i32) (i32.const 0)))`);
    for (const body of ['(func $s (unreachable)) (start $s)', '(func (export "_initialize") (unreachable))', '(func (export "_start") (drop (i32.load (i32.const 0x7ffffff0))))']) {
      const r = await upload(start(body));
      expect(r.status, `${body}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.error).toMatchObject({ reason: "WFN_TRAP", message: expect.stringMatching(/prey\.wasm.*(trapped|failed to start)/) });
    }
    expect(await (await fetch(`${shim.url}/default/prey`)).text()).toBe("ok\n");
  });

  it("a guest that answers 204 or 304 with an invalid header name gets a 500 with its JSON body, not a hang", async () => {
    for (const status of [204, 304]) {
      const r = await upload(wat(`(module
        (import "wfn" "response_status" (func $status (param i32)))
        (import "wfn" "response_header" (func $header (param i32 i32 i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "bad\\00name")
        (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
        (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
        (func (export "wfn_handle") (result i32)
          (call $status (i32.const ${status}))
          (call $header (i32.const 16) (i32.const 8) (i32.const 16) (i32.const 3))
          (i32.const 0)))`));
      expect(r.status).toBe(200);
      // Node kept the 204/304's "no body" after the bad header was refused: the 500 went out with a
      // content-length and no body, and the client waited for it until it gave up.
      const res = await fetch(`${shim.url}/default/prey`, { signal: AbortSignal.timeout(3_000) });
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ message: expect.stringMatching(/invalid response header/) });
    }
  });

  it("each upload labels the origin '(uploaded)' once: the label does not grow with every swap", async () => {
    let origin = "";
    for (let i = 0; i < 3; i++) {
      const r = await upload(guest("1"));
      expect(r.status).toBe(200);
      origin = r.body.origin ?? "";
    }
    expect(origin).toMatch(/prey\.wasm \(uploaded\)$/);
    expect(origin.match(/\(uploaded\)/g)).toHaveLength(1);
  });
});
