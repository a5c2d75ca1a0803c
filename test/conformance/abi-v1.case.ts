import { describe, expect, it } from "vitest";

/**
 * The ABI v1 conformance suite. Any host can run it: give it a function that serves the
 * test/fixtures/abi-probe module (built with `wasm-fn build`) and returns that function's URL;
 * `fn` names the probe when it is another guest answering the same (test/fixtures/abi-probe-c, in C).
 * `stateBackend` says whether the host has a state store (else STATE_GET must fail NOT_CONFIGURED, or
 * `stateError` when the host says otherwise: the WasmEdge adapter with no sidecar is UNAVAILABLE).
 */
export function abiConformance(name: string, host: () => { url: string; stateBackend: boolean; stateError?: RegExp; fn?: string }): void {
  describe(`ABI v1 conformance: ${name}`, () => {
    const probe = async (path: string, init: RequestInit = {}) => {
      const r = await fetch(host().url + path, init);
      return { r, j: (await r.json()) as Record<string, unknown> };
    };

    it("copies method, path, query, body, headers, request id and function name in", async () => {
      const { r, j } = await probe("/items/7?x=1&y=two", { method: "PUT", body: "payload ✓", headers: { "x-probe": "yes", "x-request-id": "conf-1" } });
      expect(r.status).toBe(200);
      expect(j).toMatchObject({ method: "PUT", path: "/items/7", query: "x=1&y=two", body: "payload ✓", xProbe: "yes", absentHeader: true, requestId: "conf-1", function: host().fn ?? "abi-probe", isEvent: false });
    });

    it("reads an absent field as -1 and copies a prefix into a short buffer, returning the full length", async () => {
      const { j } = await probe("/abcdef");
      expect(j).toMatchObject({ eventTopicLen: -1, pathPrefix: "/ab", pathLen: 7 });
    });

    it("answers an unknown op with -UNKNOWN_OP (1) and a message", async () => {
      const { j } = await probe("/");
      expect(j.unknownOp).toBe(-1);
      expect(j.unknownOpMessage).toMatch(/op 9999 is not part of the wasm-fn ABI v1/);
    });

    it("gives capabilities typed results with error codes", async () => {
      const { j } = await probe("/");
      if (host().stateBackend) expect(j.stateGet).toBe("OK");
      else expect(j.stateGet).toMatch(host().stateError ?? /^NOT_CONFIGURED: STATE_GET has no backend/);
    });

    it("copies status, repeated headers and body out", async () => {
      const { r } = await probe("/teapot");
      expect(r.status).toBe(418);
      expect(r.headers.get("x-multi")).toBe("a, b");
      expect(r.headers.get("content-type")).toBe("application/json");
    });
  });
}
