import { Hono } from "hono";
import { z } from "zod";
import { errorResponse, state, WfnError } from "@wasm-fn/sdk";
import type { Context } from "hono";

const STORE = "statestore";
const INDEX = "todo-index";

const NewTodo = z.object({ title: z.string().trim().min(1).max(200) });
const Patch = z.object({ title: z.string().trim().min(1).max(200).optional(), done: z.boolean().optional() }).strict();
type Todo = { id: string; title: string; done: boolean; created: string };

const app = new Hono();

/** The one wasm-fn error body, with this request's id. */
const fail = (c: Context, status: number, message: string, code?: string) => errorResponse(status, message, { code, requestId: c.req.header("x-request-id") ?? "" });
const issues = (e: z.ZodError) => e.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ");

/** Reads the index of ids and writes it back with its ETag, again when someone else wrote first. */
async function updateIndex(change: (ids: string[]) => string[]): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const cur = await state.get<string[]>(STORE, INDEX);
    try {
      await state.set(STORE, INDEX, change(cur?.value ?? []), cur ? { etag: cur.etag } : { concurrency: "first-write" });
      return;
    } catch (e) {
      if (!(e instanceof WfnError && e.code === "CONFLICT")) throw e;
    }
  }
  throw new WfnError("CONFLICT", "the to-do index kept changing; try again");
}

app.post("/todos", async (c) => {
  const parsed = NewTodo.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) return fail(c, 400, issues(parsed.error));
  const todo: Todo = { id: crypto.randomUUID(), title: parsed.data.title, done: false, created: new Date().toISOString() };
  await state.set(STORE, `todo-${todo.id}`, todo);
  await updateIndex((ids) => [...ids, todo.id]);
  return c.json(todo, 201);
});

app.get("/todos", async (c) => {
  const ids = (await state.get<string[]>(STORE, INDEX))?.value ?? [];
  if (ids.length === 0) return c.json([]);
  const items = await state.getBulk<Todo>(STORE, ids.map((id) => `todo-${id}`));
  return c.json(items.flatMap((i) => (i.value ? [i.value] : [])));
});

app.get("/todos/:id", async (c) => {
  const item = await state.get<Todo>(STORE, `todo-${c.req.param("id")}`);
  return item ? c.json(item.value) : fail(c, 404, `no to-do ${c.req.param("id")}`);
});

app.patch("/todos/:id", async (c) => {
  const parsed = Patch.safeParse(await c.req.json().catch(() => null));
  if (!parsed.success) return fail(c, 400, issues(parsed.error));
  const key = `todo-${c.req.param("id")}`;
  const cur = await state.get<Todo>(STORE, key);
  if (!cur) return fail(c, 404, `no to-do ${c.req.param("id")}`);
  const next = { ...cur.value, ...parsed.data };
  await state.set(STORE, key, next, { etag: cur.etag });
  return c.json(next);
});

app.delete("/todos/:id", async (c) => {
  const id = c.req.param("id");
  await state.transact(STORE, [{ operation: "delete", key: `todo-${id}` }]);
  await updateIndex((ids) => ids.filter((x) => x !== id));
  return c.body(null, 204);
});

app.onError((e, c) => {
  const code = e instanceof WfnError ? e.code : "INTERNAL";
  const status = code === "CONFLICT" ? 409 : code === "DENIED" ? 403 : code === "NOT_CONFIGURED" ? 503 : 500;
  return fail(c, status, e.message, code);
});

export default app;
