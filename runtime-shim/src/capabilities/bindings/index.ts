import { encodeMap, Op } from "@wasm-fn/abi";
import type { Backend } from "../backend.js";
import { answer, Args } from "../errors.js";
import { requireGrant } from "../grants.js";
import type { Capability } from "../index.js";

/**
 * Output bindings: (name, operation, data, metadata) -> (data, metadata), e.g. an HTTP binding's
 * "post" with metadata {path: "/metrics/job/cars"}.
 *
 * @example new CapabilityRouter([bindingsCapability(backend)])
 */
export function bindingsCapability(backend: Backend): Capability {
  return {
    name: "bindings",
    ops: [Op.BINDING_INVOKE],
    handle(_op, bytes, ctx) {
      const a = new Args(bytes, "bindings.invoke").need(2, "binding, operation, data, metadata");
      const name = a.name(0, "binding name"), operation = a.name(1, "operation");
      requireGrant(ctx, "bindings", "bindings.invoke", name);
      const data = a.bytes(2), metadata = a.map(3);
      return answer(() => backend.invokeBinding(name, operation, data, metadata), (r) => [r.data, encodeMap(r.metadata)]);
    },
  };
}
