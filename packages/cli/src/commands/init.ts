import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { WfnError } from "@wasm-fn/abi";
import { print } from "../output.js";

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `wasm-fn init <dir> --lang as|c --trigger http|event`: a function that builds and runs as generated. */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const dir = path.resolve(String(args[0]));
  const lang = String(opts.lang);
  const trigger = String(opts.trigger);
  if (lang !== "as" && lang !== "c") throw new WfnError("WFN_USAGE", `--lang must be 'as' (AssemblyScript) or 'c', got '${lang}'`);
  if (trigger !== "http" && trigger !== "event") throw new WfnError("WFN_USAGE", `--trigger must be 'http' or 'event', got '${trigger}'`);
  const name = String(opts.name ?? path.basename(dir)).toLowerCase();
  if (!NAME.test(name)) throw new WfnError("WFN_USAGE", `'${name}' is not a valid function name (lower-case letters, digits and '-'); pass --name`);
  const existing = await readdir(dir).catch(() => [] as string[]);
  if (existing.length > 0) throw new WfnError("WFN_INIT_NOT_EMPTY", `${dir} is not empty; choose a new directory so nothing is overwritten`);

  const files: Record<string, string> = { "wasm-fn.yaml": config(name, lang, trigger), ".gitignore": "dist/\n" };
  if (lang === "as") files["assembly/index.ts"] = trigger === "http" ? AS_HTTP : AS_EVENT;
  else files["main.c"] = trigger === "http" ? C_HTTP : C_EVENT;
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), text, { flag: "wx" });
  }
  const shown = path.relative(process.cwd(), dir) || ".";
  print(Boolean(global.json), { dir, name, lang, trigger, files: Object.keys(files) }, () =>
    `created ${name} (${lang === "as" ? "AssemblyScript" : "C"}, ${trigger} trigger) in ${shown}\nnext: wasm-fn build ${shown} && wasm-fn run ${shown}`);
  return 0;
}

function config(name: string, lang: string, trigger: string): string {
  const head = `# wasm-fn function config; field names follow OpenFunction's Function (v1beta2). See docs/configuration.md.
name: ${name}
namespace: default
version: 0.1.0
lang: ${lang}
${lang === "c" ? "entry: main.c\n" : ""}`;
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
  memory: 16Mi
`;
}

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
