import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { abiConformance } from "./conformance/abi-v1.case.js";
import { cli, serve, type Served } from "./harness/cli.js";

let shim: Served;
beforeAll(async () => {
  for (const probe of ["test/fixtures/abi-probe", "test/fixtures/abi-probe-c"]) {
    const b = await cli(["build", probe, "--no-image"]);
    expect(b.code, b.stderr).toBe(0);
  }
  // `wasm-fn run` serves capabilities with the embedded backend (state in --state-file).
  shim = await serve(["test/fixtures/abi-probe", "test/fixtures/abi-probe-c"], ["--state-file", path.join(mkdtempSync(path.join(os.tmpdir(), "wfn-abi-")), "state.json")]);
});
afterAll(async () => { await shim?.stop(); });

// The shim as `wasm-fn run` starts it: the embedded backend serves state.
abiConformance("runtime-shim, embedded backend", () => ({ url: `${shim.url}/default/abi-probe`, stateBackend: true }));
// The same cases against a guest written in C with packages/sdk/include/wasm_fn.h.
abiConformance("runtime-shim, embedded backend, C guest", () => ({ url: `${shim.url}/default/abi-probe-c`, stateBackend: true, fn: "abi-probe-c" }));
