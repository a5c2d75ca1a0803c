import { ErrorCode, opName } from "@wasm-fn/abi";
import { CapabilityError, type HostCalls } from "../instance/instance.js";
import type { Invocation } from "../instance/invocation.js";
import type { Backend } from "./backend.js";
import { bindingsCapability } from "./bindings/index.js";
import { configCapability } from "./config/index.js";
import { httpCapability, type HttpCapabilityOptions } from "./http/index.js";
import { invokeCapability, LocalApps } from "./invoke/index.js";
import { pubsubCapability } from "./pubsub/index.js";
import { secretsCapability } from "./secrets/index.js";
import { stateCapability } from "./state/index.js";

/**
 * A host capability (state, pubsub, bindings, invoke, secrets, config, http): the ops it answers
 * and how. Capabilities never import each other; each talks to the backend it was given.
 */
export interface Capability {
  readonly name: string;
  readonly ops: readonly number[];
  /** Called by the router only with one of `ops`. */
  handle(op: number, args: Uint8Array, ctx: CallContext): Uint8Array | Promise<Uint8Array>;
}

/** What a capability knows about the call: the invocation and the function's grants. */
export interface CallContext {
  inv: Invocation;
  fn: {
    name: string; namespace: string; appId: string;
    /** The grants (FunctionConfig.permissions); a list left out grants nothing. */
    permissions: { hosts: string[]; states?: string[]; publish?: string[]; bindings?: string[]; secrets?: string[]; configuration?: string[]; invoke?: string[] };
  };
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

export interface CapabilitySetOptions {
  /** Functions of this shim reachable by app id without the sidecar. */
  local?: LocalApps;
  http?: HttpCapabilityOptions;
}

/**
 * Every capability, each wired to the one backend. Adding a capability is one folder and one line here.
 *
 * @example const caps = createCapabilities(new EmbeddedBackend({ file: ".wasm-fn/state.json" }), { local: apps });
 */
export function createCapabilities(backend: Backend, opts: CapabilitySetOptions = {}): Capability[] {
  return [
    stateCapability(backend),
    pubsubCapability(backend),
    bindingsCapability(backend),
    invokeCapability(backend, opts.local ?? new LocalApps()),
    secretsCapability(backend),
    configCapability(backend),
    httpCapability(opts.http),
  ];
}
