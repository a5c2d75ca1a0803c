import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, serve } from "./harness/cli.js";
import { startRegistry, type RegistryHandle } from "./harness/registry.js";

// The new user's path of issue 3: build hello, push it to a registry, pull it on a clean cache, run it.
describe("build -> push -> run <ref> from a clean cache", () => {
  let reg: RegistryHandle;
  beforeAll(async () => { reg = await startRegistry(); });
  afterAll(async () => { await reg?.stop(); });

  it("serves the pulled image with the routes and limits it was built with, and reuses the cache", async () => {
    const build = await cli(["build", "examples/hello"]);
    expect(build.code, build.stderr).toBe(0);
    const ref = `${reg.host}/wasm-fn/hello:0.1.0`;
    const push = await cli(["--json", "push", ref, "examples/hello", "--insecure"]);
    expect(push.code, push.stderr).toBe(0);
    const pushed = JSON.parse(push.stdout) as { digest: string };
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const cache = await mkdtemp(path.join(os.tmpdir(), "wfn-cache-"));
    const env = { WASM_FN_CACHE: cache };
    const shim = await serve([ref, "--insecure"], [], { env });
    try {
      const r = await fetch(`${shim.url}/default/hello?name=registry`);
      expect(await r.text()).toBe("hello, registry\n");
      // The custom route from wasm-fn.yaml came along in the image metadata.
      expect(await (await fetch(`${shim.url}/hello`)).text()).toBe("hello, world\n");
    } finally {
      expect(await shim.stop()).toBe(0);
    }
    // Second run: the registry is gone, a digest reference is served from the cache alone.
    await reg.stop();
    const again = await serve([`${reg.host}/wasm-fn/hello@${pushed.digest}`, "--insecure"], [], { env });
    try {
      expect(await (await fetch(`${again.url}/default/hello`)).text()).toBe("hello, world\n");
    } finally {
      await again.stop();
    }
  });
});
