import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readTar, writeTar, type TarEntry } from "./tar.js";

const ROOT = mkdtempSync(join(tmpdir(), "wfn-tar-"));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

async function all(src: Uint8Array): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of readTar(src)) out.push(e);
  return out;
}

const longName = "blobs/sha256/" + "d".repeat(64) + "/" + "n".repeat(90);

describe("writeTar", () => {
  const entries = [
    { name: "z.wasm", type: "file" as const, data: Buffer.from("\0asm\x01\0\0\0"), mode: 0o755 },
    { name: "blobs", type: "directory" as const },
    { name: "a.json", type: "file" as const, data: Buffer.from("{}") },
    { name: longName, type: "file" as const, data: Buffer.alloc(700, 7) },
  ];

  it("is byte-identical whatever the input order, and sorted", async () => {
    const a = writeTar(entries);
    const b = writeTar([...entries].reverse());
    expect(a.equals(b)).toBe(true);
    expect((await all(a)).map((e) => e.name)).toEqual(["a.json", "blobs/", longName, "z.wasm"]);
  });

  it("leaks no owner or time: GNU tar lists uid/gid 0, no names, the given mtime", () => {
    const dir = mkdtempSync(join(ROOT, "t-"));
    writeFileSync(join(dir, "x.tar"), writeTar(entries, 1_700_000_000));
    const listing = execFileSync("tar", ["--numeric-owner", "--full-time", "-tvf", join(dir, "x.tar")], { env: { ...process.env, TZ: "UTC" } }).toString();
    expect(listing).toContain("-rwxr-xr-x 0/0               8 2023-11-14 22:13:20 z.wasm");
    expect(listing).toContain(longName);
    expect(listing.split("\n").filter(Boolean)).toHaveLength(4);
    const verbose = execFileSync("tar", ["-tvf", join(dir, "x.tar")]).toString();
    expect(verbose).not.toMatch(/root|nobody/);
  });

  it("round-trips content and modes through readTar", async () => {
    const back = await all(writeTar(entries));
    const wasm = back.find((e) => e.name === "z.wasm")!;
    expect(wasm.mode).toBe(0o755);
    expect(wasm.data.equals(entries[0]!.data)).toBe(true);
    expect(back.find((e) => e.name === longName)!.data.equals(Buffer.alloc(700, 7))).toBe(true);
  });

  it("reads archives written by GNU tar", async () => {
    const dir = mkdtempSync(join(ROOT, "t-"));
    writeFileSync(join(dir, "f.txt"), "hi");
    const tar = execFileSync("tar", ["-C", dir, "-cf", "-", "f.txt"]);
    expect((await all(tar)).map((e) => [e.name, e.data.toString()])).toEqual([["f.txt", "hi"]]);
  });
});

describe("readTar fuzz", () => {
  const valid = writeTar([
    { name: "oci-layout", type: "file", data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') },
    { name: "index.json", type: "file", data: Buffer.from("{}") },
    { name: "blobs/sha256/abc", type: "file", data: randomBytes(900) },
  ]);

  it("either reads a mutated or truncated archive or refuses it with WFN_OCI_ARCHIVE_INVALID", async () => {
    let refused = 0;
    for (let i = 0; i < 600; i++) {
      const buf = Buffer.from(valid);
      if (i % 3 === 0) {
        for (let j = 0; j < 1 + (i % 7); j++) buf[randomBytes(2).readUInt16BE() % buf.length] = randomBytes(1)[0]!;
      }
      const cut = i % 3 === 1 ? buf.subarray(0, randomBytes(2).readUInt16BE() % buf.length) : buf;
      const input = i % 3 === 2 ? randomBytes(i * 7) : cut;
      try {
        for (const e of await all(input)) expect(typeof e.name).toBe("string");
      } catch (e) {
        expect((e as { code?: string }).code).toBe("WFN_OCI_ARCHIVE_INVALID");
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(100);
  });

  it("refuses content over the size limit", async () => {
    const big = writeTar([{ name: "x", type: "file", data: Buffer.alloc(5000) }]);
    await expect(async () => { for await (const _ of readTar(big, 1000)) void _; }).rejects.toMatchObject({ code: "WFN_OCI_ARCHIVE_INVALID" });
  });
});
