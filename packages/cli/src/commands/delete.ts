import { WfnError } from "@wasm-fn/abi";
import { clusterOf } from "./kube.js";
import { print, progress } from "../output.js";

/** `wasm-fn delete <name>`: removes what `wasm-fn deploy` made for the function (found by its labels). */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const json = Boolean(global.json);
  const { KubeErrors } = await import("@wasm-fn/deploy");
  const cluster = await clusterOf(opts);
  const namespace = String(opts.namespace ?? "default");
  const name = String(args[0]);
  progress(json, `deleting ${namespace}/${name} from ${cluster.server}`);
  const gone = await cluster.remove(namespace, name);
  if (gone.length === 0) throw new WfnError(KubeErrors.NOT_FOUND, `nothing of function ${name} in namespace ${namespace} (no object labelled by wasm-fn deploy); check the name and --namespace`);
  print(json, { namespace, name, deleted: gone }, () => `deleted ${gone.join(", ")} from ${namespace}`);
  return 0;
}
