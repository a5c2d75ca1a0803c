import { describe, expect, it } from "vitest";
import { normalizeConfig } from "@wasm-fn/build";
import { manifests, runtimeClass, usesDapr } from "./manifests.js";

const image = "registry.example.com/f@sha256:" + "a".repeat(64);
const cfg = (doc: Record<string, unknown>) => normalizeConfig({ name: "f", ...doc });
const comp = (name: string, type: string, meta: Record<string, string>) => ({
  apiVersion: "dapr.io/v1alpha1", kind: "Component", metadata: { name },
  spec: { type, version: "v1", metadata: Object.entries(meta).map(([n, value]) => ({ name: n, value })) },
});

describe("manifests", () => {
  it("Dapr only for functions that reach a capability or consume events", () => {
    expect(usesDapr(cfg({}))).toBe(false);
    expect(usesDapr(cfg({ permissions: { hosts: ["api.example.com"] } }))).toBe(false);
    expect(usesDapr(cfg({ states: ["s"] }))).toBe(true);
    expect(usesDapr(cfg({ permissions: { secrets: ["vault"] } }))).toBe(true);
    expect(usesDapr(cfg({ inputs: [{ dapr: { name: "k", type: "bindings.kafka" } }] }))).toBe(true);
  });

  it("an HTTP function with minReplicas 0 keeps one replica and says so; maxReplicas 1 needs no HPA", () => {
    const { objects, notes } = manifests("kubernetes", { config: cfg({ scaleOptions: { maxReplicas: 1 } }), image });
    expect(objects.map((o) => o.kind)).toEqual(["Deployment", "Service"]);
    expect((objects[0]!.spec as any).replicas).toBe(1);
    expect(notes.join()).toMatch(/keeps 1 replica/);
  });

  it("Kafka inputs scale on their lag; an input KEDA cannot watch is a note and the function keeps a replica", () => {
    const kafka = manifests("kubernetes", {
      config: cfg({ inputs: [{ dapr: { name: "orders", type: "bindings.kafka" } }], scaleOptions: { minReplicas: 0, maxReplicas: 5 } }), image,
      components: [comp("orders", "bindings.kafka", { brokers: "kafka:9092", topics: "orders", consumerGroup: "g1" })],
    });
    const so = kafka.objects.find((o) => o.kind === "ScaledObject")!.spec as any;
    expect(so.triggers).toEqual([{ type: "kafka", metadata: { bootstrapServers: "kafka:9092", consumerGroup: "g1", topic: "orders", lagThreshold: "10" } }]);
    expect(so.maxReplicaCount).toBe(5);
    const mqtt = manifests("kubernetes", { config: cfg({ inputs: [{ dapr: { name: "m", type: "bindings.mqtt3" } }] }), image });
    expect(mqtt.objects.map((o) => o.kind)).not.toContain("ScaledObject");
    expect((mqtt.objects.find((o) => o.kind === "Deployment")!.spec as any).replicas).toBe(1);
    expect(mqtt.notes.join()).toMatch(/'m' \(bindings\.mqtt3\) has no KEDA scaler/);
  });

  it("components keep their own scopes, else get the function's app id, in the target namespace", () => {
    const { objects } = manifests("kubernetes", {
      config: cfg({ appId: "app-f", states: ["s"] }), image, namespace: "team-a",
      components: [comp("s", "state.redis", {}), { ...comp("p", "pubsub.redis", {}), scopes: ["other"] }],
    });
    const comps = objects.filter((o) => o.kind === "Component");
    expect(comps.map((c) => [c.metadata.namespace, c.scopes])).toEqual([["team-a", ["app-f"]], ["team-a", ["other"]]]);
    // Labelled with the function, so `wasm-fn delete` finds them with its other objects.
    for (const c of comps) expect(c.metadata.labels).toMatchObject({ "app.kubernetes.io/managed-by": "wasm-fn", "functions.wasm-fn.dev/name": objects.find((o) => o.kind === "Deployment")!.metadata.name });
  });

  it("openfunction: outputs, dapr triggers and scale options as OpenFunction names them", () => {
    const { objects } = manifests("openfunction", {
      config: cfg({ inputs: [{ dapr: { name: "pubsub", type: "pubsub.redis", topic: "in" } }], outputs: [{ dapr: { name: "pubsub", type: "pubsub.redis", topic: "out" } }], scaleOptions: { minReplicas: 0, maxReplicas: 3 } }),
      image,
    });
    const spec = objects[0]!.spec as any;
    expect(spec).toMatchObject({ image, workloadRuntime: "WasmEdge", serving: { scaleOptions: { minReplicas: 0, maxReplicas: 3 }, triggers: { dapr: [{ name: "pubsub", type: "pubsub.redis", topic: "in" }] }, outputs: [{ dapr: { name: "pubsub", topic: "out" } }] } });
    expect(spec.serving.annotations["module.wasm.image/variant"]).toBe("compat-smart");
  });

  it("the RuntimeClass names crun as its handler", () => {
    expect(runtimeClass()).toMatchObject({ apiVersion: "node.k8s.io/v1", kind: "RuntimeClass", metadata: { name: "wasmedge" }, handler: "crun" });
  });
});
