/**
 * A private containerd for tests: runs as root with its own root/state/socket folders in a temp
 * dir, the native snapshotter (no overlay mounts needed) and the CRI plugin off. Nothing is
 * shared with a system containerd.
 *
 * @example
 *   const ctd = await startContainerd();
 *   await ctd.ctr("images", "import", "--platform", "wasip1/wasm", "hello.oci.tar");
 *   await ctd.stop();
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
  return {
    address, ctr, logs: proc.logs, root: join(dir, "root"),
    stop: async () => { await proc.stop(); await rm(dir, { recursive: true, force: true }); },
  };
}
