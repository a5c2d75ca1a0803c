import { HTTP_TRIGGER, TEST_HEAD, config, packageJson, readme, type Files, type TemplateContext } from "./common.js";

/** `--template state`: a key/value store over HTTP on the state capability (a Dapr state store). */
export function stateTemplate(ctx: TemplateContext): Files {
  const { name } = ctx;
  return {
    "wasm-fn.yaml": config(ctx, HTTP_TRIGGER(name) + "# The state stores this function may use (any other name is DENIED).\nstates: [statestore]\n"),
    ".gitignore": "dist/\n.wasm-fn/\n",
    "package.json": packageJson(ctx, `${name}: a wasm-fn function keeping key/value items in a state store`),
    "assembly/index.ts": SOURCE,
    "test/function.test.js": TEST_HEAD + TEST,
    "README.md": readme(ctx, {
      title: "A key/value store over HTTP",
      what: "Items live in the state store `statestore`: a JSON file with the embedded backend, any Dapr state store (Redis, Postgres, ...) with `--dapr`.",
      tryIt: `    curl -X PUT http://127.0.0.1:8080/default/${name}/items/greeting -d 'hello'   # 204
    curl http://127.0.0.1:8080/default/${name}/items/greeting                     # hello
    curl -X DELETE http://127.0.0.1:8080/default/${name}/items/greeting           # 204
    curl -i http://127.0.0.1:8080/default/${name}/items/greeting                  # 404

A PUT with \`if-match: <etag>\` (the \`etag\` header of a GET) writes only if nobody wrote since.
`,
      more: "With `--dapr`, give daprd a state store component named `statestore` (`--resources-path <dir>`).\n",
    }),
  };
}

const SOURCE = `import { Request, Response, Router, state, ErrorCode } from "@wasm-fn/sdk";

const STORE = "statestore";

// GET, PUT and DELETE /default/<name>/items/<key>: one item of the state store each.
const router = new Router()
  .get("/items/:key", (req: Request): Response => {
    const got = state.get(STORE, req.pathParam("key")!);
    if (!got.ok) return Response.error(503, got.toString());
    if (got.value == null) return Response.error(404, "no item " + req.pathParam("key")!);
    return Response.text(got.value!.text()).setHeader("etag", got.value!.etag);
  })
  .put("/items/:key", (req: Request): Response => {
    // With if-match, the write happens only if the item still has that ETag (optimistic concurrency).
    const etag = req.header("if-match");
    const saved = state.set(STORE, req.pathParam("key")!, req.body, etag !== null ? etag : "");
    if (saved.ok) return Response.noContent();
    if (saved.code == ErrorCode.CONFLICT) return Response.error(412, "the item changed since that ETag");
    return Response.error(503, saved.toString());
  })
  .del("/items/:key", (req: Request): Response => {
    const gone = state.del(STORE, req.pathParam("key")!);
    return gone.ok ? Response.noContent() : Response.error(503, gone.toString());
  });

export function handle(req: Request): Response {
  return router.handle(req);
}
`;

const TEST = `
let fn;
before(async () => { fn = await serve(); });
after(() => fn?.stop());

test("stores, reads and deletes an item", async () => {
  const item = \`\${fn.url}/items/greeting\`;
  assert.equal((await fetch(item, { method: "PUT", body: "hello" })).status, 204);
  const got = await fetch(item);
  assert.equal(got.status, 200);
  assert.equal(await got.text(), "hello");
  assert.equal((await fetch(item, { method: "DELETE" })).status, 204);
  assert.equal((await fetch(item)).status, 404);
});

test("refuses a write with a stale ETag", async () => {
  const item = \`\${fn.url}/items/counter\`;
  await fetch(item, { method: "PUT", body: "1" });
  const etag = (await fetch(item)).headers.get("etag");
  assert.equal((await fetch(item, { method: "PUT", body: "2", headers: { "if-match": etag } })).status, 204);
  assert.equal((await fetch(item, { method: "PUT", body: "3", headers: { "if-match": etag } })).status, 412);
  assert.equal(await (await fetch(item)).text(), "2");
});
`;
