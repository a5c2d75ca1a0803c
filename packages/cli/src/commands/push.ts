import { stat } from "node:fs/promises";
import path from "node:path";
import { WfnError } from "@wasm-fn/abi";
import { print } from "../output.js";

/** Finds the layout to push: `<dir>/dist/oci` (what `wasm-fn build` writes), or `<dir>` if it is a layout itself. */
async function layoutFor(dirArg: string | undefined): Promise<string> {
  const dir = path.resolve(dirArg ?? ".");
  const isLayout = (p: string): Promise<boolean> => stat(path.join(p, "oci-layout")).then(() => true, () => false);
  const built = path.join(dir, "dist", "oci");
  if (await isLayout(built)) return built;
  if (await isLayout(dir)) return dir;
  const rel = path.relative(process.cwd(), dir) || ".";
  throw new WfnError("WFN_OCI_LAYOUT_NOT_BUILT", `no image in ${path.join(rel, "dist", "oci")}: run 'wasm-fn build${dirArg ? ` ${dirArg}` : ""}' first`);
}

/** `wasm-fn push <ref> [dir]`: stdout gets the pushed digest (or {ref, digest, size}); progress goes to stderr. */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const json = Boolean(global.json);
  const ref = String(args[0]);
  const layout = await layoutFor(args[1] === undefined ? undefined : String(args[1]));
  const { pushLayout, transferReporter, humanSize, shortDigest } = await import("@wasm-fn/oci");
  const report = transferReporter((line) => { if (!json) process.stderr.write(line); });
  const counts = { exists: 0, mounted: 0, uploaded: 0 };
  const t0 = performance.now();
  const result = await pushLayout(layout, ref, {
    insecure: Boolean(opts.insecure),
    onProgress: report,
    onEvent: (e) => {
      if (e.action !== "uploading") counts[e.action]++;
      if (json) return;
      const what = e.action === "mounted" ? `mounted from ${e.from}` : e.action;
      process.stderr.write(`  ${shortDigest(e.digest)} ${humanSize(e.size)} ${what}\n`);
    },
  });
  const ms = Math.round(performance.now() - t0);
  if (!json) process.stderr.write(`pushed ${result.ref} (${humanSize(result.totalSize)}; ${counts.uploaded} uploaded, ${counts.mounted} mounted, ${counts.exists} already there) in ${ms} ms\n`);
  print(json, { ref: result.ref, digest: result.digest, size: result.size }, () => result.digest);
  return 0;
}
