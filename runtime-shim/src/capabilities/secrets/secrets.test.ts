import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decodeList, encodeList, encodeMap, ErrorCode, Op, text } from "@wasm-fn/abi";
import { EmbeddedBackend } from "../../backends/embedded/index.js";
import type { CallContext } from "../index.js";
import { secretsCapability } from "./index.js";

const ctx = { fn: { name: "t", namespace: "default", appId: "t", permissions: { hosts: [], states: ["s"], publish: ["ps/*"], bindings: ["out", "nope"], secrets: ["vault"], configuration: ["cfg"] } } } as unknown as CallContext;

describe("secrets capability", () => {
  it("reads a local.file secret store, nested keys joined with the separator", () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "wfn-sec-")), "s.json");
    writeFileSync(file, JSON.stringify({ db: { user: "u", pass: "p" }, token: "t" }));
    const cap = secretsCapability(new EmbeddedBackend({ components: [{ name: "vault", type: "secretstores.local.file", metadata: { secretsFile: file } }] }));
    const get = (key: string) => decodeList(cap.handle(Op.SECRET_GET, encodeList(["vault", key, encodeMap({})]), ctx) as Uint8Array).map((b) => text(b));
    expect(get("db:pass")).toEqual(["db:pass", "p"]);
    expect(get("token")).toEqual(["token", "t"]);
    expect(() => get("nope")).toThrow(expect.objectContaining({ code: ErrorCode.NOT_FOUND }));
  });

  it("an unknown store is NOT_CONFIGURED with the component to add", () => {
    const cap = secretsCapability(new EmbeddedBackend());
    expect(() => cap.handle(Op.SECRET_GET, encodeList(["vault", "k", encodeMap({})]), ctx)).toThrow(/secret store 'vault' is not configured: add a component/);
  });
});
