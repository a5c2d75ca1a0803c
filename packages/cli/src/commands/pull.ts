import path from "node:path";
import { print } from "../output.js";

/** `wasm-fn pull <ref|x.oci.tar>`: into the verified cache; prints the manifest digest and the module's path. */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const json = Boolean(global.json);
  const target = String(args[0]);
  const oci = await import("@wasm-fn/oci");
  const t0 = performance.now();
  // A file named *.tar is an oci-archive to import; anything else is a registry reference.
  const fromArchive = await oci.isArchivePath(target);
  const pulled = fromArchive
    ? await oci.loadArchiveToCache(path.resolve(target))
    : await oci.pullToCache(target, { insecure: Boolean(opts.insecure), onProgress: oci.transferReporter((line) => { if (!json) process.stderr.write(line); }) });
  const ms = Math.round(performance.now() - t0);
  if (!json) process.stderr.write(`pulled ${target} in ${ms} ms (cache: ${oci.ociCacheDir()})\n`);
  print(json, { ref: target, digest: pulled.manifestDigest, wasmPath: pulled.wasmPath, layoutDir: pulled.layoutDir, metadata: pulled.metadata }, () => `digest: ${pulled.manifestDigest}\nwasm: ${pulled.wasmPath}`);
  return 0;
}
