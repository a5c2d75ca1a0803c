/** What every template is given: the function's name and the language asked for. */
export interface TemplateContext {
  name: string;
  lang: Lang;
  trigger: "http" | "event";
}

export type Lang = "as" | "c" | "ts" | "js";
export const LANG_NAMES: Record<Lang, string> = { as: "AssemblyScript", c: "C", ts: "TypeScript", js: "JavaScript" };

/** A project's files by relative path. */
export type Files = Record<string, string>;

/** wasm-fn.yaml: the common head and tail around a template's triggers, inputs, outputs and grants. */
export function config(ctx: TemplateContext, body: string, opts: { entry?: string; memory?: string } = {}): string {
  return `# wasm-fn function config; field names follow OpenFunction's Function (v1beta2). See docs/configuration.md.
name: ${ctx.name}
namespace: default
version: 0.1.0
lang: ${ctx.lang}
${opts.entry ? `entry: ${opts.entry}\n` : ""}${body}scaleOptions:
  minReplicas: 0
  maxReplicas: 16
limits:
  timeout: 10s
  memory: ${opts.memory ?? "16Mi"}
`;
}

export const HTTP_TRIGGER = (name: string) => `triggers:
  http:
    route:
      paths: ["/${name}"]
`;

/** package.json: `npm run build | start | dev | test` drive the wasm-fn CLI (from PATH or a node_modules/.bin above). */
export function packageJson(ctx: TemplateContext, description: string, start = "wasm-fn run"): string {
  return JSON.stringify({
    name: ctx.name,
    private: true,
    type: "module",
    description,
    scripts: { build: "wasm-fn build", start, dev: start.replace(/^wasm-fn run/, "wasm-fn dev"), test: "wasm-fn build && node --test" },
  }, null, 2) + "\n";
}

/**
 * The start of every generated test: runs this function with `wasm-fn run` (embedded backend, state
 * in a temporary file) on a free port, and stops it after. node:test needs no install.
 */
export const TEST_HEAD = `import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const dir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/**
 * Serves this function (build it first: npm test does) with \`wasm-fn run\` on a free port. \`wasm-fn\`
 * comes from PATH (npm test adds every node_modules/.bin above this folder) or from $WASM_FN.
 */
async function serve(args = []) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "wasm-fn-test-"));
  const state = path.join(tmp, "state.json");
  const proc = spawn(process.env.WASM_FN ?? "wasm-fn", ["--json", "run", dir, "--port", "0", "--state-file", state, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const info = await new Promise((resolve, reject) => {
    proc.on("error", (e) => reject(new Error(\`cannot start wasm-fn (\${e.message}): install it, or set WASM_FN to its path\`)));
    proc.on("exit", (code) => reject(new Error(\`wasm-fn run exited with \${code} before listening:\\n\${out}\`)));
    proc.stdout.on("data", (d) => {
      out = (out + d).slice(-65536);
      const line = out.split("\\n").find((l) => l.startsWith('{"url"'));
      if (line) resolve(JSON.parse(line));
    });
  });
  const stop = () => new Promise((resolve) => {
    proc.once("exit", () => { rmSync(tmp, { recursive: true, force: true }); resolve(); });
    proc.kill("SIGTERM");
  });
  return { base: info.url, url: info.functions[0].url, stop };
}
`;

/** The README every template writes: what it is, then build, run, try, test, and where to go next. */
export function readme(ctx: TemplateContext, p: { title: string; what: string; run?: string; tryIt: string; more?: string }): string {
  return `# ${ctx.name}

${p.title}, written in ${LANG_NAMES[ctx.lang]}, made by \`wasm-fn init\`. ${p.what}

## Build

    ${"wasm-fn build".padEnd(22)} # or: npm run build

writes \`dist/${ctx.name}.wasm\` and an OCI image in \`dist/oci\`.

## Run

    ${(p.run ?? "wasm-fn run").padEnd(22)} # or: npm start

serves it on http://127.0.0.1:8080 with the embedded backend (state in \`.wasm-fn/state.json\`,
pub/sub inside the process; no Dapr, no Redis). Add \`--dapr\` to reach every capability through a
Dapr sidecar instead. \`${(p.run ?? "wasm-fn run").replace(/^wasm-fn run/, "wasm-fn dev")}\` (\`npm run dev\`) serves the same and
rebuilds and swaps it each time a source changes.

## Try it

${p.tryIt}
## Test

    npm test

builds the function and runs \`test/\` with Node's test runner: each test starts \`wasm-fn run\` on a
free port and sends it real requests.
${p.more ? `\n${p.more}` : ""}`;
}
