import { Request, Response, state, utf8, ErrorCode, log } from "@wasm-fn/sdk";

const STORE = "statestore";
const MAX_ATTEMPTS = 1000;

export function handle(req: Request): Response {
  const p = req.param("key");
  const key = p !== null && p.length > 0 ? p : "counter";
  if (req.method == "GET") {
    const cur = state.get(STORE, key);
    if (!cur.ok) return Response.error(503, cur.toString());
    return Response.text(cur.value == null ? "0" : cur.value!.text());
  }
  // Optimistic concurrency: read value + ETag, write with the ETag; on CONFLICT someone else won, so read again.
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const cur = state.get(STORE, key);
    if (!cur.ok) return Response.error(503, cur.toString());
    const item = cur.value;
    const next = item == null ? 1 : I64.parseInt(item.text()) + 1;
    const body = utf8(next.toString());
    const saved = item == null ? state.create(STORE, key, body) : state.set(STORE, key, body, item.etag);
    if (saved.ok) return Response.text(next.toString());
    if (saved.code != ErrorCode.CONFLICT) return Response.error(503, saved.toString());
    if (attempt % 100 == 0) log.warn("counter: " + attempt.toString() + " conflicts on " + key);
  }
  return Response.error(409, "gave up after " + MAX_ATTEMPTS.toString() + " conflicting writes");
}
