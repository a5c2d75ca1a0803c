import { ErrorCode } from "@wasm-fn/abi";
import { CapabilityError } from "../instance/instance.js";
import type { CallContext } from "./index.js";

/**
 * Per-function scoping: a function reaches only the stores, topics, bindings and app ids its
 * wasm-fn.yaml names. One rule for every capability and both backends: a name not granted is
 * DENIED, whether or not the backend has it, and the message says what to add. The backend is
 * never asked, so an ungranted name can neither create a store nor swallow an event.
 */
type Kind = "states" | "secrets" | "configuration" | "bindings";

const HOW: Record<Kind, (name: string) => string> = {
  states: (n) => `add it under states: (states: [${n}])`,
  secrets: (n) => `add it under permissions.secrets (permissions: {secrets: [${n}]})`,
  configuration: (n) => `add it under permissions.configuration (permissions: {configuration: [${n}]})`,
  bindings: (n) => `add it under permissions.bindings (permissions: {bindings: [${n}]}), or as an output`,
};
const WHAT: Record<Kind, string> = { states: "state store", secrets: "secret store", configuration: "configuration store", bindings: "output binding" };

/** Throws DENIED unless the function's config grants the named component. */
export function requireGrant(ctx: CallContext, kind: Kind, op: string, name: string): void {
  if ((ctx.fn.permissions[kind] ?? []).includes(name)) return;
  throw new CapabilityError(ErrorCode.DENIED, `${op}: ${WHAT[kind]} '${name}' is not granted to function '${ctx.fn.name}'; in its wasm-fn.yaml ${HOW[kind](name)}`);
}

/** Throws DENIED unless an output names this pubsub and topic (or the pubsub with no topic). */
export function requirePublish(ctx: CallContext, pubsub: string, topic: string): void {
  const granted = ctx.fn.permissions.publish ?? [];
  if (granted.includes(`${pubsub}/${topic}`) || granted.includes(`${pubsub}/*`)) return;
  throw new CapabilityError(ErrorCode.DENIED, `pubsub.publish: topic '${topic}' of pubsub '${pubsub}' is not granted to function '${ctx.fn.name}'; in its wasm-fn.yaml add it under permissions.publish (permissions: {publish: [${pubsub}/${topic}]}), or as an output`);
}

/** Throws DENIED unless permissions.invoke names the app id (any method) or app-id/method-prefix. */
export function requireInvoke(ctx: CallContext, appId: string, method: string): void {
  for (const g of ctx.fn.permissions.invoke ?? []) {
    const slash = g.indexOf("/");
    if (slash < 0 ? g === appId : g.slice(0, slash) === appId && underPrefix(method, g.slice(slash + 1))) return;
  }
  throw new CapabilityError(ErrorCode.DENIED, `invoke.call: app '${appId}' (method '${method}') is not granted to function '${ctx.fn.name}'; in its wasm-fn.yaml add it under permissions.invoke (permissions: {invoke: [${appId}]}, or ${appId}/<method-prefix>)`);
}

/** "orders/new" is under "orders" and "orders/", not under "ord"; ".." segments never match. */
function underPrefix(target: string, prefix: string): boolean {
  const p = prefix.replace(/^\/+|\/+$/g, "");
  const method = target.split("?")[0]!.replace(/^\/+/, "");
  if (method.split("/").some((s) => s === ".." || s === "." || /%2e|%2f/i.test(s))) return false;
  return method === p || method.startsWith(`${p}/`) || p === "";
}
