import { Request, Response, JSON } from "@wasm-fn/sdk";

// POST /default/echo-json with a JSON object. Answers with the object transformed:
// string values upper-cased, numbers doubled, plus "fields" (how many keys) and "requestId".
export function handle(req: Request): Response {
  if (req.method != "POST") return Response.error(405, "POST a JSON object");
  const parsed = req.json();
  if (parsed === null) return Response.error(400, "the body is not valid JSON");
  const input = parsed.asObj();
  if (input === null) return Response.error(400, "send a JSON object, like {\"name\": \"wasm\"}");
  const out = JSON.obj();
  for (let i = 0; i < input.keys.length; i++) {
    const v = input.values[i];
    if (v.kind == JSON.STR) out.set(input.keys[i], JSON.str(v.asString().toUpperCase()));
    else if (v.kind == JSON.NUM) out.set(input.keys[i], JSON.num(v.asNumber() * 2));
    else out.set(input.keys[i], v);
  }
  out.set("fields", JSON.num(<f64>input.keys.length));
  out.set("requestId", JSON.str(req.id));
  return Response.json(out);
}
