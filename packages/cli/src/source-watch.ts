/**
 * Watches a function's sources for `wasm-fn dev`: the function directory and every folder below it
 * except build output, dependencies and hidden folders. One non-recursive `fs.watch` per folder:
 * a recursive watch would also walk node_modules (thousands of inotify watches for nothing).
 * A folder created later (a new `assembly/lib/`) is picked up from its parent's event.
 */
import { watch, type FSWatcher } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";

/** Folders that hold no sources: what `wasm-fn build` writes (the function's dist/) and dependencies. */
function skippedDir(root: string, dir: string, name: string): boolean {
  return name === "node_modules" || (name === "dist" && dir === root);
}

/**
 * Names that are not sources: hidden files and folders (.git, .wasm-fn/state.json, editor swap
 * files like .index.ts.swp), backups (`index.ts~`), vim's write probe `4913`, temporary files.
 */
export function ignoredName(name: string): boolean {
  return name.startsWith(".") || name.endsWith("~") || name === "4913" || name.endsWith(".tmp") || name.endsWith(".swp");
}

/**
 * Calls `onChange(relativePath)` on every change to a source file under `root`; events are not
 * debounced here (the caller does). `close()` stops every watch.
 */
export async function watchSources(root: string, onChange: (file: string) => void, onError: (message: string) => void): Promise<{ close(): void }> {
  const watchers = new Map<string, FSWatcher>();
  let closed = false;

  async function add(dir: string): Promise<void> {
    if (closed || watchers.has(dir)) return;
    // fs.watch takes files too: only folders are watched here (a file is seen through its folder).
    if (!(await stat(dir).then((st) => st.isDirectory(), () => false)) || closed || watchers.has(dir)) return;
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: false }, (event, name) => {
        if (name === null) { onChange(path.relative(root, dir) || "."); return; }
        if (ignoredName(name) || skippedDir(root, dir, name)) return;
        const full = path.join(dir, name);
        // A folder created, removed or renamed: watch what is there now (a new one may hold sources).
        if (event === "rename") void renamed(full).catch(() => undefined);
        onChange(path.relative(root, full));
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return; // gone already
      onError(`cannot watch ${dir}: ${(e as Error).message}`);
      return;
    }
    // The watch broke (the folder went): forget it; a new folder of that name is watched again.
    w.on("error", () => { w.close(); if (watchers.get(dir) === w) watchers.delete(dir); });
    watchers.set(dir, w);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory() || ignoredName(e.name) || skippedDir(root, dir, e.name)) continue;
      await add(path.join(dir, e.name));
    }
  }

  /** Drops the watches at and below `p` (they follow the old folders' inodes), then watches what is there now. */
  async function renamed(p: string): Promise<void> {
    for (const [dir, w] of watchers) {
      if (dir === p || dir.startsWith(p + path.sep)) { w.close(); watchers.delete(dir); }
    }
    await add(p);
  }

  await add(root);
  return {
    close() {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
