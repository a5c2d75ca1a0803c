// Attack: malformed requests to the admin API (bad percent-encoding, a module that is not Wasm, one
// that uses proposals the runtime does not instrument) answered 500 with a stack. Every one is a
// 4xx with a sentence, the old version keeps serving, and the shim stays up.
import { connect } from "node:net";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { ensureBuilt } from "../harness/services.js";

let shim: Served;
beforeAll(async () => {
  await ensureBuilt("examples/hello");
  shim = await serve(["examples/hello"], ["--no-access-log"]);
});
afterAll(async () => { await shim?.stop(); });

/** A raw request: fetch would refuse some of these paths itself. */
function raw(port: number, head: string, body: Buffer = Buffer.alloc(0)): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => { s.write(head); s.write(body); });
    let out = "";
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
    setTimeout(() => { s.destroy(); resolve(out); }, 10_000);
  });
}

function refTypesModule(): Buffer {
  const m = binaryen.parseText(`(module (table 1 externref) (memory (export "memory") 1)
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 0))
    (func (export "wfn_handle") (result i32) (drop (table.get 0 (i32.const 0))) (i32.const 0)))`);
  m.setFeatures(binaryen.Features.All);
  const b = Buffer.from(m.emitBinary());
  m.dispose();
  return b;
}

describe("the admin API answers bad input with a 4xx and a sentence", () => {
  it("malformed percent-encoding, garbage and unsupported modules", async () => {
    const port = Number(new URL(shim.url).port);
    const host = `Host: 127.0.0.1:${port}\r\nConnection: close\r\n`;
    const bad = await raw(port, `GET /admin/functions/default/%E0%A4%A HTTP/1.1\r\n${host}\r\n`);
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    expect(bad).toContain("malformed percent-encoding");
    const garbage = Buffer.from("#!/bin/sh\necho not wasm\n");
    const notWasm = await raw(port, `PUT /admin/functions/default/hello HTTP/1.1\r\n${host}Content-Length: ${garbage.length}\r\n\r\n`, garbage);
    expect(notWasm).toMatch(/^HTTP\/1\.1 400 /);
    expect(notWasm).toContain("WFN_NOT_WASM");
    const ref = refTypesModule();
    const unsupported = await raw(port, `PUT /admin/functions/default/hello HTTP/1.1\r\n${host}Content-Length: ${ref.length}\r\n\r\n`, ref);
    expect(unsupported).toMatch(/^HTTP\/1\.1 4\d\d /);
    for (const out of [bad, notWasm, unsupported]) expect(out).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/); // no stack trace
    // the old version still serves, the shim is up
    expect(await (await fetch(`${shim.url}/default/hello?name=still`)).text()).toBe("hello, still\n");
  });
});
