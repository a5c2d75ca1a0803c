// The image `wasm-fn build` writes, run as a container by containerd 1.6 + crun built with WasmEdge
// (what a WasmEdge-enabled node runs): imported from the --tar archive and pulled from a local
// registry by `ctr`, started with the compat-smart annotation (as a pod carries it) on the host
// network; it serves HTTP itself. A trapping function's container exits non-zero. `ctr run` to the
// first 200 is measured (printed, not asserted).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, ROOT } from "./harness/cli.js";
import { ctrRunToFirst200, removeTask, startContainerd, wasmRunArgs, type ContainerdHandle } from "./harness/containerd.js";
import { freePort } from "./harness/proc.js";
import { startRegistry, type RegistryHandle } from "./harness/registry.js";
import { startWasmEdge, wasmEdgeKit } from "./harness/wasmedge.js";

let ctd: ContainerdHandle;
let reg: RegistryHandle;

beforeAll(async () => {
  wasmEdgeKit(); // fails first, with the install hint, when the kit is missing
  for (const dir of ["examples/hello", "test/fixtures/trap"]) {
    const b = await cli(["build", dir, "--tar"]);
    expect(b.code, b.stderr).toBe(0);
  }
  [ctd, reg] = await Promise.all([startContainerd({ wasm: true }), startRegistry()]);
}, 180_000);
afterAll(async () => { await Promise.all([ctd?.stop(), reg?.stop()]); });

/** `ctr run` with crun (WasmEdge), the compat-smart annotation, the host network and PORT. */
function runArgs(image: string, id: string, port: number, entry: string, detach: boolean): string[] {
  return wasmRunArgs({ crun: wasmEdgeKit().crun, image, id, entry, env: { PORT: String(port) }, detach });
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

/** Checks that nothing of container `id` is left in containerd and that its port is closed. */
async function expectGone(id: string, port: number): Promise<void> {
  expect((await ctd.ctr("task", "ls", "-q")).split("\n")).not.toContain(id);
  expect((await ctd.ctr("containers", "ls", "-q")).split("\n")).not.toContain(id);
  await expect(fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
}

/** The image's manifest annotations as containerd stored them. */
async function annotations(image: string): Promise<Record<string, string>> {
  const line = (await ctd.ctr("images", "ls")).split("\n").find((l) => l.split(/\s+/)[0] === image);
  const digest = line?.match(/sha256:[0-9a-f]{64}/)?.[0];
  expect(digest, `${image} not in ctr images ls`).toBeTruthy();
  let doc = JSON.parse(await ctd.ctr("content", "get", digest!)) as { manifests?: { digest: string }[]; annotations?: Record<string, string> };
  if (doc.manifests) doc = JSON.parse(await ctd.ctr("content", "get", doc.manifests[0]!.digest));
  return doc.annotations ?? {};
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
  it("runs the --tar archive imported by ctr, answering HTTP; ctr task kill stops it", async () => {
    const image = "localhost/wasm-fn/hello:0.1.0";
    await ctd.ctr("images", "import", "--platform", "wasip1/wasm", "--base-name", "localhost/wasm-fn/hello", path.join(ROOT, "examples/hello/dist/hello.oci.tar"));
    expect((await annotations(image))["module.wasm.image/variant"]).toBe("compat-smart");
    const port = await freePort();
    await ctd.ctr(...runArgs(image, "hello-tar", port, "/hello.wasm", true));
    try {
      const r = await firstAnswer(`http://127.0.0.1:${port}/default/hello?name=x`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("hello, x\n");
      expect(r.headers.get("x-request-id")).toBeTruthy();
    } finally {
      expect(await removeTask(ctd.ctr, "hello-tar"), "task still running 5 s after SIGKILL").toBe(true);
    }
    await expectGone("hello-tar", port);
  }, 60_000);

  it("runs the image pushed by `wasm-fn push` and pulled from the registry by ctr", async () => {
    const ref = `${reg.host}/wasm-fn/hello:0.1.0`;
    const pushed = await cli(["push", ref, "examples/hello", "--insecure"]);
    expect(pushed.code, pushed.stderr).toBe(0);
    await ctd.ctr("images", "pull", "--plain-http", "--platform", "wasip1/wasm", ref);
    expect((await annotations(ref))["module.wasm.image/variant"]).toBe("compat-smart");
    const port = await freePort();
    await ctd.ctr(...runArgs(ref, "hello-pulled", port, "/hello.wasm", true));
    try {
      const r = await firstAnswer(`http://127.0.0.1:${port}/default/hello?name=x`);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("hello, x\n");
      const extra = await fetch(`http://127.0.0.1:${port}/hello?name=registry`); // the route from wasm-fn.yaml
      expect(extra.status).toBe(200);
      expect(await extra.text()).toBe("hello, registry\n");
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    } finally {
      expect(await removeTask(ctd.ctr, "hello-pulled"), "task still running 5 s after SIGKILL").toBe(true);
    }
    await expectGone("hello-pulled", port);
  }, 60_000);

  /** `ctr run` in the foreground (--rm, no -d): it prints the task's output and exits with its status. */
  function foreground(id: string, port: number) {
    const child = spawn("ctr", ["--address", ctd.address, ...runArgs("localhost/wasm-fn/trap:0.1.0", id, port, "/trap.wasm", false)], {
      env: { ...process.env, CONTAINERD_SNAPSHOTTER: "native", CONTAINERD_NAMESPACE: "wasm-fn-test" }, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    child.stderr.on("data", (d) => { out += d; });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    const within = (ms: number) => Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms))]);
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await removeTask(ctd.ctr, id);
    };
    return { output: () => out, within, stop };
  }

  it("a trapping function's container exits non-zero, and its log names the request", async () => {
    await ctd.ctr("images", "import", "--platform", "wasip1/wasm", "--base-name", "localhost/wasm-fn/trap", path.join(ROOT, "test/fixtures/trap/dist/trap.oci.tar"));
    const port = await freePort();
    const run = foreground("trap-1", port);
    try {
      const count = await firstAnswer(`http://127.0.0.1:${port}/default/trap/count`);
      expect(count.status, run.output()).toBe(200);
      expect(await count.text()).toBe("1");
      await fetch(`http://127.0.0.1:${port}/default/trap/boom`, { headers: { "x-request-id": "trap-in-ctr" }, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      const res = await run.within(15_000);
      expect(res, `ctr run still running 15 s after the trap:\n${run.output()}`).not.toBe("timeout");
      if (res === "timeout") return;
      expect(res.signal, run.output()).toBeNull();
      expect(res.code, run.output()).toBeGreaterThan(0);
      expect(run.output()).toMatch(/"msg":"request started","method":"GET","path":"\/default\/trap\/boom".*"requestId":"trap-in-ctr"/);
    } finally {
      await run.stop();
    }
    expect((await ctd.ctr("containers", "ls", "-q")).split("\n")).not.toContain("trap-1");
  }, 60_000);

  it("a runaway request gets 504 at limits.timeout, then the container exits non-zero (not 0: crun drops proc_exit's code)", async () => {
    const port = await freePort();
    const run = foreground("spin-1", port);
    try {
      expect((await firstAnswer(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const r = await fetch(`http://127.0.0.1:${port}/default/trap/spin`, { headers: { "x-request-id": "spin-in-ctr" }, signal: AbortSignal.timeout(15_000) });
      expect(r.status).toBe(504);
      expect(r.headers.get("x-request-id")).toBe("spin-in-ctr");
      const res = await run.within(15_000);
      expect(res, run.output()).not.toBe("timeout");
      if (res === "timeout") return;
      expect(res.code, run.output()).toBeGreaterThan(0);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it("measures ctr run to the first 200 (printed, not asserted)", async () => {
    await ctd.ctr("images", "import", "--platform", "wasip1/wasm", "--base-name", "localhost/wasm-fn/hello", path.join(ROOT, "examples/hello/dist/hello.oci.tar"));
    const crun = wasmEdgeKit().crun;
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const port = await freePort();
      ms.push(await ctrRunToFirst200(ctd, { crun, image: "localhost/wasm-fn/hello:0.1.0", id: `hello-t${i}`, entry: "/hello.wasm", env: { PORT: String(port) } }, `http://127.0.0.1:${port}/default/hello?name=x`));
    }
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(`ctr run -> first 200 (hello, containerd 1.6 + crun/WasmEdge): ${ms.map((x) => Math.round(x)).join(", ")} ms; median ${Math.round(sorted[2]!)} ms, min ${Math.round(sorted[0]!)}, max ${Math.round(sorted[4]!)}`);
    expect(ms).toHaveLength(5);
  }, 120_000);
});
