import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspectImage } from "./inspect.js";
import { writeImageLayout } from "./layout.js";
import { loadLayoutToCache } from "./pull.js";
import { replaceDirAtomic } from "./fs-atomic.js";

const ROOT = mkdtempSync(join(tmpdir(), "wfn-cache-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));
const WASM = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 2, 3]);

describe("the pull cache", () => {
  it("lets concurrent pulls of one image all succeed, with one copy and no temp folders left", async () => {
    const root = mkdtempSync(join(ROOT, "race-"));
    const layout = join(root, "oci");
    await writeImageLayout({ name: "hello", version: "0.1.0", wasm: WASM, format: "image", metadata: {} }, layout);
    const cacheDir = join(root, "cache");
    const all = await Promise.all(Array.from({ length: 6 }, () => loadLayoutToCache(layout, { cacheDir })));
    expect(new Set(all.map((r) => r.wasmPath)).size).toBe(1);
    expect(readdirSync(join(cacheDir, "images"))).toEqual([all[0]!.manifestDigest.slice(7)]);
  });

  it("concurrent swaps of one folder all succeed, whatever order their moves interleave in (found under load: ENOENT)", async () => {
    const root = mkdtempSync(join(ROOT, "swap-"));
    const dir = join(root, "images", "x");
    for (let round = 0; round < 20; round++) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => replaceDirAtomic(dir, async (tmp) => writeFileSync(join(tmp, "who"), String(i)))));
      expect(readdirSync(join(root, "images"))).toEqual(["x"]);
      expect(Number(readFileSync(join(dir, "who"), "utf8"))).toBeGreaterThanOrEqual(0);
    }
  });

  it("pulls again when the cached module was changed on disk", async () => {
    const root = mkdtempSync(join(ROOT, "edit-"));
    await writeImageLayout({ name: "hello", version: "0.1.0", wasm: WASM, format: "artifact", metadata: {} }, join(root, "oci"));
    const cacheDir = join(root, "cache");
    const first = await loadLayoutToCache(join(root, "oci"), { cacheDir });
    writeFileSync(first.wasmPath, "tampered");
    const again = await loadLayoutToCache(join(root, "oci"), { cacheDir });
    expect(readFileSync(again.wasmPath).equals(Buffer.from(WASM))).toBe(true);
  });
});

describe("inspect", () => {
  it("says a missing path is missing, instead of calling it an invalid image reference", async () => {
    for (const target of ["./no/such/layout", join(ROOT, "nope"), "nope.oci.tar"]) {
      await expect(inspectImage(target)).rejects.toMatchObject({ code: "WFN_OCI_LAYOUT_INVALID", message: expect.stringContaining("check the path") });
    }
  });
});
