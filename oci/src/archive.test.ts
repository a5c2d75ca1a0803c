import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tarStream from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { extractOciArchive, safeEntryPath } from "./archive.js";
import { writeImageLayout } from "./layout.js";

const ROOT = mkdtempSync(join(tmpdir(), "wfn-archive-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

type Raw = { name: string; type?: "file" | "directory" | "symlink" | "link" | "character-device" | "fifo"; linkname?: string; data?: string };

/** Builds a tar with tar-stream (not our writer), so hostile names reach the reader unchanged. */
async function rawTar(entries: Raw[]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const e of entries) {
    const data = Buffer.from(e.data ?? "");
    pack.entry({ name: e.name, type: e.type ?? "file", linkname: e.linkname, size: e.type && e.type !== "file" ? 0 : data.length, mode: 0o644 }, e.type && e.type !== "file" ? undefined : data);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const layoutFiles: Raw[] = [
  { name: "oci-layout", data: '{"imageLayoutVersion":"1.0.0"}' },
  { name: "index.json", data: '{"schemaVersion":2,"manifests":[]}' },
];

/** A sandbox: <root>/outside is where an escape would land; <root>/a/b/target is the destination. */
function sandbox(): { root: string; dest: string; tar: string } {
  const root = mkdtempSync(join(ROOT, "case-"));
  mkdirSync(join(root, "a", "b"), { recursive: true });
  return { root, dest: join(root, "a", "b", "target"), tar: join(root, "x.tar") };
}

function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

describe("extractOciArchive refuses archives that would write outside the target", () => {
  const cases: [string, Raw[], RegExp][] = [
    ["a '..' entry", [...layoutFiles, { name: "../../outside", data: "pwned" }], /'\.\.'/],
    ["a '..' in the middle", [...layoutFiles, { name: "blobs/../../../outside", data: "pwned" }], /'\.\.'/],
    ["an absolute path", [...layoutFiles, { name: "/tmp/wfn-outside-abs", data: "pwned" }], /absolute/],
    ["a symlink leaving the folder, then a write through it", [...layoutFiles, { name: "blobs", type: "symlink", linkname: "../../.." }, { name: "blobs/outside", data: "pwned" }], /symbolic link .*outside/],
    ["an absolute symlink", [...layoutFiles, { name: "evil", type: "symlink", linkname: "/etc/passwd" }], /symbolic link/],
    ["a hard link to a file outside", [...layoutFiles, { name: "evil", type: "link", linkname: "../../../outside" }], /hard link/],
    ["a hard link to /etc/passwd", [...layoutFiles, { name: "evil", type: "link", linkname: "/etc/passwd" }], /hard link/],
    ["a device file", [...layoutFiles, { name: "dev", type: "character-device" }], /character-device/],
    ["a fifo", [...layoutFiles, { name: "fifo", type: "fifo" }], /fifo/],
    ["a backslash path", [...layoutFiles, { name: "..\\..\\outside", data: "x" }], /backslash/],
  ];

  it.each(cases)("%s", async (_what, entries, why) => {
    const { root, dest, tar } = sandbox();
    const before = listTree(root);
    await writeFile(tar, await rawTar(entries));
    const err = await extractOciArchive(tar, dest).then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: "WFN_OCI_ARCHIVE_UNSAFE" });
    expect(String((err as Error).message)).toMatch(why);
    expect(existsSync(dest)).toBe(false);
    expect(listTree(root)).toEqual([...before, "x.tar"].sort());
    expect(existsSync("/tmp/wfn-outside-abs")).toBe(false);
  });
});

describe("extractOciArchive", () => {
  it("unpacks a real oci-archive and keeps in-archive hard links", async () => {
    const { root, dest } = sandbox();
    const tarPath = join(root, "img.tar");
    await writeImageLayout({ name: "hello", version: "1.0.0", wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), format: "image", metadata: {} }, join(root, "layout"), { tarPath });
    const res = await extractOciArchive(tarPath, dest);
    expect(res.files).toBe(5);
    expect((await readdir(join(dest, "blobs", "sha256"))).length).toBe(3);

    const linked = join(root, "linked.tar");
    await writeFile(linked, await rawTar([...layoutFiles, { name: "./blobs/a", data: "same" }, { name: "blobs/b", type: "link", linkname: "blobs/a" }]));
    const out = join(root, "linked");
    await extractOciArchive(linked, out);
    expect(readdirSync(join(out, "blobs")).sort()).toEqual(["a", "b"]);
  });

  it("refuses a tar that is not an OCI layout, and a non-empty target, writing nothing", async () => {
    const { root, dest, tar } = sandbox();
    await writeFile(tar, await rawTar([{ name: "hello.txt", data: "hi" }]));
    await expect(extractOciArchive(tar, dest)).rejects.toMatchObject({ code: "WFN_OCI_ARCHIVE_INVALID" });
    expect(existsSync(dest)).toBe(false);
    mkdirSync(dest);
    writeFileSync(join(dest, "keep"), "mine");
    await writeFile(tar, await rawTar(layoutFiles));
    await expect(extractOciArchive(tar, dest)).rejects.toThrow(/not empty/);
    expect(readdirSync(dest)).toEqual(["keep"]);
  });

  it("refuses a file/folder clash and leaves an empty target empty", async () => {
    const { tar, dest } = sandbox();
    mkdirSync(dest);
    await writeFile(tar, await rawTar([...layoutFiles, { name: "blobs", data: "file" }, { name: "blobs/x", data: "y" }]));
    await expect(extractOciArchive(tar, dest)).rejects.toMatchObject({ code: "WFN_OCI_ARCHIVE_INVALID" });
    expect(readdirSync(dest)).toEqual([]);
  });

  it("safeEntryPath normalises harmless spellings", () => {
    expect(safeEntryPath("./blobs//sha256/./x")).toBe("blobs/sha256/x");
    expect(safeEntryPath("./")).toBeNull();
  });
});
