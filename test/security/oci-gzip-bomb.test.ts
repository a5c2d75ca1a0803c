// Attack: an image whose small gzip layer inflates to gigabytes (516 KB -> 2.1 GB once) fills RAM
// and the cache when pulled or run. A layer may inflate to at most 64 MiB (a function image holds
// a few hundred KiB); past that the image is refused with a sentence and nothing is stored.
import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadLayoutToCache, writeImageLayout } from "@wasm-fn/oci";

describe("a gzip bomb in a layer", () => {
  it("is refused past 64 MiB inflated, and nothing is cached", async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), "wfn-bomb-"));
    const wasm = Buffer.alloc(100 * 1024 * 1024);
    wasm.set([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    const layout = path.join(work, "oci");
    await writeImageLayout({ name: "bomb", version: "0.1.0", wasm, format: "image", metadata: { name: "bomb" } }, layout);
    const blobs = path.join(layout, "blobs", "sha256");
    const layer = readdirSync(blobs).map((f) => statSync(path.join(blobs, f)).size).sort((a, b) => b - a)[0]!;
    expect(layer).toBeLessThan(1024 * 1024); // ~100 KiB of gzip for 100 MiB
    const cache = path.join(work, "cache");
    await expect(loadLayoutToCache(layout, { cacheDir: cache })).rejects.toMatchObject({
      code: "WFN_OCI_IMAGE_INVALID",
      message: expect.stringMatching(/inflates past 64 MiB .*refused, nothing was stored/),
    });
    expect(existsSync(path.join(cache, "images")) ? readdirSync(path.join(cache, "images")) : []).toEqual([]);
  }, 60_000);
});
