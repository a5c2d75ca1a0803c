import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, normalizeConfig, toBytes, toMs } from "./config.js";

describe("function config (wasm-fn.yaml)", () => {
  it("fills OpenFunction-style defaults", () => {
    const c = normalizeConfig({ name: "hello" });
    expect(c).toMatchObject({
      name: "hello", namespace: "default", version: "0.1.0", lang: "as", entry: "assembly/index.ts", appId: "hello",
      scaleOptions: { minReplicas: 0, maxReplicas: 64 }, isolation: "reuse", inputs: [], outputs: [], permissions: { hosts: [] },
    });
    expect(c.limits.memoryPages).toBe(1024);
    expect(normalizeConfig({ name: "c1", lang: "c" }).entry).toBe("main.c");
  });

  it("reads OpenFunction field names: triggers.http.route, scaleOptions, inputs, outputs", () => {
    const c = normalizeConfig({
      name: "orders", namespace: "shop",
      triggers: { http: { route: { paths: ["/orders"], hostnames: ["orders.example.com"] } } },
      scaleOptions: { minReplicas: 2, maxReplicas: 8, idleTimeout: "30s" },
      inputs: [{ dapr: { name: "pubsub", type: "pubsub.redis", topic: "orders" } }],
      outputs: [{ dapr: { name: "push", type: "bindings.http", operation: "post", metadata: { path: "/metrics" } } }],
      limits: { timeout: "250ms", memory: "2Mi", requestBody: "64Ki" },
    });
    expect(c.triggers.http?.route?.paths).toEqual(["/orders"]);
    expect(c.scaleOptions).toMatchObject({ minReplicas: 2, maxReplicas: 8, idleTimeoutMs: 30_000 });
    expect(c.limits).toMatchObject({ timeoutMs: 250, memoryPages: 32, requestBytes: 65536 });
    expect(c.outputs[0]!.dapr.metadata).toEqual({ path: "/metrics" });
  });

  it("paces host calls by default and reads limits.hostCalls", () => {
    expect(normalizeConfig({ name: "x" }).limits.hostCalls).toEqual({ burst: 100, perSecond: 200 });
    expect(normalizeConfig({ name: "x", limits: { hostCalls: { perSecond: 5000 } } }).limits.hostCalls).toEqual({ burst: 100, perSecond: 5000 });
    expect(() => normalizeConfig({ name: "x", limits: { hostCalls: { burst: 0 } } })).toThrow(/limits.hostCalls.burst/);
  });

  it("names unknown keys, with a suggestion", () => {
    expect(() => normalizeConfig({ name: "x", scaleOption: { minReplicas: 1 } })).toThrow(/unknown key 'scaleOption' \(did you mean 'scaleOptions'\?\)/);
    expect(() => normalizeConfig({ name: "x", limits: { timout: "1s", colour: 1 } })).toThrow(/unknown keys 'limits.timout' \(did you mean 'timeout'\?\), 'limits.colour'/);
    try { normalizeConfig({ name: "x", bogus: 1 }); } catch (e) { expect((e as { code: string }).code).toBe("WFN_CONFIG_UNKNOWN_KEY"); }
  });

  it("says what is wrong with a value", () => {
    expect(() => normalizeConfig({})).toThrow(/name is required/);
    expect(() => normalizeConfig({ name: "Bad_Name" })).toThrow(/'Bad_Name' is not valid: lower-case/);
    expect(() => normalizeConfig({ name: "x", lang: "rust" })).toThrow(/lang must be one of as, c, ts, js, got 'rust'/);
    expect(() => normalizeConfig({ name: "x", scaleOptions: { minReplicas: 5, maxReplicas: 2 } })).toThrow(/minReplicas \(5\) is above maxReplicas \(2\)/);
    expect(() => normalizeConfig({ name: "x", limits: { memory: "lots" } })).toThrow(/limits.memory must be a size/);
    expect(() => normalizeConfig({ name: "x", outputs: [{ dapr: { name: "b", metadata: { n: 5 } } }] })).toThrow(/outputs\[0\].dapr.metadata.n must be a string/);
    expect(() => normalizeConfig({ name: "x", triggers: { http: { route: { paths: ["no-slash"] } } } })).toThrow(/a path starting with '\/'/);
  });

  it("reads isolation: reuse (default), fresh, or worker (always on worker threads)", () => {
    expect(normalizeConfig({ name: "x" }).isolation).toBe("reuse");
    expect(normalizeConfig({ name: "x", isolation: "worker" }).isolation).toBe("worker");
    expect(() => normalizeConfig({ name: "x", isolation: "threads" })).toThrow(/isolation must be one of reuse, fresh, worker, got 'threads'/);
  });

  it("grants nothing by default: no state store, topic, binding, secret or configuration store, app id", () => {
    expect(normalizeConfig({ name: "x" }).permissions).toEqual({ hosts: [], states: [], publish: [], bindings: [], secrets: [], configuration: [], invoke: [] });
  });

  it("reads grants from states (a list, or OpenFunction's map), permissions and outputs", () => {
    const c = normalizeConfig({
      name: "x",
      states: { orders: { spec: { type: "state.redis" } }, cache: null },
      outputs: [{ dapr: { name: "pubsub", type: "pubsub.redis", topic: "orders" } }, { dapr: { name: "sink", type: "bindings.http" } }],
      permissions: { secrets: ["vault"], configuration: ["flags"], invoke: ["billing", "stock/api/v1"], publish: ["pubsub/audit"], bindings: ["mailer"] },
    });
    expect(c.states).toEqual(["orders", "cache"]);
    expect(c.permissions).toEqual({
      hosts: [], states: ["orders", "cache"], publish: ["pubsub/audit", "pubsub/orders"], bindings: ["mailer", "sink"],
      secrets: ["vault"], configuration: ["flags"], invoke: ["billing", "stock/api/v1"],
    });
    expect(normalizeConfig({ name: "x", states: ["a", "b"] }).permissions.states).toEqual(["a", "b"]);
  });

  it("says what is wrong with a grant, and rejects unknown permission keys", () => {
    expect(() => normalizeConfig({ name: "x", states: "orders" })).toThrow(/states must be a list of state store names, or a map of name -> component spec, got string/);
    expect(() => normalizeConfig({ name: "x", states: [1] })).toThrow(/states\[0\] must be a state store's component name/);
    expect(() => normalizeConfig({ name: "x", states: { orders: "redis" } })).toThrow(/states.orders must be a component spec/);
    expect(() => normalizeConfig({ name: "x", permissions: { invoke: ["has space"] } })).toThrow(/permissions.invoke\[0\] 'has space' is not valid: an app id, or app-id\/method-prefix/);
    expect(() => normalizeConfig({ name: "x", permissions: { publish: ["no-topic"] } })).toThrow(/permissions.publish\[0\] 'no-topic' is not valid: pubsub\/topic/);
    expect(() => normalizeConfig({ name: "x", permissions: { secrets: "vault" } })).toThrow(/permissions.secrets must be a list/);
    try { normalizeConfig({ name: "x", permissions: { state: ["s"] } }); expect.unreachable(); } catch (e) {
      expect((e as { code: string }).code).toBe("WFN_CONFIG_UNKNOWN_KEY");
      expect((e as Error).message).toMatch(/'permissions.state' \(did you mean 'states'\?\)|'permissions.state'/);
    }
  });

  it("reports a missing file and broken YAML clearly", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "wfn-cfg-"));
    await expect(loadConfig(dir)).rejects.toThrow(/no wasm-fn.yaml in .*wasm-fn init/);
    await writeFile(path.join(dir, "wasm-fn.yaml"), "name: [unclosed\n");
    await expect(loadConfig(dir)).rejects.toThrow(/not valid YAML/);
  });

  it("parses sizes and durations", () => {
    expect(toBytes("1Mi")).toBe(1048576);
    expect(toBytes("64Ki")).toBe(65536);
    expect(toBytes(10)).toBe(10);
    expect(toBytes("1 gallon")).toBeNaN();
    expect(toMs("250ms")).toBe(250);
    expect(toMs("2m")).toBe(120_000);
    expect(toMs("soon")).toBeNaN();
  });
  it("reads retry: (Dapr's retry policy terms) with defaults, and deadLetterTopic on pubsub inputs only", () => {
    expect(normalizeConfig({ name: "x" }).retry).toEqual({ policy: "exponential", durationMs: 500, maxIntervalMs: 10_000, maxRetries: 5 });
    expect(normalizeConfig({ name: "x", retry: { policy: "constant", duration: "50ms", maxRetries: 0 } }).retry).toEqual({ policy: "constant", durationMs: 50, maxIntervalMs: 10_000, maxRetries: 0 });
    expect(() => normalizeConfig({ name: "x", retry: { maxRetries: -1 } })).toThrow(/retry.maxRetries must be between 0 and 1000, got -1/);
    expect(() => normalizeConfig({ name: "x", retry: { policy: "linear" } })).toThrow(/retry.policy must be one of exponential, constant/);
    expect(() => normalizeConfig({ name: "x", retry: { max: 3 } })).toThrow(/unknown key 'retry.max' \(did you mean 'maxRetries'\?\)/);
    const c = normalizeConfig({ name: "x", inputs: [{ dapr: { name: "pubsub", type: "pubsub.redis", topic: "jobs", deadLetterTopic: "jobs-dead" } }] });
    expect(c.inputs[0]!.dapr.deadLetterTopic).toBe("jobs-dead");
    expect(() => normalizeConfig({ name: "x", inputs: [{ dapr: { name: "cron", type: "bindings.cron", deadLetterTopic: "d" } }] })).toThrow(/inputs\[0\].dapr.deadLetterTopic is for pubsub inputs only/);
    expect(() => normalizeConfig({ name: "x", triggers: { dapr: [{ name: "pubsub", topic: "t", deadLetterTopic: "t" }] } })).toThrow(/triggers.dapr\[0\].deadLetterTopic must differ/);
    expect(() => normalizeConfig({ name: "x", outputs: [{ dapr: { name: "pubsub", topic: "t", deadLetterTopic: "d" } }] })).toThrow(/unknown key 'outputs\[0\].dapr.deadLetterTopic'/);
  });
});
