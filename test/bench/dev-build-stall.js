/**
 * How long a `wasm-fn dev` rebuild stalls the event loop the shim serves on: 4 warm builds of a
 * copy of examples/hello (each after an edit), on the main thread and on dev's build worker, with
 * the event loop's longest delay (monitorEventLoopDelay) during each. The figure build-worker.ts quotes:
 *
 *   npx tsc -b && node test/bench/dev-build-stall.js
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { ROOT } from "./lib.js";

const { buildAndPackage } = await import(path.join(ROOT, "packages/cli/dist/commands/build.js"));
const { BuildWorker } = await import(path.join(ROOT, "packages/cli/dist/build-worker.js"));

const dir = await mkdtemp(path.join(os.tmpdir(), "wasm-fn-dev-stall-"));
await cp(path.join(ROOT, "examples/hello"), dir, { recursive: true, filter: (s) => !s.includes(`${path.sep}dist`) });
const src = path.join(dir, "assembly", "index.ts");
const orig = await readFile(src, "utf8");

async function measure(label, build) {
  await build(); // warm: the compiler is loaded once per thread
  const rows = [];
  for (let i = 1; i <= 4; i++) {
    await writeFile(src, orig.replace("hello, ", `hello${i}, `));
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const t = performance.now();
    await build();
    const ms = performance.now() - t;
    h.disable();
    rows.push(`build ${ms.toFixed(0)} ms, event loop's longest stall ${(h.max / 1e6).toFixed(0)} ms`);
  }
  console.log(`${label}\n  ${rows.join("\n  ")}`);
}

try {
  await measure("main thread", () => buildAndPackage(dir, { image: false, wasmedge: false, optimize: false }, () => undefined));
  const worker = new BuildWorker();
  await measure("build worker (wasm-fn dev)", () => worker.build({ dir, optimize: false }, () => undefined));
  await worker.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
