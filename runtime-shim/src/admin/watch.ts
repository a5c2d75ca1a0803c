/**
 * `wasm-fn run --watch`: a new build of a served function (its dist/<name>.wasm changes) is hot
 * swapped in. `wasm-fn build` writes the module and its metadata by rename, so the directory is
 * watched (a watch on the file itself would follow the old inode) and events are debounced.
 */
import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../logger.js";
import type { SwapReport } from "./admin.js";

export interface Watched {
  namespace: string;
  name: string;
  /** The module file a build replaces. */
  file: string;
}

const DEBOUNCE_MS = 150;

/** Watches each function's module file and calls `reload` when its bytes change. */
export function watchFunctions(targets: readonly Watched[], reload: (namespace: string, name: string) => Promise<SwapReport>, log: Logger): { close(): void } {
  const watchers: FSWatcher[] = [];
  const timers = new Set<NodeJS.Timeout>();
  for (const t of targets) {
    const dir = path.dirname(t.file);
    const base = path.basename(t.file);
    const meta = base.replace(/\.wasm$/, ".json");
    let last: Promise<string | null> = digest(t.file);
    let timer: NodeJS.Timeout | undefined;
    let busy = Promise.resolve();
    const fire = () => {
      timers.delete(timer!);
      busy = busy.then(async () => {
        const now = await digest(t.file);
        if (now === null || now === (await last)) return;
        last = Promise.resolve(now);
        try {
          const r = await reload(t.namespace, t.name);
          log.log("info", `swapped ${t.namespace}/${t.name} to the new build`, { fn: `${t.namespace}/${t.name}`, origin: r.origin, compileMs: r.compileMs });
          process.stderr.write(`swapped ${t.namespace}/${t.name} (${r.compileMs} ms); the old version drains\n`);
        } catch (e) {
          const msg = (e as Error).message;
          log.log("error", `not swapped: ${msg}`, { fn: `${t.namespace}/${t.name}` });
          process.stderr.write(`not swapped ${t.namespace}/${t.name}: ${msg}\n  (the previous version keeps serving)\n`);
        }
      });
    };
    try {
      const w = watch(dir, { persistent: false }, (_event, file) => {
        if (file !== null && file !== base && file !== meta) return;
        clearTimeout(timer);
        timers.delete(timer!);
        timer = setTimeout(fire, DEBOUNCE_MS);
        timers.add(timer);
      });
      w.on("error", (e) => log.log("warn", `stopped watching ${dir}: ${e.message}`));
      watchers.push(w);
    } catch (e) {
      log.log("warn", `cannot watch ${dir}: ${(e as Error).message}`, { fn: `${t.namespace}/${t.name}` });
    }
  }
  return {
    close() {
      for (const w of watchers) w.close();
      for (const t of timers) clearTimeout(t);
    },
  };
}

async function digest(file: string): Promise<string | null> {
  try {
    return createHash("sha256").update(await readFile(file)).digest("hex");
  } catch {
    return null; // mid-rename or removed: the next event will tell
  }
}
