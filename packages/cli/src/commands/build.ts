import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { componentInterfaces } from "@wasm-fn/abi";
import { buildFunction, type BuildResult } from "@wasm-fn/build";
import { progress, print } from "../output.js";

export interface Packaged {
  result: BuildResult;
  /** With --no-image: the stale image files of an earlier build that were removed. */
  removed?: string[];
  image?: { manifestDigest: string; totalSize: number; tarPath?: string; layout: string };
}

/** Builds the function in `dir` and writes its OCI image to dist/oci (unless `image: false`); progress through `step`. */
export async function buildAndPackage(dir: string, opts: { optimize?: boolean; wasmedge?: boolean; image?: boolean; format?: string; tar?: boolean }, step: (s: string) => void): Promise<Packaged> {
  const result = await buildFunction(dir, { optimize: opts.optimize !== false, wasmedge: opts.wasmedge !== false, onStep: step });
  if (opts.image === false) {
    // An image from an earlier build of other bytes would now describe another module: it goes, and
    // the user is told. One that holds these very bytes (builds are reproducible) stays.
    const layout = path.join(dir, "dist", "oci");
    const stale = imageModuleSha256(layout) !== result.metadata.wasm.sha256 && existsSync(layout)
      ? [layout, path.join(dir, "dist", `${result.metadata.name}.oci.tar`)].filter((p) => existsSync(p))
      : [];
    for (const p of stale) await rm(p, { recursive: true, force: true });
    if (stale.length > 0) step(`removed the image an earlier build left (${stale.map((p) => path.relative(process.cwd(), p) || p).join(", ")}): it held an earlier build of the module`);
    return { result, ...(stale.length > 0 ? { removed: stale } : {}) };
  }
  // A component (TS/JS) has one OCI form: the CNCF Wasm artifact, with its imports, exports and world in the config.
  const component = result.metadata.component ? componentInterfaces(result.wasm) : undefined;
  const format = component ? "artifact" : opts.format === "artifact" ? "artifact" : "image";
  step(`writing OCI ${format === "artifact" ? `artifact${component ? ` (component, ${component.world ?? "no known world"})` : ""}` : "image"} to dist/oci`);
  const { writeImageLayout } = await import("@wasm-fn/oci");
  const layout = path.join(dir, "dist", "oci");
  const tarPath = opts.tar ? path.join(dir, "dist", `${result.metadata.name}.oci.tar`) : undefined;
  const written = await writeImageLayout(
    {
      name: result.metadata.name, version: result.metadata.version, wasm: result.wasm, ...(result.wasmedge ? { wasmedge: result.wasmedge } : {}),
      format, metadata: result.metadata as unknown as Record<string, unknown>, sourceDir: dir,
      ...(component ? { component: { imports: component.imports, exports: component.exports, target: component.world } } : {}),
    },
    layout,
    tarPath ? { tarPath } : {},
  );
  return { result, image: { manifestDigest: written.manifestDigest, totalSize: written.totalSize, layout, ...(written.tarPath ? { tarPath: written.tarPath } : {}) } };
}

/** The module digest an image layout records (dev.wasm-fn.function's wasm.sha256), or null. */
function imageModuleSha256(layout: string): string | null {
  try {
    const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8")) as { annotations?: Record<string, string> };
    const fn = JSON.parse(index.annotations?.["dev.wasm-fn.function"] ?? "{}") as { wasm?: { sha256?: string } };
    return fn.wasm?.sha256 ?? null;
  } catch {
    return null;
  }
}

/** `wasm-fn build [dir]`: dist/<name>.wasm + dist/<name>.json, and an OCI image in dist/oci unless --no-image. */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const dir = path.resolve(String(args[0] ?? "."));
  const json = Boolean(global.json);
  const t0 = performance.now();
  const { result, image, removed } = await buildAndPackage(dir, opts as Parameters<typeof buildAndPackage>[1], (s) => progress(json, s));
  const ms = Math.round(performance.now() - t0);
  const wasmedge = result.wasmedgePath && result.wasmedge ? { path: result.wasmedgePath, size: result.wasmedge.length } : undefined;
  print(json, { name: result.metadata.name, wasm: result.wasmPath, size: result.wasm.length, sha256: result.metadata.wasm.sha256, ...(wasmedge ? { wasmedge } : {}), image, ...(removed ? { removedStaleImage: removed } : {}), ms }, () => {
    const lines = [`built ${result.metadata.name} -> ${path.relative(process.cwd(), result.wasmPath) || result.wasmPath} (${kib(result.wasm.length)}) in ${ms} ms`];
    if (wasmedge) lines.push(`wasmedge form -> ${path.relative(process.cwd(), wasmedge.path)} (${kib(wasmedge.size)}; run it: wasmedge --env PORT=8080 ${path.relative(process.cwd(), wasmedge.path)})`);
    if (image) lines.push(`image ${image.manifestDigest} (${kib(image.totalSize)}) in ${path.relative(process.cwd(), image.layout)}${image.tarPath ? `, archive ${path.relative(process.cwd(), image.tarPath)}` : ""}`);
    return lines.join("\n");
  });
  return 0;
}

function kib(n: number): string {
  return `${(n / 1024).toFixed(1)} KiB`;
}
