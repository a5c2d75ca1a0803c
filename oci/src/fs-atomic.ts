import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

function tempSibling(path: string, tag: string): string {
  return join(dirname(path), `.${basename(path)}.${tag}-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Writes a file so readers see the old content or the new, never half: temp file, fsync, rename.
 * @example await writeFileAtomic("~/.docker/config.json", json, 0o600)
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path, "tmp");
  const fh = await open(tmp, "wx", mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }); // a failed write (disk full...) leaves no half file behind
    throw e;
  }
}

/**
 * Fills a fresh temp folder next to `dir` with `fill`, then swaps it in place of `dir`. On error
 * the temp folder is removed and `dir` is left as it was, so no half-written layout remains.
 * @example await replaceDirAtomic("dist/oci", async (tmp) => writeFile(join(tmp, "oci-layout"), "{}"))
 */
export async function replaceDirAtomic(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  const tmp = tempSibling(dir, "new");
  await mkdir(tmp);
  try {
    await fill(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  // Another writer may swap the same folder at the same time (concurrent pulls of one image): the
  // folder can vanish between a look and the move (ENOENT: nothing to move away), or come back between
  // the two moves (ENOTEMPTY/EEXIST: move that one away too, and again, up to 100 times). The last writer wins.
  for (let attempt = 1; ; attempt++) {
    const old = tempSibling(dir, "old");
    let moved = false;
    try {
      await rename(dir, old);
      moved = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
    }
    try {
      await rename(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === "ENOTEMPTY" || code === "EEXIST") && attempt < 100) {
        if (moved) await rm(old, { recursive: true, force: true });
        continue;
      }
      if (moved) await rename(old, dir).catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    if (moved) await rm(old, { recursive: true, force: true });
    return;
  }
}

/** Whether a process of this machine is still running (so its temp files may still be in use). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temp siblings (see `replaceDirAtomic`, `writeFileAtomic`) that a process killed
 * midway left in `dir`: only those whose writer is no longer running.
 * @example await removeStaleTemps("~/.cache/wasm-fn/oci/images")
 */
export async function removeStaleTemps(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^\..+\.(?:tmp|new|old)-(\d+)-[0-9a-f]{8}$/.exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) await rm(join(dir, name), { recursive: true, force: true });
  }
}
