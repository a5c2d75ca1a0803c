import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { BackendError, BackendErrors } from "../../capabilities/backend.js";

/** A Dapr component as the embedded backend reads it: name, type, plain metadata values. */
export interface ComponentSpec {
  name: string;
  type: string;
  metadata: Record<string, string>;
}

/**
 * Reads the Dapr component YAML in a resources directory (the same files `daprd --resources-path`
 * reads), so one folder describes the backends for `wasm-fn run` and `wasm-fn run --dapr`.
 * `secretKeyRef` values are not resolved here.
 *
 * @example const comps = await readComponents("examples/order-pipeline/components");
 */
export async function readComponents(dir: string): Promise<ComponentSpec[]> {
  let names: string[];
  try { names = (await readdir(dir)).filter((n) => /\.ya?ml$/i.test(n)).sort(); } catch {
    throw new BackendError(BackendErrors.NOT_CONFIGURED, `the resources path ${dir} cannot be read; pass a folder of Dapr component YAML files`);
  }
  const { parseAllDocuments } = await import("yaml");
  const out: ComponentSpec[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    for (const doc of parseAllDocuments(await readFile(file, "utf8"))) {
      if (doc.errors.length > 0) throw new BackendError(BackendErrors.INVALID, `${file}: not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
      const c = doc.toJS() as { kind?: string; metadata?: { name?: string }; spec?: { type?: string; metadata?: { name?: string; value?: unknown }[] } } | null;
      if (!c || c.kind !== "Component") continue;
      if (!c.metadata?.name || !c.spec?.type) throw new BackendError(BackendErrors.INVALID, `${file}: a Component needs metadata.name and spec.type`);
      const metadata: Record<string, string> = {};
      for (const m of c.spec.metadata ?? []) if (m.name && m.value !== undefined && m.value !== null) metadata[m.name] = String(m.value);
      out.push({ name: c.metadata.name, type: c.spec.type, metadata });
    }
  }
  return out;
}
