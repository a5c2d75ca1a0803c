import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { OciErrorCode, ociError } from "./errors.js";
import { OciLimits } from "./limits.js";
import { readTar, type TarEntry } from "./tar.js";

const MAX_ENTRIES = 10_000;

function unsafe(tarPath: string, entry: string, why: string): Error {
  return ociError(
    OciErrorCode.ARCHIVE_UNSAFE,
    `${tarPath}: entry '${entry.slice(0, 200)}' ${why}; refusing the whole archive and writing nothing. Only use oci-archives from 'wasm-fn build --tar' or a tool you trust`,
    { status: 400 },
  );
}

/** The path an entry lands at inside the target, or an error if it would land anywhere else. */
export function safeEntryPath(name: string, tarPath = "archive"): string | null {
  if (name.includes("\0") || name.includes("\\")) throw unsafe(tarPath, name, "has a NUL or backslash in its name");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) throw unsafe(tarPath, name, "is an absolute path");
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw unsafe(tarPath, name, "uses '..' to climb out of the target folder");
  return parts.length === 0 ? null : parts.join("/");
}

/** A link target must resolve inside the archive; `from` is the link's own (safe) path. */
function linkStaysInside(from: string, target: string, hard: boolean): boolean {
  if (target.startsWith("/") || target.includes("\0")) return false;
  const resolved = hard ? posix.normalize(target) : posix.normalize(posix.join(posix.dirname(from), target));
  return !(resolved === ".." || resolved.startsWith("../"));
}

interface Planned { path: string; dir: boolean; data?: Buffer }

/** Reads and checks every entry before anything is written. */
async function plan(tarPath: string): Promise<Planned[]> {
  const planned = new Map<string, Planned>();
  let count = 0;
  // One image's blobs plus its JSON documents: an archive may not make us hold more than that.
  for await (const e of readTar(createReadStream(tarPath), OciLimits.imageBytes + 4 * OciLimits.manifestBytes)) {
    if (++count > MAX_ENTRIES) throw ociError(OciErrorCode.ARCHIVE_INVALID, `${tarPath}: more than ${MAX_ENTRIES} entries; not an OCI archive`);
    const path = safeEntryPath(e.name, tarPath);
    if (path === null) continue;
    planned.set(path, planEntry(tarPath, path, e, planned));
  }
  for (const p of planned.keys()) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = planned.get(parts.slice(0, i).join("/"));
      if (parent && !parent.dir) throw ociError(OciErrorCode.ARCHIVE_INVALID, `${tarPath}: '${p}' needs '${parent.path}' to be a folder, but the archive also has it as a file`);
    }
  }
  return [...planned.values()];
}

function planEntry(tarPath: string, path: string, e: TarEntry, planned: Map<string, Planned>): Planned {
  switch (e.type) {
    case "directory":
      return { path, dir: true };
    case "file":
    case "contiguous-file":
      return { path, dir: false, data: e.data };
    case "link": {
      // A hard link only repeats content already in the archive, so copy it.
      const target = e.linkname ?? "";
      if (!linkStaysInside(path, target, true)) throw unsafe(tarPath, e.name, `is a hard link to '${target}', outside the archive`);
      const src = planned.get(safeEntryPath(target, tarPath) ?? "");
      if (!src || src.dir) throw unsafe(tarPath, e.name, `is a hard link to '${target}', which is not an earlier file in the archive`);
      return { path, dir: false, data: src.data };
    }
    case "symlink": {
      // OCI layouts never need symlinks; following one while writing is how archives escape.
      const target = e.linkname ?? "";
      const where = linkStaysInside(path, target, false) ? "OCI archives hold only files and folders" : "it points outside the target folder";
      throw unsafe(tarPath, e.name, `is a symbolic link to '${target}' (${where})`);
    }
    default:
      throw unsafe(tarPath, e.name, `is a ${e.type} entry; OCI archives hold only files and folders`);
  }
}

/**
 * Unpacks an oci-archive tar into `destDir` (created; must be empty if it exists). Every entry is
 * checked first: `..`, absolute paths, links leaving the archive and device files are refused
 * (WFN_OCI_ARCHIVE_UNSAFE) and then nothing at all is written.
 * @example await extractOciArchive("dist/hello.oci.tar", "/tmp/hello-layout")
 */
export async function extractOciArchive(tarPath: string, destDir: string): Promise<{ files: number }> {
  const entries = await plan(tarPath);
  const existing = await readdir(destDir).catch(() => undefined);
  if (existing && existing.length > 0) throw ociError(OciErrorCode.ARCHIVE_INVALID, `${destDir} is not empty; extract the archive into a new folder`);
  if (!entries.some((e) => e.path === "oci-layout") || !entries.some((e) => e.path === "index.json")) {
    throw ociError(OciErrorCode.ARCHIVE_INVALID, `${tarPath} is a tar but not an oci-archive (no oci-layout or index.json at its root); build one with 'wasm-fn build --tar'`);
  }
  await mkdir(destDir, { recursive: true });
  try {
    let files = 0;
    for (const e of entries.sort((a, b) => a.path.localeCompare(b.path))) {
      const target = join(destDir, ...e.path.split("/"));
      if (e.dir) { await mkdir(target, { recursive: true }); continue; }
      await mkdir(join(target, ".."), { recursive: true });
      // 'wx' never follows or overwrites anything: every path here was created by this loop.
      await writeFile(target, e.data ?? Buffer.alloc(0), { flag: "wx", mode: 0o644 });
      files++;
    }
    return { files };
  } catch (e) {
    // Leave the target as it was found: absent, or empty.
    if (!existing) await rm(destDir, { recursive: true, force: true });
    else for (const child of await readdir(destDir)) await rm(join(destDir, child), { recursive: true, force: true });
    throw e;
  }
}

/**
 * Unpacks an oci-archive into a fresh temp folder, hands `use` the layout there, then removes it.
 * @example await withExtractedArchive("dist/hello.oci.tar", (dir) => readLayout(dir))
 */
export async function withExtractedArchive<T>(tarPath: string, use: (layoutDir: string) => Promise<T>): Promise<T> {
  const tmp = await mkdtemp(join(tmpdir(), "wasm-fn-archive-"));
  try {
    await extractOciArchive(tarPath, join(tmp, "layout"));
    return await use(join(tmp, "layout"));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** True when `path` is a regular file whose name looks like an oci-archive. */
export async function isArchivePath(path: string): Promise<boolean> {
  if (!/\.tar$/i.test(path)) return false;
  return stat(path).then((s) => s.isFile(), () => false);
}
