import { ErrorCode, opName } from "@wasm-fn/abi";
import { CapabilityError, type HostCalls } from "../instance/instance.js";
import type { Invocation } from "../instance/invocation.js";

/**
 * A host capability (state, pubsub, bindings, invoke, secrets, config, http): the ops it answers
 * and how. Capabilities never import each other; each talks to the backend it was given.
 */
export interface Capability {
  readonly name: string;
  readonly ops: readonly number[];
  handle(op: number, args: Uint8Array, ctx: CallContext): Uint8Array | Promise<Uint8Array>;
}

/** What a capability knows about the call: the invocation and the function's grants. */
export interface CallContext {
  inv: Invocation;
  fn: { name: string; namespace: string; appId: string; permissions: { hosts: string[] } };
}

/** Routes `wfn.call` ops to capabilities. An op no capability serves fails with NOT_CONFIGURED or UNKNOWN_OP. */
export class CapabilityRouter {
  private readonly byOp = new Map<number, Capability>();
  constructor(capabilities: readonly Capability[]) {
    for (const c of capabilities) for (const op of c.ops) this.byOp.set(op, c);
  }
  /** The HostCalls a function's instances use. */
  forFunction(fn: CallContext["fn"]): HostCalls {
    return {
      call: (op, args, inv) => {
        const cap = this.byOp.get(op);
        if (cap) return cap.handle(op, args, { inv, fn });
        const name = opName(op);
        if (name) throw new CapabilityError(ErrorCode.NOT_CONFIGURED, `${name} has no backend in this host: start \`wasm-fn run\` with a backend for it (the embedded backend, or --dapr)`);
        throw new CapabilityError(ErrorCode.UNKNOWN_OP, `op ${op} is not part of the wasm-fn ABI v1`);
      },
    };
  }
}
