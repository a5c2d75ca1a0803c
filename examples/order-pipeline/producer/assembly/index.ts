import { Request, Response, JSON, pubsub, state, utf8 } from "@wasm-fn/sdk";

const PUBSUB = "pubsub";
const TOPIC = "orders";
const STORE = "statestore";

export function handle(req: Request): Response {
  if (req.method == "GET") {
    const id = req.param("id");
    if (id === null || id.length == 0) return Response.error(400, "pass ?id=<order id>");
    const got = state.get(STORE, "order-" + id);
    if (!got.ok) return Response.error(503, got.toString());
    if (got.value == null) return Response.error(404, "order " + id + " has not been processed (yet)");
    return Response.bytes(got.value!.value, "application/json");
  }
  const body = req.json();
  const order: JSON.Obj | null = body == null ? null : body!.asObj();
  if (order == null) return Response.error(400, "send the order as a JSON object, e.g. {\"id\":\"o-1\",\"item\":\"book\",\"qty\":2}");
  let id = order.getStringOr("id", "");
  if (id.length == 0) {
    id = req.id;
    order.set("id", JSON.str(id));
  }
  const sent = pubsub.publish(PUBSUB, TOPIC, utf8(order.stringify()), "application/json");
  if (!sent.ok) return Response.error(503, "could not publish the order: " + sent.toString());
  const out = JSON.obj().set("id", JSON.str(id)).set("event", JSON.str("published"));
  return Response.json(out, 202);
}
