import { errorResponse, pubsub, secrets, WfnError } from "@wasm-fn/sdk";

const enc = new TextEncoder();
let key: CryptoKey | null = null;

/** The HMAC key, from the secret store once per instance (instances are reused). */
async function hmacKey(): Promise<CryptoKey> {
  if (key) return key;
  const secret = (await secrets.get("secretstore", "webhook")).webhook;
  if (!secret) throw new WfnError("NOT_FOUND", "the secret store has no 'webhook' secret");
  key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  return key;
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const json = (status: number, v: unknown) => new Response(JSON.stringify(v), { status, headers: { "content-type": "application/json" } });

export default {
  async fetch(request: Request): Promise<Response> {
    const fail = (status: number, message: string) => errorResponse(status, message, { requestId: request.headers.get("x-request-id") ?? "" });
    if (request.method !== "POST") return fail(405, "POST a signed webhook");
    const body = new Uint8Array(await request.arrayBuffer());
    const sig = fromHex((request.headers.get("x-hub-signature-256") ?? "").replace(/^sha256=/, ""));
    // crypto.subtle.verify compares in constant time.
    if (!sig || !(await crypto.subtle.verify("HMAC", await hmacKey(), sig, body))) {
      return fail(401, "missing or wrong x-hub-signature-256");
    }
    let order: { id?: unknown };
    try { order = JSON.parse(new TextDecoder().decode(body)) as { id?: unknown }; } catch { return fail(400, "the body is not JSON"); }
    if (typeof order.id !== "string" || order.id === "") return fail(400, "an order needs an id");
    await pubsub.publish("pubsub", "orders", order);
    return json(202, { id: order.id, event: "published" });
  },
};
