import { Op } from "@wasm-fn/abi";
import type { Backend } from "../backend.js";
import { answer, Args } from "../errors.js";
import { requireGrant } from "../grants.js";
import type { Capability } from "../index.js";

/**
 * Configuration: (store, key...) -> key/value/version triples for the keys that exist.
 *
 * @example new CapabilityRouter([configCapability(backend)])
 */
export function configCapability(backend: Backend): Capability {
  return {
    name: "config",
    ops: [Op.CONFIG_GET],
    handle(_op, bytes, ctx) {
      const a = new Args(bytes, "config.get").need(1, "store, key...");
      const store = a.name(0, "configuration store"), keys = a.rest(1);
      requireGrant(ctx, "configuration", "config.get", store);
      return answer(() => backend.configGet(store, keys), (items) => items.flatMap((i) => [i.key, i.value, i.version]));
    },
  };
}
