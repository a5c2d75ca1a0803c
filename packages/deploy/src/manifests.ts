/**
 * The Kubernetes objects that run one function (pure: config + image in, objects out; nothing is
 * read from or written to a cluster here). Two targets (docs/kubernetes.md):
 *
 * - kubernetes: a Deployment whose pod runs the image's WasmEdge form through crun (the pod carries
 *   `module.wasm.image/variant: compat-smart` and a RuntimeClass; containerd copies no image
 *   annotation into a container, so the pod must say it), a Service, Dapr's annotations when the
 *   function reaches a capability or consumes events (and the Dapr Components given), an HPA (sync)
 *   or a KEDA ScaledObject (async), and optionally a Gateway API HTTPRoute;
 * - openfunction: one `core.openfunction.io/v1beta2` Function with `workloadRuntime: WasmEdge`
 *   (OpenFunction makes the rest), and the Dapr Components given.
 */
import type { DaprRef, FunctionConfig } from "@wasm-fn/build";

/** Any Kubernetes object, as applied (server-side apply needs apiVersion, kind, metadata.name). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export type Target = "kubernetes" | "openfunction";

export interface ManifestInput {
  config: FunctionConfig;
  /** The image by digest (registry/repository@sha256:...). */
  image: string;
  /** The Kubernetes namespace (default: the function's namespace). */
  namespace?: string;
  /** RuntimeClass whose handler is a WasmEdge-enabled crun (default `wasmedge`). */
  runtimeClass?: string;
  /** Dapr Configuration the sidecar uses (`dapr.io/config`). */
  daprConfig?: string;
  /** Dapr Components to create beside the function (from --resources-path). */
  components?: KubeObject[];
  /** A Gateway API Gateway to attach an HTTPRoute to ("name" or "namespace/name"), and the domain of host routes. */
  gateway?: { name: string; namespace?: string; domain: string };
}

export interface Manifests {
  objects: KubeObject[];
  /** What the user should know about the mapping (printed on stderr): e.g. no scaler for a component type. */
  notes: string[];
}

/** The port the WasmEdge form listens on ($PORT), and OpenFunction's default function port. */
export const FUNCTION_PORT = 8080;
export const DEFAULT_RUNTIME_CLASS = "wasmedge";
/** The annotation crun reads to run a container as Wasm (WasmEdge's compat-smart variant). */
export const WASM_VARIANT = { "module.wasm.image/variant": "compat-smart" } as const;
/** Labels every object carries, so status and delete find them. */
export const MANAGED_BY = "app.kubernetes.io/managed-by";
export const FUNCTION_LABEL = "functions.wasm-fn.dev/name";

/** The RuntimeClass a cluster admin installs once: pods that name it run under crun (built with WasmEdge). */
export function runtimeClass(name = DEFAULT_RUNTIME_CLASS, handler = "crun"): KubeObject {
  return { apiVersion: "node.k8s.io/v1", kind: "RuntimeClass", metadata: { name, labels: { [MANAGED_BY]: "wasm-fn" } }, handler };
}

/** True when the function reaches Dapr (a capability through the sidecar) or consumes events. */
export function usesDapr(c: FunctionConfig): boolean {
  const p = c.permissions;
  return c.states.length > 0 || c.inputs.length > 0 || c.outputs.length > 0 || (c.triggers.dapr?.length ?? 0) > 0
    || p.secrets.length > 0 || p.configuration.length > 0 || p.invoke.length > 0 || p.publish.length > 0 || p.bindings.length > 0;
}

/** The function's async inputs (OpenFunction's `inputs` and `triggers.dapr`). */
function eventRefs(c: FunctionConfig): DaprRef[] {
  return [...c.inputs.map((i) => i.dapr), ...(c.triggers.dapr ?? [])];
}

export function manifests(target: Target, i: ManifestInput): Manifests {
  return target === "openfunction" ? openFunction(i) : kubernetes(i);
}

function labelsOf(c: FunctionConfig): Record<string, string> {
  return { "app.kubernetes.io/name": c.name, "app.kubernetes.io/version": c.version, [MANAGED_BY]: "wasm-fn", [FUNCTION_LABEL]: c.name };
}

/** Memory for the pod: the guest's cap plus WasmEdge and the adapter (request), with room to grow (limit). */
function resources(c: FunctionConfig): { requests: Record<string, string>; limits: Record<string, string> } {
  const guestMi = Math.ceil((c.limits.memoryPages * 65536) / 1048576);
  return { requests: { cpu: "10m", memory: `${guestMi + 16}Mi` }, limits: { memory: `${guestMi + 64}Mi` } };
}

function components(i: ManifestInput, ns: string, appId: string): KubeObject[] {
  return (i.components ?? []).map((comp) => {
    const scopes = Array.isArray(comp.scopes) ? (comp.scopes as string[]) : [];
    return {
      ...comp,
      // Labelled with the function, as its other objects: `wasm-fn delete` removes them too.
      metadata: { ...comp.metadata, namespace: ns, labels: { ...comp.metadata.labels, [MANAGED_BY]: "wasm-fn", [FUNCTION_LABEL]: i.config.name } },
      // Scoped to this function's app id unless the component already names its apps.
      scopes: scopes.length > 0 ? scopes : [appId],
    };
  });
}

function kubernetes(i: ManifestInput): Manifests {
  const c = i.config;
  const ns = i.namespace ?? c.namespace;
  const labels = labelsOf(c);
  const selector = { [FUNCTION_LABEL]: c.name };
  const notes: string[] = [];
  const dapr = usesDapr(c);
  const events = eventRefs(c);
  const podAnnotations: Record<string, string> = { ...WASM_VARIANT };
  if (dapr) {
    Object.assign(podAnnotations, {
      "dapr.io/enabled": "true",
      "dapr.io/app-id": c.appId,
      "dapr.io/app-port": String(FUNCTION_PORT),
      "dapr.io/app-protocol": "http",
      "dapr.io/log-as-json": "true",
    });
    if (i.daprConfig) podAnnotations["dapr.io/config"] = i.daprConfig;
  }
  const { minReplicas, maxReplicas } = c.scaleOptions;
  // A Deployment behind an HPA keeps at least one replica; an async function scales from zero with KEDA.
  const scaler = events.length > 0 ? scaledObject(i, ns, labels, notes) : null;
  const replicas = scaler ? minReplicas : Math.max(1, minReplicas);
  if (!scaler && minReplicas === 0) notes.push(`scaleOptions.minReplicas is 0, but an HTTP function on plain Kubernetes keeps 1 replica (an HPA cannot scale to zero); --target openfunction scales it to zero with Knative or KEDA's HTTP add-on`);
  const probe = (path: string) => ({ httpGet: { path, port: "http" }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 3 });
  const deployment: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: c.name, namespace: ns, labels },
    spec: {
      replicas,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels, annotations: podAnnotations },
        spec: {
          runtimeClassName: i.runtimeClass ?? DEFAULT_RUNTIME_CLASS,
          containers: [{
            name: "function",
            image: i.image,
            imagePullPolicy: "IfNotPresent",
            env: [{ name: "PORT", value: String(FUNCTION_PORT) }],
            ports: [{ name: "http", containerPort: FUNCTION_PORT, protocol: "TCP" }],
            readinessProbe: { ...probe("/readyz"), initialDelaySeconds: 0 },
            livenessProbe: { ...probe("/healthz"), initialDelaySeconds: 5 },
            resources: resources(c),
            // A function that exits writes no termination message: its last log lines say why (wasm-fn status shows them).
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
        },
      },
    },
  };
  const service: KubeObject = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: c.name, namespace: ns, labels },
    spec: { selector, ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }] },
  };
  const objects: KubeObject[] = [...components(i, ns, c.appId), deployment, service];
  if (scaler) objects.push(scaler);
  else if (maxReplicas > replicas) objects.push(hpa(c, ns, labels, replicas));
  if (i.gateway) objects.push(httpRoute(c, ns, labels, i.gateway));
  return { objects, notes };
}

function hpa(c: FunctionConfig, ns: string, labels: Record<string, string>, min: number): KubeObject {
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: c.name, namespace: ns, labels },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: c.name },
      minReplicas: min,
      maxReplicas: c.scaleOptions.maxReplicas,
      metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } }],
    },
  };
}

/**
 * A KEDA ScaledObject for an async function: one trigger per input whose component type KEDA has a
 * scaler for (Redis streams, Kafka); the component's own metadata gives the address. Null (and a
 * note) when no input can be scaled on: the Deployment then keeps max(1, minReplicas).
 */
function scaledObject(i: ManifestInput, ns: string, labels: Record<string, string>, notes: string[]): KubeObject | null {
  const c = i.config;
  const triggers: Record<string, unknown>[] = [];
  for (const ref of eventRefs(c)) {
    const comp = (i.components ?? []).find((x) => x.metadata.name === ref.name);
    const spec = (comp?.spec ?? {}) as { type?: string; metadata?: { name: string; value?: string }[] };
    const type = spec.type ?? ref.type ?? "";
    const meta = (k: string) => spec.metadata?.find((m) => m.name === k)?.value;
    if (type === "pubsub.redis") {
      triggers.push({ type: "redis-streams", metadata: { address: meta("redisHost") ?? "redis:6379", stream: ref.topic ?? "", consumerGroup: c.appId, pendingEntriesCount: "10" } });
    } else if (type === "pubsub.kafka" || type === "bindings.kafka") {
      triggers.push({ type: "kafka", metadata: { bootstrapServers: meta("brokers") ?? "kafka:9092", consumerGroup: meta("consumerGroup") ?? c.appId, topic: ref.topic ?? meta("topics") ?? "", lagThreshold: "10" } });
    } else {
      notes.push(`input '${ref.name}' (${type || "type unknown: pass its component with --resources-path"}) has no KEDA scaler wasm-fn maps; the function keeps ${Math.max(1, c.scaleOptions.minReplicas)} replica(s) for it`);
    }
  }
  if (triggers.length === 0) return null;
  return {
    apiVersion: "keda.sh/v1alpha1",
    kind: "ScaledObject",
    metadata: { name: c.name, namespace: ns, labels },
    spec: {
      scaleTargetRef: { name: c.name },
      minReplicaCount: c.scaleOptions.minReplicas,
      maxReplicaCount: c.scaleOptions.maxReplicas,
      cooldownPeriod: Math.max(30, Math.round(c.scaleOptions.idleTimeoutMs / 1000)),
      triggers,
    },
  };
}

/** OpenFunction's route templates: host `{name}.{namespace}.{domain}`, path `/{namespace}/{name}`, plus the function's own. */
function httpRoute(c: FunctionConfig, ns: string, labels: Record<string, string>, gw: NonNullable<ManifestInput["gateway"]>): KubeObject {
  const route = c.triggers.http?.route ?? {};
  const paths = [`/${c.namespace}/${c.name}`, ...(route.paths ?? [])];
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: c.name, namespace: ns, labels },
    spec: {
      parentRefs: [{ name: gw.name, ...(gw.namespace ? { namespace: gw.namespace } : {}) }],
      hostnames: [`${c.name}.${c.namespace}.${gw.domain}`, ...(route.hostnames ?? [])],
      rules: [{
        matches: paths.map((value) => ({ path: { type: "PathPrefix", value } })),
        backendRefs: [{ name: c.name, port: 80 }],
      }],
    },
  };
}

/** Dapr refs as OpenFunction writes them (name, type, topic, operation, metadata as a map). */
function ofRef(r: DaprRef): Record<string, unknown> {
  return { name: r.name, ...(r.type ? { type: r.type } : {}), ...(r.topic ? { topic: r.topic } : {}), ...(r.operation ? { operation: r.operation } : {}), ...(r.metadata ? { metadata: r.metadata } : {}) };
}

function openFunction(i: ManifestInput): Manifests {
  const c = i.config;
  const ns = i.namespace ?? c.namespace;
  const notes: string[] = [];
  const triggers: Record<string, unknown> = {};
  if (c.triggers.http) {
    const route = c.triggers.http.route ?? {};
    triggers.http = {
      port: FUNCTION_PORT,
      ...(route.hostnames?.length || route.paths?.length || i.gateway ? {
        route: {
          ...(i.gateway ? { gatewayRef: { name: i.gateway.name, namespace: i.gateway.namespace ?? ns } } : {}),
          ...(route.hostnames?.length ? { hostnames: route.hostnames } : {}),
          ...(route.paths?.length ? { rules: [{ matches: route.paths.map((value) => ({ path: { type: "PathPrefix", value } })) }] } : {}),
        },
      } : {}),
    };
  }
  const events = eventRefs(c);
  if (events.length > 0) triggers.dapr = events.map((r) => ({ name: r.name, ...(r.type ? { type: r.type } : {}), ...(r.topic ? { topic: r.topic } : {}) }));
  const serving: Record<string, unknown> = {
    triggers,
    scaleOptions: { minReplicas: c.scaleOptions.minReplicas, maxReplicas: c.scaleOptions.maxReplicas },
    annotations: { ...WASM_VARIANT, ...(i.daprConfig ? { "dapr.io/config": i.daprConfig } : {}) },
    template: { containers: [{ name: "function", imagePullPolicy: "IfNotPresent", resources: resources(c) }] },
  };
  if (c.outputs.length > 0) serving.outputs = c.outputs.map((o) => ({ dapr: ofRef(o.dapr) }));
  if (i.runtimeClass && i.runtimeClass !== DEFAULT_RUNTIME_CLASS) notes.push(`--runtime-class ${i.runtimeClass} is not used by --target openfunction: OpenFunction picks the RuntimeClass for workloadRuntime WasmEdge (openfunction-crun)`);
  const fn: KubeObject = {
    apiVersion: "core.openfunction.io/v1beta2",
    kind: "Function",
    metadata: { name: c.name, namespace: ns, labels: labelsOf(c) },
    spec: { version: c.version, image: i.image, workloadRuntime: "WasmEdge", serving },
  };
  return { objects: [...components(i, ns, c.appId), fn], notes };
}
