import { Request, Response } from "@wasm-fn/sdk";

// GET /default/hello?name=you -> "hello, you"
export function handle(req: Request): Response {
  const name = req.param("name");
  return Response.text("hello, " + (name !== null && name.length > 0 ? name : "world") + "\n");
}
