/**
 * P10: the WasmEdge form of hello (the image's entrypoint, run by the real `wasmedge`: the kit's
 * interpreter, no AOT) against the Node shim serving the same function, in the same wrk run,
 * interleaved; and process start to first 200 for both. Defaults as a user runs them (access logs on).
 */
import { execFileSync } from "node:child_process";
import { stat } from "node:fs/promises";
import path from "node:path";
import { BIN, ROOT, freePort, median, startCommand, startNode, wrk } from "./lib.js";

const HELLO = path.join(ROOT, "examples", "hello");

function kit() {
  const dir = execFileSync("bash", [path.join(ROOT, "scripts", "install-wasmedge.sh")], { encoding: "utf8" }).trim();
  return dir ? path.join(dir, "bin", "wasmedge") : "wasmedge";
}

/** @param {{ rounds: number, seconds: number, connections: number, log: (s: string) => void, work: string }} o */
export async function wasmedgeRows(o) {
  const wasmedge = kit();
  const module = path.join(HELLO, "dist", "hello.wasmedge.wasm");
  const start = async (which) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/default/hello`;
    const s = which === "wasmedge"
      ? await startCommand(wasmedge, ["--env", `PORT=${port}`, module], { ready: url, cwd: o.work })
      : await startNode([BIN, "run", path.join(HELLO, "dist", "hello.wasm"), "--port", String(port)], { ready: url, cwd: o.work });
    return { ...s, url };
  };
  o.log("P10: hello on WasmEdge vs the shim (same wrk settings, interleaved)");
  const servers = { wasmedge: await start("wasmedge"), shim: await start("shim") };
  const res = { wasmedge: [], shim: [] };
  try {
    for (const k of ["wasmedge", "shim"]) await wrk(servers[k].url, { connections: o.connections, seconds: 2 });
    for (let r = 0; r < o.rounds; r++) {
      for (const k of /** @type {const} */ (["wasmedge", "shim"])) {
        const w = await wrk(servers[k].url, { connections: o.connections, seconds: o.seconds });
        if (w.non2xx || w.socketErrors) throw new Error(`${k}: ${w.non2xx} non-2xx, ${w.socketErrors} socket errors under load:\n${w.raw}`);
        res[k].push(w);
        o.log(`  round ${r + 1} ${k.padEnd(8)} ${Math.round(w.rps)} req/s  p50 ${w.p50.toFixed(2)} ms  p99 ${w.p99.toFixed(2)} ms`);
      }
    }
  } finally {
    for (const s of Object.values(servers)) await s.stop();
  }
  const startMs = { wasmedge: [], shim: [] };
  for (let r = 0; r < o.rounds; r++) {
    for (const k of /** @type {const} */ (["wasmedge", "shim"])) {
      const s = await start(k);
      startMs[k].push(s.startMs);
      await s.stop();
    }
  }
  const m = (k, f) => median(res[k].map(f));
  const ratio = median(res.wasmedge.map((x, i) => x.rps / res.shim[i].rps));
  const p99 = median(res.wasmedge.map((x, i) => x.p99 / res.shim[i].p99));
  const guest = (await stat(path.join(HELLO, "dist", "hello.wasm"))).size;
  const cmd = (await stat(module)).size;
  const kib = (n) => (n / 1024).toFixed(1);
  return [
    { id: "P10", figure: `hello req/s on WasmEdge 0.17.1 (interpreter, no AOT; \`wasmedge hello.wasmedge.wasm\`) vs the shim (\`wasm-fn run\`), wrk -t1 -c${o.connections}, ${o.seconds} s x ${o.rounds} rounds, access logs on in both`, value: `${Math.round(m("wasmedge", (x) => x.rps))} req/s`, reference: `shim ${Math.round(m("shim", (x) => x.rps))} req/s`, ratio: `${ratio.toFixed(3)}x`, target: "report", met: null },
    { id: "P10", figure: "p99 latency at the same load", value: `${m("wasmedge", (x) => x.p99).toFixed(2)} ms`, reference: `shim ${m("shim", (x) => x.p99).toFixed(2)} ms`, ratio: `${p99.toFixed(2)}x`, target: "report", met: null },
    { id: "P10", figure: "process spawn to first 200: `wasmedge hello.wasmedge.wasm` vs `wasm-fn run dist/hello.wasm`", value: `${Math.round(median(startMs.wasmedge))} ms`, reference: `shim ${Math.round(median(startMs.shim))} ms`, ratio: `${(median(startMs.wasmedge) / median(startMs.shim)).toFixed(2)}x`, target: "report", met: null },
    { id: "P10", figure: "module sizes: the WasmEdge command (guest + adapter) vs the shim's guest", value: `${kib(cmd)} KiB`, reference: `guest ${kib(guest)} KiB`, ratio: "-", target: "image <= 64 KiB (P6)", met: null },
  ];
}
