/**
 * `fresh` isolation gives every invocation pristine memory, in one of two ways:
 * - "new": a new instance per invocation (instantiate from the compiled module + run the initialiser);
 * - "reset": one instance, whose memory and mutable globals are restored after each invocation.
 * Which is faster depends on the module (a reset copies all of the initial memory; an instantiation
 * copies data segments and runs the initialiser), so it is measured per module when it loads.
 */
import { Instance, type HostCalls, type InstanceOptions } from "./instance.js";
import type { SnapshotPlan } from "./snapshot.js";

export interface FreshStrategy {
  kind: "reset" | "new";
  /** The globals to save; null when the module could not be rewritten to export them. */
  plan: SnapshotPlan | null;
  /** Measured cost of one new instance and one reset, in microseconds (reset: NaN when impossible). */
  newUs: number;
  resetUs: number;
}

const ROUNDS = 25;

/** Times both ways on this module and picks the faster one. Runs the initialiser ~2x ROUNDS times. */
export function chooseFresh(module: WebAssembly.Module, plan: SnapshotPlan | null, host: HostCalls, opts: InstanceOptions, source: string): FreshStrategy {
  const base = { ...opts, sliceMs: Infinity };
  const make = () => { const i = new Instance(module, host, base, source); i.init(); return i; };
  for (let k = 0; k < 5; k++) make();
  let t = performance.now();
  for (let k = 0; k < ROUNDS; k++) make();
  const newUs = ((performance.now() - t) * 1000) / ROUNDS;
  if (!plan) return { kind: "new", plan: null, newUs, resetUs: NaN };
  // WFN_FRESH_STRATEGY=reset|new overrides the measurement (a reset needs a plan and a working reset).
  const forced = process.env.WFN_FRESH_STRATEGY;
  if (forced === "new") return { kind: "new", plan, newUs, resetUs: NaN };
  const inst = new Instance(module, host, { ...base, snapshot: plan }, source);
  inst.init();
  for (let k = 0; k < 5; k++) inst.reset();
  t = performance.now();
  let ok = true;
  for (let k = 0; k < ROUNDS; k++) ok = inst.reset() && ok;
  const resetUs = ((performance.now() - t) * 1000) / ROUNDS;
  return { kind: ok && (forced === "reset" || resetUs < newUs) ? "reset" : "new", plan, newUs, resetUs };
}
