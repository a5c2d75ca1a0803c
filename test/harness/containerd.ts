/**
 * A private containerd for tests: runs as root with its own root/state/socket folders in a temp
 * dir, the native snapshotter (no overlay mounts needed) and the CRI plugin off. Nothing is
 * shared with a system containerd.
 *
 * @example
 *   const ctd = await startContainerd();
 *   await ctd.ctr("images", "import", "--platform", "wasip1/wasm", "hello.oci.tar");
 *   await ctd.stop();
 *   // Wasm containers (crun built with WasmEdge): startContainerd({ wasm: true }), then
 *   // ctd.ctr(...wasmRunArgs({ crun, image, id, entry: "/hello.wasm", env: { PORT } })) and removeTask(ctd.ctr, id);
 *   // ctrRunToFirst200(ctd, run, url) times one `ctr run -d` to its first 200. stop() kills tasks left running.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireBinary, startProcess } from "./proc.js";

export interface ContainerdHandle {
  address: string;
  /** containerd's private root (content store, native snapshots under io.containerd.snapshotter.v1.native). */
  root: string;
  /** Runs `ctr --address <socket> ...args` in namespace wasm-fn-test; rejects with stderr on failure. */
  ctr(...args: string[]): Promise<string>;
  stop(): Promise<void>;
  logs(): string;
}

function configToml(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${dir}/c.sock"
[ttrpc]
  address = "${dir}/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
`;
}

/**
 * Starts containerd; throws with a clear reason when not root or not installed. `wasm: true` starts
 * it in a mount namespace of its own without /sys/fs/cgroup/unified: crun (WasmEdge) refuses these
 * hosts' hybrid cgroups while that mount is visible (see the WasmEdge kit's README).
 */
export async function startContainerd(opts: { wasm?: boolean } = {}): Promise<ContainerdHandle> {
  requireBinary("containerd");
  requireBinary("ctr");
  if (process.getuid?.() !== 0) throw new Error("containerd needs root: run this suite as root (CI does; see scripts/provision.sh)");
  // Unix socket paths are limited to ~108 bytes, so keep the folder short.
  const base = tmpdir().length > 40 ? "/tmp" : tmpdir();
  const dir = await mkdtemp(join(base, "wfn-ctd-"));
  await writeFile(join(dir, "config.toml"), configToml(dir));
  const address = join(dir, "c.sock");
  let proc;
  try {
    const config = join(dir, "config.toml");
    proc = opts.wasm
      ? await startProcess("unshare", ["-m", "sh", "-c", `mount --make-rprivate / && (umount /sys/fs/cgroup/unified 2>/dev/null || true) && exec containerd --config '${config}'`], { readyLine: "containerd successfully booted", timeoutMs: 30_000 })
      : await startProcess("containerd", ["--config", config], { readyLine: "containerd successfully booted", timeoutMs: 30_000 });
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const ctr = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile("ctr", ["--address", address, ...args], {
        env: { ...process.env, CONTAINERD_SNAPSHOTTER: "native", CONTAINERD_NAMESPACE: "wasm-fn-test" },
        timeout: 60_000, maxBuffer: 16 << 20,
      }, (err, stdout, stderr) => (err ? reject(new Error(`ctr ${args.join(" ")} failed: ${stderr || err.message}`)) : resolve(stdout)));
    });
  // Tasks left running (a failed test) would outlive containerd: their shims are not its children.
  const killTasks = async (): Promise<void> => {
    const ids = (await ctr("task", "ls", "-q").catch(() => "")).split("\n").map((l) => l.trim()).filter(Boolean);
    for (const id of ids) await removeTask(ctr, id);
  };
  return {
    address, ctr, logs: proc.logs, root: join(dir, "root"),
    stop: async () => { await killTasks(); await proc.stop(); await rm(dir, { recursive: true, force: true }); },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * SIGKILLs a task, waits (bounded, 5 s) until it is no longer running, and deletes the task and its
 * container. Resolves true when the task was gone in time.
 */
export async function removeTask(ctr: ContainerdHandle["ctr"], id: string): Promise<boolean> {
  await ctr("task", "kill", "-s", "SIGKILL", id).catch(() => undefined);
  let gone = false;
  for (let i = 0; i < 100 && !gone; i++) {
    const line = (await ctr("task", "ls").catch(() => "")).split("\n").find((l) => l.split(/\s+/)[0] === id);
    gone = !line || !/\bRUNNING\b/.test(line);
    if (!gone) await sleep(50);
  }
  await ctr("task", "delete", id).catch(() => undefined);
  await ctr("container", "delete", id).catch(() => undefined);
  return gone;
}

export interface WasmRun {
  /** crun built with WasmEdge (the kit's `bin/crun`). */
  crun: string;
  image: string;
  /** Container id. */
  id: string;
  /** args[0]: the module inside the image, e.g. `/hello.wasm` (crun hands a `.wasm` to WasmEdge). */
  entry: string;
  env?: Record<string, string>;
  /** `-d` (default) returns once the task started; false runs it in the foreground with --rm. */
  detach?: boolean;
}

/**
 * `ctr run` arguments for a Wasm container as a WasmEdge-enabled node runs it: runc shim with the
 * WasmEdge crun as its binary, the compat-smart annotation, the host network (a WasmEdge socket
 * server then listens on the host's loopback).
 */
export function wasmRunArgs(o: WasmRun): string[] {
  return ["run", ...(o.detach === false ? ["--rm"] : ["-d"]), "--net-host", "--runtime", "io.containerd.runc.v2", "--runc-binary", o.crun,
    "--annotation", "module.wasm.image/variant=compat-smart",
    ...Object.entries(o.env ?? {}).flatMap(([k, v]) => ["--env", `${k}=${v}`]), o.image, o.id, o.entry];
}

/**
 * Milliseconds from `ctr run -d` (started just now) to the first 200 of `url` (polled every 5 ms,
 * bounded by timeoutMs), then removes the task. For tests and the bench alike: one round per call.
 */
export async function ctrRunToFirst200(ctd: ContainerdHandle, run: WasmRun, url: string, timeoutMs = 15_000): Promise<number> {
  const t0 = performance.now();
  try {
    await ctd.ctr(...wasmRunArgs({ ...run, detach: true }));
    for (;;) {
      const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(async (r) => { await r.arrayBuffer(); return r.status === 200; }, () => false);
      if (ok) return performance.now() - t0;
      if (performance.now() - t0 > timeoutMs) throw new Error(`${url}: no 200 within ${timeoutMs} ms of ctr run\n${ctd.logs().slice(-2000)}`);
      await sleep(5);
    }
  } finally {
    await removeTask(ctd.ctr, run.id);
  }
}
