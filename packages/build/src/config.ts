import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { WfnError } from "@wasm-fn/abi";
import { BuildErrors } from "./errors.js";

/** A Dapr component a function consumes from or writes to (OpenFunction `inputs[].dapr` / `outputs[].dapr`). */
export interface DaprRef {
  name: string;
  type?: string;
  topic?: string;
  operation?: string;
  metadata?: Record<string, string>;
  /** Pubsub inputs only: where an event goes once its retries are spent or the function drops it (Dapr's subscription field). */
  deadLetterTopic?: string;
}

/**
 * How an async function's failed deliveries are tried again (`retry:`), in the terms of a Dapr
 * Resiliency retry policy: `constant` waits `duration` between tries; `exponential` waits
 * `duration`, then twice that each time, up to `maxInterval`. After `maxRetries` retries the event
 * goes to the input's `deadLetterTopic` (or is dropped, with an error log).
 */
export interface RetryPolicy {
  policy: "constant" | "exponential";
  durationMs: number;
  maxIntervalMs: number;
  maxRetries: number;
}

/**
 * A function's config (`wasm-fn.yaml`). Field names follow OpenFunction's Function v1beta2
 * (`triggers.http.route`, `scaleOptions.minReplicas`, `inputs`, `outputs`) where the idea is the same.
 */
export interface FunctionConfig {
  name: string;
  namespace: string;
  version: string;
  /** as: AssemblyScript, c: C (both the wasm-fn ABI); ts, js: a wasi:http/proxy component (docs/typescript.md). */
  lang: "as" | "c" | "ts" | "js";
  /** Handler source, relative to the function's directory. */
  entry: string;
  triggers: {
    http?: { route?: { paths?: string[]; hostnames?: string[] } };
    /** Async triggers, as OpenFunction's `triggers.dapr`. */
    dapr?: DaprRef[];
  };
  inputs: { dapr: DaprRef }[];
  outputs: { dapr: DaprRef }[];
  scaleOptions: { minReplicas: number; maxReplicas: number; idleTimeoutMs: number; maxQueue: number };
  /** reuse: instances serve many requests; fresh: pristine memory per request; worker: reuse, always on worker threads. */
  isolation: "reuse" | "fresh" | "worker";
  limits: {
    timeoutMs: number; memoryPages: number; requestBytes: number; responseBytes: number;
    /** Guest log budgets (`limits.log`): message bytes and lines per request and per second, and the longest line. */
    log?: { requestBytes: number; requestLines: number; secondBytes: number; secondLines: number; lineBytes: number };
    /** Host-call pacing per invocation (`limits.hostCalls`): this many at once, then this many a second. */
    hostCalls?: { burst: number; perSecond: number };
  };
  /** State stores this function may use (`states:`, a list of names or OpenFunction's map of name -> component). */
  states: string[];
  /**
   * What the function may reach, by name: `permissions:` as written (hosts, secrets, configuration,
   * invoke, publish, bindings), plus `states:` and the outputs (an output also receives the return
   * value of an async function; `permissions.publish`/`bindings` grant host calls only), so every
   * host checks one object. Anything not named here is DENIED.
   */
  permissions: Grants;
  /** The Dapr app id other apps use to invoke this function (default: name). */
  appId: string;
  /** Retries of events the function answers RETRY (or traps, times out, or whose outputs fail). */
  retry: RetryPolicy;
}

/** A function's grants, as every host checks them (see FunctionConfig.permissions). */
export interface Grants {
  hosts: string[];
  secrets: string[];
  configuration: string[];
  /** "appId" (any method) or "appId/method-prefix". */
  invoke: string[];
  states: string[];
  publish: string[];
  bindings: string[];
}

type Shape =
  | { t: "string"; enum?: readonly string[]; pattern?: RegExp; hint?: string }
  | { t: "int"; min?: number; max?: number }
  | { t: "size" } // "1Mi", "512Ki", 1048576
  | { t: "duration" } // "30s", "250ms", 1000 (ms)
  | { t: "list"; of: Shape }
  | { t: "map" } // string -> string
  | { t: "names" } // a list of names, or a map whose keys are names (OpenFunction's `states`)
  | { t: "object"; fields: Record<string, Shape>; required?: readonly string[] };

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Dapr component name. */
const COMPONENT = /^[A-Za-z0-9_]([-_.A-Za-z0-9]{0,252})$/;
const PUBLISH = /^[A-Za-z0-9_][-_.A-Za-z0-9]{0,252}\/\S+$/;
const INVOKE = /^[A-Za-z0-9]([-_.A-Za-z0-9]{0,62})(\/[^\s?#]+)?$/;
const daprRef: Shape = {
  t: "object",
  required: ["name"],
  fields: { name: { t: "string" }, type: { t: "string" }, topic: { t: "string" }, operation: { t: "string" }, metadata: { t: "map" } },
};
/** An input also names its dead-letter topic (outputs have none). */
const TOPIC = /^[^\s]{1,255}$/;
const inputRef: Shape = { ...daprRef, fields: { ...daprRef.fields, deadLetterTopic: { t: "string", pattern: TOPIC, hint: "a topic name without spaces" } } };
const retryShape: Shape = {
  t: "object",
  fields: { policy: { t: "string", enum: ["exponential", "constant"] }, duration: { t: "duration" }, maxInterval: { t: "duration" }, maxRetries: { t: "int", min: 0, max: 1000 } },
};

const logBudget: Shape = { t: "object", fields: { bytes: { t: "size" }, lines: { t: "int", min: 0 } } };
const logLimits: Shape = { t: "object", fields: { perRequest: logBudget, perSecond: logBudget, maxLine: { t: "size" } } };

const schema: Shape = {
  t: "object",
  required: ["name"],
  fields: {
    name: { t: "string", pattern: NAME, hint: "lower-case letters, digits and '-', at most 63 characters (a DNS label)" },
    namespace: { t: "string", pattern: NAME, hint: "a DNS label" },
    version: { t: "string" },
    lang: { t: "string", enum: ["as", "c", "ts", "js"] },
    entry: { t: "string" },
    appId: { t: "string", pattern: NAME, hint: "a DNS label" },
    triggers: {
      t: "object",
      fields: {
        http: { t: "object", fields: { route: { t: "object", fields: { paths: { t: "list", of: { t: "string", pattern: /^\/[^\s?#]*$/, hint: "a path starting with '/'" } }, hostnames: { t: "list", of: { t: "string" } } } } } },
        dapr: { t: "list", of: inputRef },
      },
    },
    inputs: { t: "list", of: { t: "object", required: ["dapr"], fields: { dapr: inputRef } } },
    outputs: { t: "list", of: { t: "object", required: ["dapr"], fields: { dapr: daprRef } } },
    scaleOptions: { t: "object", fields: { minReplicas: { t: "int", min: 0, max: 10000 }, maxReplicas: { t: "int", min: 1, max: 10000 }, idleTimeout: { t: "duration" }, maxQueue: { t: "int", min: 0 } } },
    isolation: { t: "string", enum: ["reuse", "fresh", "worker"] },
    retry: retryShape,
    limits: { t: "object", fields: { timeout: { t: "duration" }, memory: { t: "size" }, requestBody: { t: "size" }, responseBody: { t: "size" }, log: logLimits, hostCalls: { t: "object", fields: { burst: { t: "int", min: 1, max: 1_000_000 }, perSecond: { t: "int", min: 1, max: 1_000_000 } } } } },
    states: { t: "names" },
    permissions: {
      t: "object",
      fields: {
        hosts: { t: "list", of: { t: "string" } },
        secrets: { t: "list", of: { t: "string", pattern: COMPONENT, hint: "a secret store's component name" } },
        configuration: { t: "list", of: { t: "string", pattern: COMPONENT, hint: "a configuration store's component name" } },
        invoke: { t: "list", of: { t: "string", pattern: INVOKE, hint: "an app id, or app-id/method-prefix, e.g. orders or orders/api/v1" } },
        publish: { t: "list", of: { t: "string", pattern: PUBLISH, hint: "pubsub/topic, e.g. pubsub/orders" } },
        bindings: { t: "list", of: { t: "string", pattern: COMPONENT, hint: "an output binding's component name" } },
      },
    },
  },
};

export const CONFIG_FILE = "wasm-fn.yaml";

/** One async input of a function: a pubsub topic or an input binding. */
export interface EventInput {
  kind: "pubsub" | "binding";
  /** Component name (pubsub or binding). */
  name: string;
  topic: string;
  metadata: Record<string, string>;
  /** Pubsub only: the topic (same pubsub) that gets events whose retries are spent or that were dropped. */
  deadLetterTopic?: string;
}

/**
 * A function's async inputs, from OpenFunction's `inputs[].dapr` and `triggers.dapr`: one rule for
 * both hosts (the Node shim's Dapr app and the WasmEdge adapter's config).
 */
export function eventInputs(config: FunctionConfig): EventInput[] {
  const refs: DaprRef[] = [...config.inputs.map((i) => i.dapr), ...(config.triggers.dapr ?? [])];
  return refs.map((r) => {
    const kind = inputKind(r);
    if (kind === "pubsub" && !r.topic) throw new Error(`${config.name}: input '${r.name}' is a pubsub (${r.type}) but names no topic; add topic: <name>`);
    return { kind, name: r.name, topic: r.topic ?? "", metadata: r.metadata ?? {}, ...(kind === "pubsub" && r.deadLetterTopic ? { deadLetterTopic: r.deadLetterTopic } : {}) };
  });
}

function inputKind(r: DaprRef): "pubsub" | "binding" {
  return r.type?.startsWith("bindings.") ? "binding" : r.type?.startsWith("pubsub.") || r.topic ? "pubsub" : "binding";
}

/** A dead-letter topic makes sense on a pubsub input only, and not as the topic it guards (it would loop). */
function checkDeadLetters(c: Record<string, any>, where: string): void {
  const refs: [string, DaprRef][] = [
    ...((c.inputs ?? []) as { dapr: DaprRef }[]).map((i, n): [string, DaprRef] => [`inputs[${n}].dapr`, i.dapr]),
    ...((c.triggers?.dapr ?? []) as DaprRef[]).map((r, n): [string, DaprRef] => [`triggers.dapr[${n}]`, r]),
  ];
  for (const [at, r] of refs) {
    if (r.deadLetterTopic === undefined) continue;
    if (inputKind(r) === "binding") fail(where, `${at}.deadLetterTopic`, `is for pubsub inputs only ('${r.name}' is an input binding, which has no dead-letter topic); remove it`);
    if (r.deadLetterTopic === r.topic) fail(where, `${at}.deadLetterTopic`, `must differ from the input's topic '${r.topic}' (a failed event would come straight back)`);
  }
}

/** True when an output (`outputs[].dapr`) is a pubsub topic rather than an output binding. */
export function isPubsubOutput(o: DaprRef): boolean {
  return Boolean(o.type?.startsWith("pubsub.") || (!o.type && o.topic));
}

/** The route daprd delivers a (pubsub, topic) to, in both hosts. */
export const TOPIC_ROUTE_PREFIX = "/_wfn/dapr/topics/";
export function topicRoute(pubsub: string, topic: string): string {
  return `${TOPIC_ROUTE_PREFIX}${encodeURIComponent(pubsub)}/${encodeURIComponent(topic)}`;
}

/** Reads and validates `<dir>/wasm-fn.yaml`. Unknown keys are an error that names them. */
export async function loadConfig(dir: string): Promise<FunctionConfig> {
  return (await loadConfigFile(dir)).config;
}

/**
 * Like loadConfig, also returning the document as written (validated, without defaults): that is
 * what metadata and images carry, so a later reader applies its own defaults to it.
 */
export async function loadConfigFile(dir: string): Promise<{ config: FunctionConfig; source: Record<string, unknown> }> {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new WfnError(BuildErrors.CONFIG_MISSING, `no ${CONFIG_FILE} in ${dir}: run \`wasm-fn init ${dir}\` to scaffold a function, or pass the function's directory`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new WfnError(BuildErrors.CONFIG_INVALID, `${file}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  return { config: normalizeConfig(raw, file), source: raw as Record<string, unknown> };
}

const DEFAULT_ENTRY: Record<FunctionConfig["lang"], string> = { as: "assembly/index.ts", c: "main.c", ts: "src/index.ts", js: "src/index.js" };

/** Validates a parsed config object and fills in defaults. */
export function normalizeConfig(raw: unknown, where = CONFIG_FILE): FunctionConfig {
  check(raw, schema, "", where);
  const c = raw as Record<string, any>;
  const lang = (c.lang ?? "as") as FunctionConfig["lang"];
  const scale = c.scaleOptions ?? {};
  const limits = c.limits ?? {};
  const minReplicas = scale.minReplicas ?? 0;
  const maxReplicas = scale.maxReplicas ?? 64;
  if (minReplicas > maxReplicas) throw new WfnError(BuildErrors.CONFIG_INVALID, `${where}: scaleOptions.minReplicas (${minReplicas}) is above maxReplicas (${maxReplicas})`);
  checkDeadLetters(c, where);
  const retry = c.retry ?? {};
  return {
    name: c.name,
    namespace: c.namespace ?? "default",
    version: c.version ?? "0.1.0",
    lang,
    entry: c.entry ?? DEFAULT_ENTRY[lang],
    appId: c.appId ?? c.name,
    triggers: c.triggers ?? { http: {} },
    inputs: c.inputs ?? [],
    outputs: c.outputs ?? [],
    scaleOptions: { minReplicas, maxReplicas, idleTimeoutMs: toMs(scale.idleTimeout ?? "60s"), maxQueue: scale.maxQueue ?? 1024 },
    isolation: c.isolation ?? "reuse",
    limits: {
      timeoutMs: toMs(limits.timeout ?? "10s"),
      // A component (ts/js) carries SpiderMonkey, whose heap settles near 90 MiB under steady load and which
      // aborts when its GC cannot grow memory (docs/typescript.md, "Memory"): it needs the headroom.
      memoryPages: Math.ceil(toBytes(limits.memory ?? (lang === "ts" || lang === "js" ? "256Mi" : "64Mi")) / 65536),
      requestBytes: toBytes(limits.requestBody ?? "1Mi"),
      responseBytes: toBytes(limits.responseBody ?? "8Mi"),
      log: {
        requestBytes: toBytes(limits.log?.perRequest?.bytes ?? "64Ki"),
        requestLines: limits.log?.perRequest?.lines ?? 1000,
        secondBytes: toBytes(limits.log?.perSecond?.bytes ?? "1Mi"),
        secondLines: limits.log?.perSecond?.lines ?? 10000,
        lineBytes: toBytes(limits.log?.maxLine ?? "16Ki"),
      },
      hostCalls: { burst: limits.hostCalls?.burst ?? 100, perSecond: limits.hostCalls?.perSecond ?? 200 },
    },
    states: stateNames(c.states),
    permissions: grantsOf(c),
    // Dapr's exponential policy starts at 500 ms too; 5 retries wait 0.5+1+2+4+8 s, inside pubsub.redis's 60 s processingTimeout.
    retry: { policy: retry.policy ?? "exponential", durationMs: toMs(retry.duration ?? "500ms"), maxIntervalMs: toMs(retry.maxInterval ?? "10s"), maxRetries: retry.maxRetries ?? 5 },
  };
}

function stateNames(v: unknown): string[] {
  if (Array.isArray(v)) return v as string[];
  return isObject(v) ? Object.keys(v) : [];
}

/** The grants of a validated config document: what it names under permissions, states and outputs. */
function grantsOf(c: Record<string, any>): Grants {
  const outputs: DaprRef[] = (c.outputs ?? []).map((o: { dapr: DaprRef }) => o.dapr);
  return {
    hosts: c.permissions?.hosts ?? [],
    secrets: c.permissions?.secrets ?? [],
    configuration: c.permissions?.configuration ?? [],
    invoke: c.permissions?.invoke ?? [],
    states: stateNames(c.states),
    publish: [...(c.permissions?.publish ?? []), ...outputs.filter(isPubsubOutput).map((o) => `${o.name}/${o.topic ?? "*"}`)],
    bindings: [...(c.permissions?.bindings ?? []), ...outputs.filter((o) => !isPubsubOutput(o)).map((o) => o.name)],
  };
}

function fail(where: string, at: string, msg: string): never {
  throw new WfnError(BuildErrors.CONFIG_INVALID, `${where}: ${at || "the document"} ${msg}`);
}

function check(v: unknown, s: Shape, at: string, where: string): void {
  switch (s.t) {
    case "string":
      if (typeof v !== "string") fail(where, at, `must be a string, got ${describe(v)}`);
      if (s.enum && !s.enum.includes(v)) fail(where, at, `must be one of ${s.enum.join(", ")}, got '${v}'`);
      if (s.pattern && !s.pattern.test(v)) fail(where, at, `'${v}' is not valid: ${s.hint ?? s.pattern}`);
      return;
    case "int":
      if (typeof v !== "number" || !Number.isInteger(v)) fail(where, at, `must be a whole number, got ${describe(v)}`);
      if ((s.min !== undefined && v < s.min) || (s.max !== undefined && v > s.max)) fail(where, at, `must be between ${s.min ?? "-inf"} and ${s.max ?? "inf"}, got ${v}`);
      return;
    case "size":
      if (!Number.isFinite(toBytes(v))) fail(where, at, `must be a size like 1Mi, 512Ki or a byte count, got ${describe(v)}`);
      return;
    case "duration":
      if (!Number.isFinite(toMs(v))) fail(where, at, `must be a duration like 30s, 250ms, 2m or milliseconds, got ${describe(v)}`);
      return;
    case "list":
      if (!Array.isArray(v)) fail(where, at, `must be a list, got ${describe(v)}`);
      v.forEach((item, i) => check(item, s.of, `${at}[${i}]`, where));
      return;
    case "map":
      if (!isObject(v)) fail(where, at, `must be a map of strings, got ${describe(v)}`);
      for (const [k, x] of Object.entries(v)) if (typeof x !== "string") fail(where, `${at}.${k}`, `must be a string (quote numbers and booleans), got ${describe(x)}`);
      return;
    case "names": {
      const names = Array.isArray(v) ? v : isObject(v) ? Object.keys(v) : fail(where, at, `must be a list of state store names, or a map of name -> component spec, got ${describe(v)}`);
      names.forEach((n, i) => { if (typeof n !== "string" || !COMPONENT.test(n)) fail(where, Array.isArray(v) ? `${at}[${i}]` : `${at}.${String(n)}`, `must be a state store's component name, got ${describe(n)}`); });
      if (isObject(v)) for (const [k, x] of Object.entries(v)) if (x !== null && !isObject(x)) fail(where, `${at}.${k}`, `must be a component spec (a map, e.g. {spec: {type: state.redis}}) or empty, got ${describe(x)}`);
      return;
    }
    case "object": {
      if (!isObject(v)) fail(where, at, `must be a map, got ${describe(v)}`);
      const unknown = Object.keys(v).filter((k) => !(k in s.fields));
      if (unknown.length > 0) {
        const known = Object.keys(s.fields);
        const list = unknown.map((k) => { const near = closest(k, known); return `'${at ? at + "." : ""}${k}'${near ? ` (did you mean '${near}'?)` : ""}`; });
        throw new WfnError(BuildErrors.CONFIG_UNKNOWN_KEY, `${where}: unknown key${unknown.length > 1 ? "s" : ""} ${list.join(", ")}; known keys${at ? ` of ${at}` : ""}: ${known.join(", ")}`);
      }
      for (const r of s.required ?? []) if (v[r] === undefined) fail(where, at ? `${at}.${r}` : r, "is required");
      for (const [k, x] of Object.entries(v)) if (x !== undefined && x !== null) check(x, s.fields[k]!, at ? `${at}.${k}` : k, where);
      return;
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function describe(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "a map" : `${typeof v} ${JSON.stringify(v)}`;
}

const UNITS: Record<string, number> = { "": 1, B: 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1000, M: 1000 ** 2, G: 1000 ** 3 };
/** "1Mi" -> 1048576; numbers are bytes. NaN when unreadable. */
export function toBytes(v: unknown): number {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 ? v : NaN;
  const m = typeof v === "string" ? /^(\d+(?:\.\d+)?)\s*(B|Ki|Mi|Gi|K|M|G)?$/.exec(v.trim()) : null;
  return m ? Math.round(Number(m[1]) * UNITS[m[2] ?? ""]!) : NaN;
}
/** "30s" -> 30000; numbers are milliseconds. NaN when unreadable. */
export function toMs(v: unknown): number {
  if (typeof v === "number") return v >= 0 ? v : NaN;
  const m = typeof v === "string" ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/.exec(v.trim()) : null;
  if (!m) return NaN;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2]!]!;
}

function closest(word: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const o of options) {
    const d = distance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD || (o.toLowerCase().startsWith(word.toLowerCase()) && !best)) { best = o; bestD = d; }
  }
  return best;
}
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * The JSON Schema of wasm-fn.yaml (draft-07, what editors' YAML support reads), made from the
 * same shapes `normalizeConfig` checks, so the two cannot disagree. `wasm-fn.schema.json` in this
 * package is this function's output (test/config-schema.test.ts keeps it so).
 */
export function configJsonSchema(): Record<string, unknown> {
  const doc = shapeSchema(schema);
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: "https://wasm-fn.dev/schemas/wasm-fn.schema.json",
    title: "wasm-fn.yaml",
    description: "A wasm-fn function's config (docs/configuration.md). Field names follow OpenFunction's Function v1beta2.",
    ...doc,
  };
}

const SIZE_PATTERN = "^\\d+(\\.\\d+)?\\s*(B|Ki|Mi|Gi|K|M|G)?$";
const DURATION_PATTERN = "^\\d+(\\.\\d+)?\\s*(ms|s|m|h)$";

function shapeSchema(s: Shape): Record<string, unknown> {
  switch (s.t) {
    case "string": {
      const out: Record<string, unknown> = { type: "string" };
      if (s.enum) out.enum = [...s.enum];
      if (s.pattern) out.pattern = s.pattern.source;
      if (s.hint) out.description = s.hint;
      return out;
    }
    case "int": {
      const out: Record<string, unknown> = { type: "integer" };
      if (s.min !== undefined) out.minimum = s.min;
      if (s.max !== undefined) out.maximum = s.max;
      return out;
    }
    case "size":
      return { description: "a size: 512Ki, 1Mi, 2Gi, or bytes", oneOf: [{ type: "integer", minimum: 0 }, { type: "string", pattern: SIZE_PATTERN }] };
    case "duration":
      return { description: "a duration: 250ms, 30s, 2m, 1h, or milliseconds", oneOf: [{ type: "number", minimum: 0 }, { type: "string", pattern: DURATION_PATTERN }] };
    case "list":
      return { type: "array", items: shapeSchema(s.of) };
    case "map":
      return { type: "object", additionalProperties: { type: "string" } };
    case "names":
      return {
        description: "state store names, or a map of name -> component spec",
        oneOf: [
          { type: "array", items: { type: "string", pattern: COMPONENT.source } },
          { type: "object", propertyNames: { pattern: COMPONENT.source }, additionalProperties: { type: ["object", "null"] } },
        ],
      };
    case "object": {
      const properties: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(s.fields)) properties[k] = shapeSchema(f);
      const out: Record<string, unknown> = { type: "object", properties, additionalProperties: false };
      if (s.required?.length) out.required = [...s.required];
      return out;
    }
  }
}
