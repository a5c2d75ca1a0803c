/**
 * containerd (what a WasmEdge-enabled node runs) accepts our image as it is: imported from the
 * oci-archive tar and pulled from a registry, both for platform wasip1/wasm; the annotations
 * and the entrypoint are read back out of containerd's own content store.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushLayout, writeImageLayout } from "@wasm-fn/oci";
import { startContainerd, type ContainerdHandle } from "./harness/containerd.js";
import { startRegistry, type RegistryHandle } from "./harness/registry.js";

const WASM = Buffer.concat([Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]), Buffer.from("containerd")]);
let work: string;
let ctd: ContainerdHandle;
let reg: RegistryHandle;
let built: { manifestDigest: string; configDigest: string; tarPath?: string };
let layout: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "wfn-ctd-e2e-"));
  [ctd, reg] = await Promise.all([startContainerd(), startRegistry()]);
  layout = join(work, "oci");
  built = await writeImageLayout({ name: "hello", version: "0.1.0", wasm: WASM, format: "image", metadata: { name: "hello" } }, layout, { tarPath: join(work, "hello.oci.tar") });
});
afterAll(async () => {
  await Promise.all([ctd?.stop(), reg?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Reads the image back out of containerd: its manifest's annotations and its config's entrypoint. */
async function readBack(digest: string): Promise<{ annotations: Record<string, string>; entrypoint: string[]; platform: string }> {
  const manifest = JSON.parse(await ctd.ctr("content", "get", digest));
  const config = JSON.parse(await ctd.ctr("content", "get", manifest.config.digest));
  return { annotations: manifest.annotations, entrypoint: config.config.Entrypoint, platform: `${config.os}/${config.architecture}` };
}

describe("containerd", () => {
  it("imports the oci-archive tar for platform wasip1/wasm", async () => {
    const out = await ctd.ctr("images", "import", "--platform", "wasip1/wasm", "--base-name", "localhost/wasm-fn/hello", built.tarPath!);
    expect(out).toContain(built.manifestDigest);
    const ls = await ctd.ctr("images", "ls");
    const line = ls.split("\n").find((l) => l.startsWith("localhost/wasm-fn/hello:0.1.0"));
    expect(line).toContain(built.manifestDigest);
    expect(line).toContain("wasip1/wasm");
    const back = await readBack(built.manifestDigest);
    expect(back.annotations["module.wasm.image/variant"]).toBe("compat-smart");
    expect(back.annotations["org.opencontainers.image.title"]).toBe("hello");
    expect(back.entrypoint).toEqual(["/hello.wasm"]);
    expect(back.platform).toBe("wasip1/wasm");
  });

  it("pulls the pushed image over plain HTTP for platform wasip1/wasm and unpacks it", async () => {
    const pushed = await pushLayout(layout, `${reg.host}/hello:0.1.0`, { insecure: true, cacheDir: join(work, "cache") });
    await ctd.ctr("images", "pull", "--plain-http", "--platform", "wasip1/wasm", `${reg.host}/hello:0.1.0`);
    const ls = await ctd.ctr("images", "ls");
    expect(ls.split("\n").find((l) => l.startsWith(`${reg.host}/hello:0.1.0`))).toContain(pushed.digest);
    const back = await readBack(pushed.digest);
    expect(back.annotations["module.wasm.image/variant"]).toBe("compat-smart");
    expect(back.entrypoint).toEqual(["/hello.wasm"]);
  });

  it("unpacked the layer into a rootfs holding an executable /hello.wasm", async () => {
    // containerd checks the unpacked tar against the config's diff_id while applying it.
    const snapshots = join(ctd.root, "io.containerd.snapshotter.v1.native", "snapshots");
    const files = readdirSync(snapshots).map((id) => join(snapshots, id, "hello.wasm"));
    const found = files.filter((f) => { try { return statSync(f).isFile(); } catch { return false; } });
    expect(found.length).toBeGreaterThan(0);
    for (const f of found) {
      expect(readFileSync(f).equals(WASM)).toBe(true);
      expect(statSync(f).mode & 0o111).not.toBe(0);
    }
  });
});
