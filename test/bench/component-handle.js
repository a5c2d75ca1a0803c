/**
 * A component's own cost per request, without HTTP or threads: `handle()` of one instance in a loop,
 * in this process, with the shim's WASI host (what a worker thread does for each request). Prints
 * the median of 8 half-second rounds. The figure the issue-12 notes quote for hello-ts:
 *
 *   npx tsc -b && node test/bench/component-handle.js examples/hello-ts/dist/hello-ts.wasm
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./lib.js";

const { compileComponent } = await import(path.join(ROOT, "runtime-shim/dist/instance/component/transpile.js"));
const { p2Imports, handleRequest } = await import(path.join(ROOT, "runtime-shim/dist/instance/component/wasi-p2.js"));

const file = process.argv[2];
if (!file) throw new Error("usage: node test/bench/component-handle.js <component.wasm>");
const c = await compileComponent(readFileSync(file), file, 4096);
const { imports } = p2Imports({ env: [], io: { maxResponseBytes: 1 << 20, deadline: () => performance.now() + 1e9, send() {}, wait() {}, log() {} } });
const glue = await import(c.jsPath);
const handler = glue.instantiate((n) => c.modules[n], imports)[c.meta.handlerExport];
const req = { method: "GET", path: "/x?name=a", authority: "localhost:8080", headers: [["host", "localhost:8080"], ["user-agent", "wrk"]], body: new Uint8Array(0) };
const rounds = [];
for (let r = 0; r < 8; r++) {
  const t = performance.now();
  let n = 0;
  while (performance.now() - t < 500) { handleRequest(handler, req); n++; }
  rounds.push(((performance.now() - t) / n) * 1000);
}
rounds.sort((a, b) => a - b);
console.log(`${path.basename(file)}: ${rounds[4].toFixed(0)} µs per request (median of 8 rounds; fastest ${rounds[0].toFixed(0)} µs)`);
