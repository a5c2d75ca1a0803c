import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { WfnError } from "@wasm-fn/abi";
import { print } from "../output.js";

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `wasm-fn init <dir> --lang as|c|ts|js --trigger http|event`: a function that builds and runs as generated. */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const dir = path.resolve(String(args[0]));
  const lang = String(opts.lang);
  const trigger = String(opts.trigger);
  if (!(lang in LANGS)) throw new WfnError("WFN_USAGE", `--lang must be 'as' (AssemblyScript), 'c', 'ts' (TypeScript) or 'js' (JavaScript), got '${lang}'`);
  if (trigger !== "http" && trigger !== "event") throw new WfnError("WFN_USAGE", `--trigger must be 'http' or 'event', got '${trigger}'`);
  const name = String(opts.name ?? path.basename(dir)).toLowerCase();
  if (!NAME.test(name)) throw new WfnError("WFN_USAGE", `'${name}' is not a valid function name (lower-case letters, digits and '-'); pass --name`);
  const existing = await readdir(dir).catch(() => [] as string[]);
  if (existing.length > 0) throw new WfnError("WFN_INIT_NOT_EMPTY", `${dir} is not empty; choose a new directory so nothing is overwritten`);

  const files: Record<string, string> = { "wasm-fn.yaml": config(name, lang, trigger), ".gitignore": "dist/\n" };
  if (lang === "as") files["assembly/index.ts"] = trigger === "http" ? AS_HTTP : AS_EVENT;
  else if (lang === "c") files["main.c"] = trigger === "http" ? C_HTTP : C_EVENT;
  else {
    const src = trigger === "http" ? TS_HTTP : TS_EVENT;
    files[`src/index.${lang}`] = lang === "ts" ? src : stripTypes(src);
    files["package.json"] = JSON.stringify({ name, private: true, type: "module", description: `${name}: a wasm-fn function (wasi:http/proxy component)` }, null, 2) + "\n";
    if (lang === "ts") files["tsconfig.json"] = TSCONFIG;
  }
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text, { flag: "wx" });
  }
  const shown = path.relative(process.cwd(), dir) || ".";
  print(Boolean(global.json), { dir, name, lang, trigger, files: Object.keys(files) }, () =>
    `created ${name} (${LANGS[lang as keyof typeof LANGS]}, ${trigger} trigger) in ${shown}\nnext: wasm-fn build ${shown} && wasm-fn run ${shown}`);
  return 0;
}

function config(name: string, lang: string, trigger: string): string {
  const head = `# wasm-fn function config; field names follow OpenFunction's Function (v1beta2). See docs/configuration.md.
name: ${name}
namespace: default
version: 0.1.0
lang: ${lang}
${lang === "c" ? "entry: main.c\n" : lang === "ts" || lang === "js" ? `entry: src/index.${lang}\n` : ""}`;
  const http = `triggers:
  http:
    route:
      paths: ["/${name}"]
`;
  const event = `# Events from a Dapr pubsub topic (run with --dapr, or the embedded backend's pubsub).
inputs:
  - dapr:
      name: pubsub
      type: pubsub.redis
      topic: ${name}
`;
  return head + (trigger === "http" ? http : event) + `scaleOptions:
  minReplicas: 0
  maxReplicas: 16
limits:
  timeout: 10s
  memory: ${lang === "ts" || lang === "js" ? "64Mi" : "16Mi"}
`;
}

const LANGS = { as: "AssemblyScript", c: "C", ts: "TypeScript", js: "JavaScript" } as const;

/** The JavaScript template is the TypeScript one without its annotations. */
function stripTypes(src: string): string {
  return src.replace(/: Promise<Response>/g, "").replace(/\(request: Request\)/g, "(request)").replace(/ as \{[^}]*\}/g, "");
}

const TSCONFIG = `{
  "compilerOptions": {
    "target": "ES2022",
    "module": "ESNext",
    "moduleResolution": "Bundler",
    "lib": ["ES2022", "WebWorker"],
    "types": [],
    "strict": true,
    "skipLibCheck": true,
    "noEmit": true
  },
  "include": ["src"]
}
`;

const TS_HTTP = `// GET /default/<name>?name=you -> {"greeting":"hello, you"}. Web Request and Response, npm packages
// that run in browsers or Workers, and the capabilities in "@wasm-fn/sdk" (docs/typescript.md).
export default {
  async fetch(request: Request): Promise<Response> {
    const who = new URL(request.url).searchParams.get("name") || "world";
    return Response.json({ greeting: \`hello, \${who}\` });
  },
};
`;

const TS_EVENT = `import { Event, eventOf } from "@wasm-fn/sdk";

// Called once per event (a CloudEvent); answer Event.retry() to have it delivered again, Event.drop() to give up.
export default {
  async fetch(request: Request): Promise<Response> {
    const event = await eventOf(request);
    if (!event) return new Response("this function consumes events; publish to its topic", { status: 400 });
    console.log(\`event \${event.id} on \${event.topic}: \${event.text()}\`);
    return Event.success();
  },
};
`;

const AS_HTTP = `import { Request, Response, JSON } from "@wasm-fn/sdk";

// Answers GET /default/<name>?name=you with a JSON greeting.
export function handle(req: Request): Response {
  const who = req.param("name");
  const body = JSON.obj().set("greeting", JSON.str("hello, " + (who !== null && who.length > 0 ? who : "world")));
  return Response.json(body);
}
`;

const AS_EVENT = `import { Request, Response, log } from "@wasm-fn/sdk";

// Called once per event; return Response.retry() to have it delivered again, Response.drop() to give up.
export function handle(req: Request): Response {
  if (!req.isEvent) return Response.error(400, "this function consumes events; publish to its topic");
  log.info("event " + req.event.id + " on " + req.event.topic + ": " + req.text());
  return new Response(200);
}
`;

const C_HTTP = `#include "wasm_fn.h"
#include <stdio.h>

// Answers GET /default/<name> with a greeting.
WFN_HANDLER int handle(void) {
  int32_t len = 0;
  char *method = wfn_request_field(WFN_FIELD_METHOD, &len);
  char body[128];
  int n = snprintf(body, sizeof body, "hello from C (%s)\\n", method ? method : "?");
  wfn_respond(200, "text/plain; charset=utf-8", body, n);
  free(method);
  return WFN_OUTCOME_SUCCESS;
}
`;

const C_EVENT = `#include "wasm_fn.h"

// Called once per event; return WFN_OUTCOME_RETRY to have it delivered again.
WFN_HANDLER int handle(void) {
  int32_t len = 0;
  char *data = wfn_request_field(WFN_FIELD_BODY, &len);
  wfn_log(WFN_LOG_INFO, data ? data : "", len);
  free(data);
  wfn_response_status(200);
  return WFN_OUTCOME_SUCCESS;
}
`;
