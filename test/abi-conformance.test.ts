import { afterAll, beforeAll, expect } from "vitest";
import { abiConformance } from "./conformance/abi-v1.case.js";
import { cli, serve, type Served } from "./harness/cli.js";

let shim: Served;
beforeAll(async () => {
  const b = await cli(["build", "test/fixtures/abi-probe", "--no-image"]);
  expect(b.code, b.stderr).toBe(0);
  shim = await serve(["test/fixtures/abi-probe"]);
});
afterAll(async () => { await shim?.stop(); });

// The shim with no capability backends: every capability must fail with NOT_CONFIGURED, never silently.
abiConformance("runtime-shim, no backends", () => ({ url: `${shim.url}/default/abi-probe`, stateBackend: false }));
