import { TEST_HEAD, config, packageJson, readme, type Files, type TemplateContext } from "./common.js";

/**
 * `--template binding`: consumes an input binding (a Dapr cron binding, `ticker`) and writes each
 * event to an output binding (`webhook`, bindings.http: the one the embedded backend serves itself).
 */
export function bindingTemplate(ctx: TemplateContext): Files {
  const { name } = ctx;
  const body = `# Events from input binding "ticker" (components/ticker.yaml: Dapr's cron binding fires it with --dapr).
inputs:
  - dapr:
      name: ticker
      type: bindings.cron
# The output binding the function writes to (components/webhook.yaml).
permissions:
  bindings: [webhook]
# An event the function answers Response.retry() for is tried again at 0.2, 0.6 and 1.4 s, then dropped.
retry: { policy: exponential, duration: 200ms, maxInterval: 1s, maxRetries: 3 }
`;
  const run = "wasm-fn run --resources-path components";
  return {
    "wasm-fn.yaml": config(ctx, body),
    ".gitignore": "dist/\n.wasm-fn/\n",
    "package.json": packageJson(ctx, `${name}: a wasm-fn function from an input binding to an output binding`, run),
    "assembly/index.ts": SOURCE,
    "components/ticker.yaml": component("ticker", "bindings.cron", "schedule", '"@every 10s"'),
    "components/webhook.yaml": component("webhook", "bindings.http", "url", "http://127.0.0.1:9000/events"),
    "test/function.test.js": TEST_HEAD + TEST,
    "README.md": readme(ctx, {
      title: "A function between two bindings",
      what: "Each event of the input binding `ticker` becomes a JSON record posted to the output binding `webhook` (an HTTP endpoint, `components/webhook.yaml`).",
      run,
      tryIt: `Something must listen where \`components/webhook.yaml\` points (http://127.0.0.1:9000/events), e.g.:

    node -e 'require("http").createServer((q, s) => { q.pipe(process.stdout); q.on("end", () => { console.log(); s.end(); }); }).listen(9000)'

The embedded backend serves output bindings of type \`bindings.http\`; input bindings come from Dapr
(with \`--dapr\`, the cron binding fires every 10 s). Without Dapr, deliver an event yourself to the
route daprd uses (the shim answers it for loopback clients):

    curl -X POST http://127.0.0.1:8080/ticker -d 'tick'
    # {"status":"SUCCESS"}; the listener prints {"input":"ticker","id":"...","data":"tick"}

When the webhook fails, the function answers \`Response.retry()\`: the shim tries the event again under
\`retry:\` in wasm-fn.yaml (three more times within 1.4 s), then drops it with an error line
(\`{"status":"DROP"}\`).
`,
    }),
  };
}

function component(name: string, type: string, key: string, value: string): string {
  return `apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: ${name}
spec:
  type: ${type}
  version: v1
  metadata:
    - name: ${key}
      value: ${value}
`;
}

const SOURCE = `import { Request, Response, JSON, bindings, utf8 } from "@wasm-fn/sdk";

// Called once per event of the input binding: posts it, as JSON, to the output binding "webhook".
export function handle(req: Request): Response {
  if (!req.isEvent) return Response.error(400, "this function consumes the ticker binding's events");
  const record = JSON.obj()
    .set("input", JSON.str(req.event.input))
    .set("id", JSON.str(req.event.id))
    .set("data", JSON.str(req.text()));
  const meta = new Map<string, string>();
  meta.set("content-type", "application/json");
  const sent = bindings.invoke("webhook", "create", utf8(record.stringify()), meta);
  // Not acknowledged: Dapr delivers the event again.
  if (!sent.ok) return Response.retry(sent.toString());
  return new Response(200);
}
`;

const TEST = `import { createServer } from "node:http";
import { cpSync, writeFileSync } from "node:fs";

// A webhook on a free port that records what it receives (status 500 while failing is set).
const received = [];
let failing = false;
const webhook = createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => { received.push({ path: req.url, type: req.headers["content-type"], body }); res.statusCode = failing ? 500 : 200; res.end(); });
});

let fn;
let resources;
before(async () => {
  await new Promise((resolve) => webhook.listen(0, "127.0.0.1", resolve));
  // The project's components, with the webhook's URL pointed at this test's listener.
  resources = mkdtempSync(path.join(os.tmpdir(), "wasm-fn-components-"));
  cpSync(path.join(dir, "components"), resources, { recursive: true });
  writeFileSync(path.join(resources, "webhook.yaml"), \`apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: webhook
spec:
  type: bindings.http
  version: v1
  metadata:
    - name: url
      value: http://127.0.0.1:\${webhook.address().port}/events
\`);
  fn = await serve(["--resources-path", resources]);
});
after(async () => { await fn?.stop(); webhook.close(); if (resources) rmSync(resources, { recursive: true, force: true }); });

test("an input binding event reaches the webhook as JSON", async () => {
  const r = await fetch(\`\${fn.base}/ticker\`, { method: "POST", body: "tick" });
  assert.deepEqual(await r.json(), { status: "SUCCESS" });
  assert.equal(received.length, 1);
  assert.equal(received[0].path, "/events");
  assert.equal(received[0].type, "application/json");
  assert.deepEqual({ ...JSON.parse(received[0].body), id: "" }, { input: "ticker", id: "", data: "tick" });
});

test("an event the webhook refuses is tried again under retry:, then dropped", async () => {
  failing = true;
  const before = received.length;
  const r = await fetch(\`\${fn.base}/ticker\`, { method: "POST", body: "tock" });
  failing = false;
  assert.deepEqual(await r.json(), { status: "DROP" });
  assert.equal(received.length - before, 4); // 1 + maxRetries
});
`;
