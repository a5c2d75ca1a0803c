import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { BackendErrors } from "../../capabilities/backend.js";
import { withCallSignal } from "../../instance/host-call.js";
import { mapDaprError } from "./errors.js";
import { DaprBackend } from "./index.js";
import { freePort } from "./sidecar.js";

const grpcError = (code: number, rawMessage: string) => Object.assign(new Error(rawMessage), { code, rawMessage });
const map = (code: number, msg: string) => mapDaprError(grpcError(code, msg), "state.get s/k", "127.0.0.1:1", 500).code;

describe("dapr backend", () => {
  it("maps daprd's answers to stable backend codes", () => {
    expect(map(3, "state store nostore is not found")).toBe(BackendErrors.NOT_CONFIGURED);
    expect(map(9, "secret store is not configured")).toBe(BackendErrors.NOT_CONFIGURED);
    expect(map(3, "failed finding secret store with key vault")).toBe(BackendErrors.NOT_CONFIGURED);
    expect(map(13, "failed getting secret with key k from secret store vault: secret k not found (ERR_SECRET_GET)")).toBe(BackendErrors.NOT_FOUND);
    expect(map(13, "failed getting secret with key k from secret store vault: Get \"http://vault:8200/v1/secret/data/k\": dial tcp 10.0.0.9:8200: connect: connection refused (ERR_SECRET_GET)")).toBe(BackendErrors.UNAVAILABLE);
    expect(map(3, "pubsub nopubsub is not found (ERR_PUBSUB_NOT_FOUND)")).toBe(BackendErrors.NOT_CONFIGURED);
    expect(map(10, "failed saving state in state store s: possible etag mismatch. error from state store: ERR ...")).toBe(BackendErrors.CONFLICT);
    expect(map(13, "failed saving state in state store s: failed to set key a||k: ERR user_script:14: failed to set key a||k script")).toBe(BackendErrors.CONFLICT);
    expect(map(13, "fail to get k: dial tcp 127.0.0.1:6379: connect: connection refused")).toBe(BackendErrors.UNAVAILABLE);
    expect(map(14, "connect ECONNREFUSED 127.0.0.1:1")).toBe(BackendErrors.UNAVAILABLE);
    expect(map(4, "the operation timed out")).toBe(BackendErrors.TIMEOUT);
    expect(map(3, "bad argument")).toBe(BackendErrors.INVALID);
    expect(map(13, "something else")).toBe(BackendErrors.INTERNAL);
  });

  it("fails fast with UNAVAILABLE when nothing listens on the sidecar's port", async () => {
    // Fast means well before the deadline (10 s): a refused connect, not a timeout.
    const b = new DaprBackend({ httpPort: await freePort(), grpcPort: await freePort(), timeoutMs: 10_000 });
    const t0 = performance.now();
    await expect(b.stateGet("s", "k")).rejects.toMatchObject({ code: BackendErrors.UNAVAILABLE, message: expect.stringMatching(/is unreachable.*sidecar/) });
    expect(performance.now() - t0).toBeLessThan(5000);
    await b.close();
  });

  it("sends $DAPR_API_TOKEN on its HTTP calls too (the SDK's gRPC client already does)", async () => {
    const seen: (string | undefined)[] = [];
    const srv = createHttpServer((req, res) => {
      const t = req.headers["dapr-api-token"] as string | undefined;
      seen.push(t);
      res.writeHead(t === "s3cret" ? 204 : 401).end();
    });
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    const before = process.env.DAPR_API_TOKEN;
    process.env.DAPR_API_TOKEN = "s3cret";
    try {
      const b = new DaprBackend({ httpPort: port, grpcPort: port, timeoutMs: 2000 });
      expect(await b.stateGet("s", "k")).toBeNull();
      await b.close();
    } finally {
      if (before === undefined) delete process.env.DAPR_API_TOKEN; else process.env.DAPR_API_TOKEN = before;
      srv.close();
    }
    expect(seen).toEqual(["s3cret"]);
  });

  it("gives up after its timeout on a sidecar that accepts but never answers", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as AddressInfo).port;
    const b = new DaprBackend({ httpPort: port, grpcPort: port, timeoutMs: 300 });
    const t0 = performance.now();
    await expect(b.publish("p", "t", new Uint8Array(0), "text/plain", {})).rejects.toMatchObject({ code: BackendErrors.TIMEOUT, message: expect.stringContaining("within 300 ms") });
    expect(performance.now() - t0).toBeLessThan(1500);
    await b.close();
    silent.close();
  });

  it("cancels HTTP and gRPC calls to daprd when the request's signal aborts (issue 10 #9)", async () => {
    // A sidecar that accepts and never answers: only the signal can end these calls before 5 s.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as AddressInfo).port;
    const b = new DaprBackend({ httpPort: port, grpcPort: port, timeoutMs: 5000 });
    const ac = new AbortController();
    const t0 = performance.now();
    const calls = withCallSignal(ac.signal, () => [
      b.stateGet("s", "k"),
      b.invoke({ appId: "other", method: "m", verb: "POST", data: new Uint8Array(1), contentType: "text/plain" }),
      b.stateSave("s", { key: "k", value: Buffer.from("not json"), etag: "", metadata: {} }), // gRPC: bytes daprd's JSON would change
      b.stateBulkGet("s", ["a", "b", "c"]),
    ]);
    await new Promise((r) => setTimeout(r, 300));
    ac.abort(new Error("the request ended (timed out)"));
    for (const c of calls) await expect(c).rejects.toMatchObject({ code: BackendErrors.UNAVAILABLE, message: expect.stringContaining("cancelled: the request ended (timed out)") });
    expect(performance.now() - t0).toBeLessThan(2000);
    await b.close();
    silent.close();
  });
});
