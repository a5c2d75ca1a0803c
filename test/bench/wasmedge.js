/**
 * P10: the WasmEdge form of hello (the image's entrypoint, run by the real `wasmedge`: the kit's
 * interpreter, no AOT) against the Node shim serving the same function, in the same wrk run,
 * interleaved; and process start to first 200 for both. Defaults as a user runs them (access logs on).
 */
import { execFileSync, execFile } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { BIN, ROOT, freePort, median, startCommand, startNode, wrk } from "./lib.js";

const HELLO = path.join(ROOT, "examples", "hello");

function kitDir() {
  return execFileSync("bash", [path.join(ROOT, "scripts", "install-wasmedge.sh")], { encoding: "utf8" }).trim();
}
function kit() {
  const dir = kitDir();
  return dir ? path.join(dir, "bin", "wasmedge") : "wasmedge";
}

/**
 * `ctr run` of hello's image (containerd 1.6 + crun built with WasmEdge, compat-smart annotation,
 * host network) to its first 200, median of the rounds; reported beside `wasm-fn run`'s spawn to
 * first 200 measured in the same run.
 */
async function ctrRunMs(o) {
  const dir = kitDir();
  const crun = dir ? path.join(dir, "bin", "crun") : "crun";
  const work = await mkdtemp(path.join("/tmp", "wfn-bench-ctd-"));
  await writeFile(path.join(work, "config.toml"), `version = 2\nroot = "${work}/root"\nstate = "${work}/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${work}/c.sock"\n[ttrpc]\n  address = "${work}/c.sock.ttrpc"\n[debug]\n  address = ""\n[metrics]\n  address = ""\n[plugins."io.containerd.internal.v1.opt"]\n  path = "${work}/opt"\n`);
  // crun (WasmEdge) refuses these hosts' hybrid cgroups while /sys/fs/cgroup/unified is visible.
  const ctd = await startCommand("unshare", ["-m", "sh", "-c", `mount --make-rprivate / && (umount /sys/fs/cgroup/unified 2>/dev/null || true) && exec containerd --config ${work}/config.toml`], { ready: null, readyFile: `${work}/c.sock`, cwd: work });
  const env = { ...process.env, CONTAINERD_SNAPSHOTTER: "native", CONTAINERD_NAMESPACE: "bench" };
  const ctr = (...args) => new Promise((resolve, reject) => execFile("ctr", ["--address", `${work}/c.sock`, ...args], { env }, (e, out, err) => (e ? reject(new Error(err || e.message)) : resolve(out))));
  const ms = [];
  try {
    await ctr("images", "import", "--platform", "wasip1/wasm", "--base-name", "localhost/bench/hello", path.join(HELLO, "dist", "hello.oci.tar"));
    for (let r = 0; r < o.rounds; r++) {
      const port = await freePort();
      const id = `hello-${r}`;
      const t0 = performance.now();
      await ctr("run", "-d", "--net-host", "--runtime", "io.containerd.runc.v2", "--runc-binary", crun, "--annotation", "module.wasm.image/variant=compat-smart", "--env", `PORT=${port}`, "localhost/bench/hello:0.1.0", id, "/hello.wasm");
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/default/hello`).then((x) => x.status === 200, () => false);
        if (ok) break;
        if (performance.now() - t0 > 10_000) throw new Error("ctr run: no answer in 10 s");
        await new Promise((res) => setTimeout(res, 2));
      }
      ms.push(performance.now() - t0);
      await ctr("task", "kill", "-s", "SIGKILL", id).catch(() => undefined);
      for (let i = 0; i < 50 && /RUNNING/.test(await ctr("task", "ls")); i++) await new Promise((res) => setTimeout(res, 50));
      await ctr("task", "delete", id).catch(() => undefined);
      await ctr("container", "delete", id).catch(() => undefined);
      o.log(`  ctr run -> first 200: ${Math.round(ms.at(-1))} ms`);
    }
  } finally {
    await ctd.stop();
    await rm(work, { recursive: true, force: true });
  }
  return median(ms);
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
  o.log("P10: ctr run (containerd + crun/WasmEdge) to first 200");
  const ctrMs = await ctrRunMs(o);
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
    { id: "P10", figure: "`ctr run` of the image (containerd 1.6 + crun 1.27 with WasmEdge, compat-smart annotation, host network) to first 200", value: `${Math.round(ctrMs)} ms`, reference: `\`wasm-fn run\` spawn ${Math.round(median(startMs.shim))} ms`, ratio: `${(ctrMs / median(startMs.shim)).toFixed(2)}x`, target: "<= 500 ms", met: ctrMs <= 500 },
    { id: "P10", figure: "module sizes: the WasmEdge command (guest + adapter) vs the shim's guest", value: `${kib(cmd)} KiB`, reference: `guest ${kib(guest)} KiB`, ratio: "-", target: "image <= 64 KiB (P6)", met: null },
  ];
}
