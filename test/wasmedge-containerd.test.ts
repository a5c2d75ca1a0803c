// The image `wasm-fn build` writes, run as a container by containerd 1.6 + crun built with WasmEdge
// (what a WasmEdge-enabled node runs): imported from the --tar archive and pulled from a local
// registry by `ctr`, started with the compat-smart annotation (as a pod carries it) on the host
// network; it serves HTTP itself. A trapping function's container exits non-zero.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ROOT } from "./harness/cli.js";
import { startContainerd, type ContainerdHandle } from "./harness/containerd.js";
import { freePort } from "./harness/proc.js";
import { startRegistry, type RegistryHandle } from "./harness/registry.js";
import { startWasmEdge, wasmEdgeKit } from "./harness/wasmedge.js";

let ctd: ContainerdHandle;
let reg: RegistryHandle;

beforeAll(async () => {
  for (const dir of ["examples/hello", "test/fixtures/trap"]) {
    const b = await cli(["build", dir, "--tar"]);
    expect(b.code, b.stderr).toBe(0);
  }
  [ctd, reg] = await Promise.all([startContainerd({ wasm: true }), startRegistry()]);
}, 180_000);
afterAll(async () => { await Promise.all([ctd?.stop(), reg?.stop()]); });

/** `ctr run` with crun (WasmEdge), the compat-smart annotation, the host network and PORT. */
function runArgs(image: string, id: string, port: number, entry: string, detach: boolean): string[] {
  return ["run", ...(detach ? ["-d"] : ["--rm"]), "--net-host", "--runtime", "io.containerd.runc.v2", "--runc-binary", wasmEdgeKit().crun,
    "--annotation", "module.wasm.image/variant=compat-smart", "--env", `PORT=${port}`, image, id, entry];
}

async function firstAnswer(url: string, timeoutMs = 15_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { return await fetch(url, { signal: AbortSignal.timeout(1000) }); } catch (e) {
      if (Date.now() > deadline) throw new Error(`${url} did not answer in ${timeoutMs} ms: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function stopTask(id: string): Promise<void> {
  await ctd.ctr("task", "kill", "-s", "SIGKILL", id).catch(() => undefined);
  for (let i = 0; i < 50; i++) {
    if (!(await ctd.ctr("task", "ls")).split("\n").some((l) => l.startsWith(`${id} `) && l.includes("RUNNING"))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await ctd.ctr("task", "delete", id).catch(() => undefined);
  await ctd.ctr("container", "delete", id).catch(() => undefined);
}

describe("the image's entrypoint", () => {
  it("is what `wasmedge` runs as it is: GET /default/hello?name=x on $PORT", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-entry-"));
    try {
      execFileSync("tar", ["-xf", path.join(ROOT, "examples/hello/dist/hello.oci.tar"), "-C", dir]);
      const blob = (d: string) => path.join(dir, "blobs", "sha256", d.replace(/^sha256:/, ""));
      const index = JSON.parse(readFileSync(path.join(dir, "index.json"), "utf8")) as { manifests: { digest: string }[] };
      const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), "utf8")) as { config: { digest: string }; layers: { digest: string }[] };
      const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8")) as { config: { Entrypoint: string[] } };
      expect(config.config.Entrypoint).toEqual(["/hello.wasm"]);
      execFileSync("tar", ["-xzf", blob(manifest.layers[0]!.digest), "-C", dir, "hello.wasm"]);
      const fn = await startWasmEdge(path.join(dir, "hello.wasm"));
      try {
        const r = await fetch(`${fn.url}/default/hello?name=x`);
        expect(r.status).toBe(200);
        expect(await r.text()).toBe("hello, x\n");
      } finally {
        await fn.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("containerd + crun (WasmEdge)", () => {
  it("runs the --tar archive imported by ctr, answering HTTP", async () => {
    await ctd.ctr("images", "import", "--platform", "wasip1/wasm", "--base-name", "localhost/wasm-fn/hello", path.join(ROOT, "examples/hello/dist/hello.oci.tar"));
    const port = await freePort();
    const t0 = performance.now();
    await ctd.ctr(...runArgs("localhost/wasm-fn/hello:0.1.0", "hello-tar", port, "/hello.wasm", true));
    try {
      const r = await firstAnswer(`http://127.0.0.1:${port}/default/hello?name=containerd`);
      console.log(`ctr run to first answer: ${Math.round(performance.now() - t0)} ms`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("hello, containerd\n");
      expect(r.headers.get("x-request-id")).toBeTruthy();
    } finally {
      await stopTask("hello-tar");
    }
  }, 60_000);

  it("runs the image pulled from a registry by ctr", async () => {
    const ref = `${reg.host}/wasm-fn/hello:0.1.0`;
    const pushed = await cli(["push", ref, "examples/hello", "--insecure"]);
    expect(pushed.code, pushed.stderr).toBe(0);
    await ctd.ctr("images", "pull", "--plain-http", "--platform", "wasip1/wasm", ref);
    const port = await freePort();
    await ctd.ctr(...runArgs(ref, "hello-pulled", port, "/hello.wasm", true));
    try {
      const r = await firstAnswer(`http://127.0.0.1:${port}/hello?name=registry`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("hello, registry\n");
      expect((await firstAnswer(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    } finally {
      await stopTask("hello-pulled");
    }
  }, 60_000);

  it("a trapping function's container exits non-zero, and its log names the request", async () => {
    await ctd.ctr("images", "import", "--platform", "wasip1/wasm", "--base-name", "localhost/wasm-fn/trap", path.join(ROOT, "test/fixtures/trap/dist/trap.oci.tar"));
    const port = await freePort();
    // In the foreground, ctr exits with the task's exit status.
    const child = spawn("ctr", ["--address", ctd.address, ...runArgs("localhost/wasm-fn/trap:0.1.0", "trap-1", port, "/trap.wasm", false)], {
      env: { ...process.env, CONTAINERD_SNAPSHOTTER: "native", CONTAINERD_NAMESPACE: "wasm-fn-test" }, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { out += d; });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      expect((await firstAnswer(`http://127.0.0.1:${port}/default/trap/count`)).status).toBe(200);
      await fetch(`http://127.0.0.1:${port}/default/trap/boom`, { headers: { "x-request-id": "trap-in-ctr" } }).catch(() => undefined);
      const code = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000))]);
      expect(code, out).not.toBe("timeout");
      expect(code, out).not.toBe(0);
      expect(out).toMatch(/"msg":"request started","method":"GET","path":"\/default\/trap\/boom".*"requestId":"trap-in-ctr"/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await stopTask("trap-1");
    }
  }, 60_000);
});
