import { WfnError } from "@wasm-fn/abi";
import type { Cluster } from "@wasm-fn/deploy";

/** The cluster that deploy, status and delete talk to: --kubeconfig, --context and --request-timeout. */
export async function clusterOf(opts: Record<string, unknown>): Promise<Cluster> {
  const { Cluster } = await import("@wasm-fn/deploy");
  return new Cluster({
    ...(opts.kubeconfig ? { kubeconfig: String(opts.kubeconfig) } : {}),
    ...(opts.context ? { context: String(opts.context) } : {}),
    ...(opts.requestTimeout !== undefined ? { requestTimeoutMs: await durationMs(String(opts.requestTimeout), "--request-timeout") } : {}),
  });
}

/** A duration as wasm-fn.yaml writes them (120s, 5m, 250ms); a bare number is seconds. */
export async function durationMs(s: string, flag: string): Promise<number> {
  const { toMs } = await import("@wasm-fn/build");
  const ms = toMs(/^\d+$/.test(s.trim()) ? `${s.trim()}s` : s);
  if (!Number.isFinite(ms) || ms <= 0) throw new WfnError("WFN_USAGE", `${flag} takes a duration like 120s or 5m, got '${s}'`);
  return ms;
}
