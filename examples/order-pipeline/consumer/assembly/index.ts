import { Request, Response, JSON, state, utf8, log } from "@wasm-fn/sdk";

const STORE = "statestore";

// Stores each order as processed. Any failure asks Dapr to deliver the event again (RETRY);
// an order that can never be processed (not JSON, no id) is dropped.
export function handle(req: Request): Response {
  if (!req.isEvent) return Response.error(405, "order-consumer takes events from pubsub/orders");
  const body = req.json();
  const order: JSON.Obj | null = body == null ? null : body!.asObj();
  const id = order == null ? "" : order!.getStringOr("id", "");
  if (order == null || id.length == 0) {
    log.warn("dropping event " + req.event.id + ": not an order");
    return Response.drop("not an order");
  }
  order.set("status", JSON.str("processed"));
  order.set("event", JSON.str(req.event.id));
  order.set("topic", JSON.str(req.event.topic));
  const saved = state.set(STORE, "order-" + id, utf8(order.stringify()));
  if (!saved.ok) return Response.retry(saved.toString());
  log.info("processed order " + id);
  return new Response(200);
}
