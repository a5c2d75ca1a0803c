import { clusterOf } from "./kube.js";
import { print } from "../output.js";

/** `wasm-fn status <name>`: ready replicas, each pod's phase and problem, recent events, in words. */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
    const cluster = await clusterOf(opts);
  const s = await cluster.status(String(opts.namespace ?? "default"), String(args[0]));
  print(Boolean(global.json), s, () => {
    const lines = [`${s.namespace}/${s.name}: ${s.ready}/${s.replicas} ready (${s.image})`];
    for (const p of s.pods) lines.push(`  pod ${p.name}: ${p.phase}${p.ready ? ", ready" : ""}${p.restarts ? `, ${p.restarts} restarts` : ""}${p.problem ? ` - ${p.problem.startsWith(p.name) ? p.problem.slice(p.name.length).replace(/^:? /, "") : p.problem}` : ""}`);
    if (s.events.length) lines.push("  recent events:");
    for (const e of s.events) lines.push(`    ${e.type} ${e.reason} ${e.object}: ${e.message}${e.count > 1 ? ` (x${e.count})` : ""}`);
    if (s.problem) lines.push(`problem: ${s.problem}`);
    return lines.join("\n");
  });
  return 0;
}
