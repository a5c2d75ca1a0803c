import { bindingTemplate } from "./binding.js";
import type { Files, Lang, TemplateContext } from "./common.js";
import { httpTemplate } from "./http.js";
import { pubsubTemplate } from "./pubsub.js";
import { stateTemplate } from "./state.js";

export { LANG_NAMES, type Lang } from "./common.js";

interface Template {
  /** One line for `init --help` and the unknown-template error. */
  summary: string;
  /** The languages it is written in; the first is the default. */
  langs: readonly Lang[];
  /** Whether `--trigger event` applies (the others choose their own triggers). */
  triggers: boolean;
  /** A folder of Dapr component YAML that `wasm-fn run` needs (`--resources-path`). */
  resources?: string;
  files(ctx: TemplateContext): Files;
}

/** `wasm-fn init --template <name>`: each writes a project that builds, runs and passes its own test. */
export const TEMPLATES: Record<string, Template> = {
  http: { summary: "a greeting over HTTP (AssemblyScript, C, TypeScript or JavaScript)", langs: ["as", "c", "ts", "js"], triggers: true, files: httpTemplate },
  state: { summary: "a key/value store over HTTP on a state store", langs: ["as"], triggers: false, files: stateTemplate },
  pubsub: { summary: "an async function consuming a pubsub topic, counting its events in state", langs: ["as"], triggers: false, files: pubsubTemplate },
  binding: { summary: "an input binding's events posted to an output binding (HTTP)", langs: ["as"], triggers: false, resources: "components", files: bindingTemplate },
  c: { summary: "the HTTP greeting in C (clang + wasi-libc)", langs: ["c"], triggers: true, files: httpTemplate },
};

export function templateList(): string {
  return Object.entries(TEMPLATES).map(([n, t]) => `${n}: ${t.summary}`).join("; ");
}
