import { TEST_HEAD, config, packageJson, readme, type Files, type TemplateContext } from "./common.js";
import { publishHowTo } from "./http.js";

/** `--template pubsub`: an async function consuming a topic, keeping a count and the last event in state. */
export function pubsubTemplate(ctx: TemplateContext): Files {
  const { name } = ctx;
  const inputs = `# Each event on topic ${name} of pubsub "pubsub" is one invocation (Dapr's pubsub with --dapr;
# the embedded backend delivers inside the process). The state store keeps what it has seen.
inputs:
  - dapr:
      name: pubsub
      type: pubsub.redis
      topic: ${name}
states: [statestore]
`;
  return {
    "wasm-fn.yaml": config(ctx, inputs),
    ".gitignore": "dist/\n.wasm-fn/\n",
    "package.json": packageJson(ctx, `${name}: a wasm-fn async function consuming topic ${name}`),
    "assembly/index.ts": SOURCE,
    "test/function.test.js": TEST_HEAD + test(name),
    "README.md": readme(ctx, {
      title: "An async function",
      what: `It consumes the events of topic \`${name}\` on pubsub \`pubsub\`: it logs each one and counts them in the state store \`statestore\`. A plain \`GET /default/${name}\` answers what it has seen.`,
      tryIt: publishHowTo(name) + `
Then:

    curl http://127.0.0.1:8080/default/${name}
    # {"events":1,"last":"{\\"order\\":1}"}

An event the function answers with \`Response.retry()\` (as it does when a concurrent event counted
first) is tried again under the function's \`retry:\` policy (by default 5 more times, the waits
doubling from 500 ms), then moved to the input's \`deadLetterTopic\` if it has one;
\`Response.drop()\` gives it up.
`,
      more: "With `--dapr`, give daprd a pubsub component named `pubsub` and a state store named `statestore` (`--resources-path <dir>`).\n",
    }),
  };
}

const SOURCE = `import { Request, Response, JSON, state, log, utf8, ErrorCode } from "@wasm-fn/sdk";

const STORE = "statestore";

export function handle(req: Request): Response {
  if (!req.isEvent) return seen();
  log.info("event " + req.event.id + " on " + req.event.topic + ": " + req.text());
  // Count with the count's ETag: when another delivery wrote first, this one asks to be tried again.
  const cur = state.get(STORE, "events");
  if (!cur.ok) return Response.retry(cur.toString());
  const count = cur.value == null ? 1 : I64.parseInt(cur.value!.text()) + 1;
  const saved = cur.value == null
    ? state.create(STORE, "events", utf8(count.toString()))
    : state.set(STORE, "events", utf8(count.toString()), cur.value!.etag);
  if (!saved.ok) return Response.retry(saved.code == ErrorCode.CONFLICT ? "a concurrent event counted first" : saved.toString());
  const last = state.set(STORE, "last", req.body);
  if (!last.ok) log.warn("could not keep the last event: " + last.toString());
  return new Response(200);
}

/** GET /default/<name>: how many events arrived, and the last one. */
function seen(): Response {
  const count = state.get(STORE, "events");
  const last = state.get(STORE, "last");
  if (!count.ok || !last.ok) return Response.error(503, (count.ok ? last : count).toString());
  const body = JSON.obj()
    .set("events", JSON.num(count.value == null ? 0 : F64.parseFloat(count.value!.text())))
    .set("last", count.value == null || last.value == null ? JSON.nil() : JSON.str(last.value!.text()));
  return Response.json(body);
}
`;

function test(topic: string): string {
  return `
let fn;
before(async () => { fn = await serve(); });
after(() => fn?.stop());

// The route daprd delivers a topic's events to (the shim answers it for loopback clients).
const publish = (data) => fetch(\`\${fn.base}/_wfn/dapr/topics/pubsub/${topic}\`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(data) });

test("counts the events of its topic and keeps the last", async () => {
  assert.deepEqual(await (await fetch(fn.url)).json(), { events: 0, last: null });
  for (const order of [1, 2]) {
    const r = await publish({ order });
    assert.deepEqual(await r.json(), { status: "SUCCESS" });
  }
  assert.deepEqual(await (await fetch(fn.url)).json(), { events: 2, last: JSON.stringify({ order: 2 }) });
});
`;
}
