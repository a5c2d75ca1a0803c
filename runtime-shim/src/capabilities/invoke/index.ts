import { ErrorCode, Op } from "@wasm-fn/abi";
import { CapabilityError } from "../../instance/instance.js";
import type { Backend, InvokeResult } from "../backend.js";
import { answer, Args } from "../errors.js";
import { requireInvoke } from "../grants.js";
import type { Capability } from "../index.js";

/** A function in this shim that other functions can call by its app id. */
export interface LocalApp {
  invoke(req: { method: string; verb: string; data: Uint8Array; contentType: string; callerAppId: string }): Promise<InvokeResult>;
}

/**
 * App ids served by this process. A call to one of them never leaves the process (no sidecar
 * hop, no serialisation through daprd); any other id goes to the backend (daprd).
 *
 * @example const apps = new LocalApps(); apps.set("orders", ordersFn); invokeCapability(backend, apps)
 */
export class LocalApps {
  private readonly apps = new Map<string, LocalApp>();
  set(appId: string, app: LocalApp): void { this.apps.set(appId, app); }
  get(appId: string): LocalApp | undefined { return this.apps.get(appId); }
  delete(appId: string): void { this.apps.delete(appId); }
  ids(): string[] { return [...this.apps.keys()]; }
}

const VERBS = new Set(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]);

/**
 * Service invocation: (appId, method, verb, data, contentType) -> (status, data, contentType).
 * A non-2xx answer of the callee is a result (status), not an error; only "could not reach it" is.
 *
 * @example new CapabilityRouter([invokeCapability(backend, localApps)])
 */
export function invokeCapability(backend: Backend, local: LocalApps): Capability {
  return {
    name: "invoke",
    ops: [Op.INVOKE],
    handle(_op, bytes, ctx) {
      const a = new Args(bytes, "invoke.call").need(2, "appId, method, verb, data, contentType");
      const appId = a.name(0, "app id");
      const method = a.str(1).replace(/^\/+/, "");
      const verb = (a.str(2) || "POST").toUpperCase();
      if (!VERBS.has(verb)) throw new CapabilityError(ErrorCode.INVALID_ARGUMENT, `invoke.call: verb must be one of ${[...VERBS].join(", ")}, got "${verb}"`);
      requireInvoke(ctx, appId, method);
      const data = a.bytes(3), contentType = a.str(4) || "application/json";
      const encode = (r: InvokeResult) => [String(r.status), r.data, r.contentType];
      const target = local.get(appId);
      if (target) return answer(() => target.invoke({ method, verb, data, contentType, callerAppId: ctx.fn.appId }), encode);
      return answer(() => backend.invoke({ appId, method, verb, data, contentType }), encode);
    },
  };
}
