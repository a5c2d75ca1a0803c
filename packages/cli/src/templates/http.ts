import { HTTP_TRIGGER, TEST_HEAD, config, packageJson, readme, type Files, type TemplateContext } from "./common.js";

/**
 * `--template http` (and `c`, its C form): a greeting over HTTP in any language; `--trigger event`
 * turns it into the smallest event consumer of a pubsub topic.
 */
export function httpTemplate(ctx: TemplateContext): Files {
  const { name, lang, trigger } = ctx;
  const component = lang === "ts" || lang === "js";
  const entry = lang === "c" ? "main.c" : component ? `src/index.${lang}` : undefined;
  const files: Files = {
    "wasm-fn.yaml": config(ctx, trigger === "http" ? HTTP_TRIGGER(name) : EVENT_INPUT(name), { ...(entry ? { entry } : {}), memory: component ? "64Mi" : "16Mi" }),
    ".gitignore": "dist/\n.wasm-fn/\n",
    "package.json": packageJson(ctx, `${name}: a wasm-fn function${component ? " (wasi:http/proxy component)" : ""}`),
    "test/function.test.js": TEST_HEAD + (trigger === "http" ? httpTest() : eventTest(name, lang)),
  };
  if (lang === "as") files["assembly/index.ts"] = trigger === "http" ? AS_HTTP : AS_EVENT;
  else if (lang === "c") files["main.c"] = trigger === "http" ? C_HTTP : C_EVENT;
  else {
    const src = trigger === "http" ? TS_HTTP : TS_EVENT;
    files[`src/index.${lang}`] = lang === "ts" ? src : stripTypes(src);
    if (lang === "ts") files["tsconfig.json"] = TSCONFIG;
  }
  files["README.md"] = trigger === "http"
    ? readme(ctx, {
      title: "An HTTP function", what: `It answers \`GET /default/${name}?name=you\` with a greeting.`,
      tryIt: `    curl 'http://127.0.0.1:8080/default/${name}?name=you'\n\nanswers \`{"greeting":"hello, you"}\`.\n`,
    })
    : readme(ctx, {
      title: "An async function", what: `It consumes the events of topic \`${name}\` on pubsub \`pubsub\` and logs each one.`,
      tryIt: publishHowTo(name),
    });
  return files;
}

const EVENT_INPUT = (name: string) => `# Events from a Dapr pubsub topic (run with --dapr, or the embedded backend's pubsub).
inputs:
  - dapr:
      name: pubsub
      type: pubsub.redis
      topic: ${name}
`;

/** How to hand an async function an event with the embedded backend (shared with the pubsub template). */
export function publishHowTo(topic: string): string {
  return `Publish an event to the topic: post it to the route the shim serves daprd on (answered for loopback
clients; the shim runs the function and answers Dapr's status):

    curl -X POST http://127.0.0.1:8080/_wfn/dapr/topics/pubsub/${topic} \\
      -H 'content-type: application/json' -d '{"order":1}'
    # {"status":"SUCCESS"}

Another function in the same \`wasm-fn run\` publishes with \`pubsub.publish("pubsub", "${topic}", ...)\`
(grant it with an \`outputs\` entry for the topic); with \`--dapr\`, anything that publishes to Dapr does.
`;
}

function httpTest(): string {
  return `
let fn;
before(async () => { fn = await serve(); });
after(() => fn?.stop());

test("answers over HTTP", async () => {
  const r = await fetch(\`\${fn.url}?name=test\`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { greeting: "hello, test" });
});
`;
}

function eventTest(topic: string, lang: string): string {
  return `
let fn;
before(async () => { fn = await serve(); });
after(() => fn?.stop());

test("handles an event published to its topic", async () => {
  const r = await fetch(\`\${fn.base}/_wfn/dapr/topics/pubsub/${topic}\`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ order: 1 }) });
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: "SUCCESS" });
});
${lang === "c" ? "" : `
test("refuses a plain HTTP request", async () => {
  const r = await fetch(fn.url);
  assert.equal(r.status, 400);
});
`}`;
}

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

// Answers GET /default/<name>?name=you with a JSON greeting (the C SDK's reference: docs/sdk-c.md).
WFN_HANDLER int handle(void) {
  char *who = wfn_query_param("name", 0);  // percent-decoded; NULL when absent; ours to free
  char greeting[256];
  snprintf(greeting, sizeof greeting, "hello, %s", who && who[0] ? who : "world");
  free(who);
  wfn_json w;
  wfn_json_init(&w);
  wfn_json_object_begin(&w);
  wfn_json_key(&w, "greeting");
  wfn_json_string(&w, greeting, -1);  // escaped as JSON needs
  wfn_json_object_end(&w);
  wfn_respond_json(200, w.buf);
  wfn_json_free(&w);
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
