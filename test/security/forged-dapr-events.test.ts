// Attack: a client that can reach the app port posts to the Dapr routes (/_wfn/dapr/topics/...,
// input bindings, /dapr/subscribe) as if it were daprd, or sends dapr-caller-app-id so a function
// believes another app invoked it. With APP_API_TOKEN set (daprd then sends it as dapr-api-token),
// the routes answer only a request carrying it, and caller headers from anyone else are stripped;
// without it, only the sidecar on this machine (a loopback client) counts.
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "../harness/cli.js";
import { daprdBinary, writeResources, writeTestConfig } from "../harness/dapr.js";
import { buildFixture } from "../runtime-fixtures.js";

const TOKEN = "s3cret-app-token";
const SOURCE = `import { Request, Response } from "@wasm-fn/sdk";
export function handle(req: Request): Response {
  if (req.isEvent) return Response.text("event");
  const c = req.header("dapr-caller-app-id");
  return Response.text(c !== null ? "caller=" + c : "caller=none");
}
`;

let shim: Served;
beforeAll(async () => {
  const fx = await buildFixture("caller", SOURCE, "inputs:\n  - dapr:\n      name: pubsub\n      type: pubsub.redis\n      topic: orders\n");
  const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-forged-"));
  const resources = writeResources([], path.join(dir, "resources"));
  shim = await serve([fx.dir], ["--dapr", "--resources-path", resources, "--dapr-config", writeTestConfig(dir), "--no-access-log"], {
    env: { WASM_FN_DAPRD: await daprdBinary(), DAPR_GRPC_PORT: "", DAPR_HTTP_PORT: "", APP_API_TOKEN: TOKEN },
  });
}, 120_000);
afterAll(async () => { await shim?.stop(); });

const event = (headers: Record<string, string>) => fetch(`${shim.url}/_wfn/dapr/topics/pubsub/orders`, {
  method: "POST", headers: { "content-type": "application/cloudevents+json", ...headers },
  body: JSON.stringify({ specversion: "1.0", id: "forged-1", source: "attacker", type: "t", datacontenttype: "application/json", data: { pay: "me" } }),
});

describe("only daprd reaches the Dapr app routes", () => {
  it("a forged delivery or subscription read without the token is 403; with it, it is served", async () => {
    const forged = await event({});
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe("WFN_DAPR_FORBIDDEN");
    expect((await event({ "dapr-api-token": "wrong-token-value" })).status).toBe(403);
    expect((await fetch(`${shim.url}/dapr/subscribe`)).status).toBe(403);
    const real = await event({ "dapr-api-token": TOKEN });
    expect(real.status).toBe(200);
    expect(await real.json()).toEqual({ status: "SUCCESS" });
    const subs = await fetch(`${shim.url}/dapr/subscribe`, { headers: { "dapr-api-token": TOKEN } });
    expect(await subs.json()).toEqual([{ pubsubname: "pubsub", topic: "orders", route: "/_wfn/dapr/topics/pubsub/orders" }]);
  });

  it("a client's dapr-caller-app-id never reaches the function; daprd's does", async () => {
    expect(await (await fetch(`${shim.url}/default/caller`, { headers: { "dapr-caller-app-id": "billing" } })).text()).toBe("caller=none");
    expect(await (await fetch(`${shim.url}/default/caller`, { headers: { "dapr-caller-app-id": "billing", "dapr-api-token": TOKEN } })).text()).toBe("caller=billing");
  });
});
