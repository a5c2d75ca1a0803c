import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { replaceDirAtomic, writeFileAtomic } from "./fs-atomic.js";

const ROOT = mkdtempSync(join(tmpdir(), "wfn-atomic-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("replaces the file whole, and a write that fails midway leaves neither a half file nor a temp file", async () => {
    const dir = mkdtempSync(join(ROOT, "w-"));
    const path = join(dir, "config.json");
    writeFileSync(path, "old");
    await writeFileAtomic(path, "new", 0o600);
    expect(readFileSync(path, "utf8")).toBe("new");
    // Data the file handle cannot write makes writeFile throw after the temp file was created.
    await expect(writeFileAtomic(path, 42 as unknown as string)).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(["config.json"]);
    expect(readFileSync(path, "utf8")).toBe("new");
  });
});

describe("replaceDirAtomic", () => {
  it("leaves the old folder and no temp folder when filling fails", async () => {
    const parent = mkdtempSync(join(ROOT, "d-"));
    const dir = join(parent, "layout");
    mkdirSync(dir);
    writeFileSync(join(dir, "keep"), "x");
    await expect(replaceDirAtomic(dir, async (tmp) => { writeFileSync(join(tmp, "half"), "y"); throw new Error("disk full"); })).rejects.toThrow("disk full");
    expect(readdirSync(parent)).toEqual(["layout"]);
    expect(readdirSync(dir)).toEqual(["keep"]);
  });
});
