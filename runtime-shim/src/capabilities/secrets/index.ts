import { Op } from "@wasm-fn/abi";
import type { Backend } from "../backend.js";
import { answer, Args } from "../errors.js";
import { requireGrant } from "../grants.js";
import type { Capability } from "../index.js";

/**
 * Secrets: (store, key, metadata) -> name/value pairs (a secret may hold several values).
 *
 * @example new CapabilityRouter([secretsCapability(backend)])
 */
export function secretsCapability(backend: Backend): Capability {
  return {
    name: "secrets",
    ops: [Op.SECRET_GET],
    handle(_op, bytes, ctx) {
      const a = new Args(bytes, "secrets.get").need(2, "store, key, metadata");
      const store = a.name(0, "secret store"), key = a.name(1, "key"), metadata = a.map(2);
      requireGrant(ctx, "secrets", "secrets.get", store);
      return answer(() => backend.secretGet(store, key, metadata), (m) => Object.entries(m).flat());
    },
  };
}
