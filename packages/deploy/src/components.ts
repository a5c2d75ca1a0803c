import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { WfnError } from "@wasm-fn/abi";
import type { KubeObject } from "./manifests.js";

/**
 * The Dapr Components in a resources folder (the files `daprd --resources-path` reads), whole, to
 * create on the cluster beside the function. Their values are the cluster's to get right (a
 * `redisHost: localhost:6379` that works beside `wasm-fn run` does not inside a pod).
 */
export async function readComponentObjects(dir: string): Promise<KubeObject[]> {
  let names: string[];
  try { names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort(); } catch {
    throw new WfnError("WFN_USAGE", `the resources path ${dir} cannot be read; pass a folder of Dapr component YAML files`);
  }
  const { parseAllDocuments } = await import("yaml");
  const out: KubeObject[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    for (const doc of parseAllDocuments(await readFile(file, "utf8"))) {
      if (doc.errors.length > 0) throw new WfnError("WFN_USAGE", `${file}: not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
      const c = doc.toJS() as KubeObject | null;
      if (!c || c.kind !== "Component") continue;
      if (!c.metadata?.name || !(c.spec as { type?: string } | undefined)?.type) throw new WfnError("WFN_USAGE", `${file}: a Component needs metadata.name and spec.type`);
      out.push({ ...c, apiVersion: c.apiVersion ?? "dapr.io/v1alpha1", metadata: { name: c.metadata.name, ...(c.metadata.labels ? { labels: c.metadata.labels } : {}), ...(c.metadata.annotations ? { annotations: c.metadata.annotations } : {}) } });
    }
  }
  return out;
}
