/**
 * Dapr's Kubernetes control plane on the test node: sentry, operator, placement and the sidecar
 * injector v1.16.5 (built from the same github.com/dapr/dapr module as daprd, by
 * scripts/build-dapr-control-plane.sh) and daprd's sidecar image (`scratch` + a static /daprd, as
 * Dapr's distroless image, pushed to the test's registry).
 *
 * They run as host processes beside the node, as the API server and the kubelet do, and the
 * cluster sees them as Dapr's Helm chart makes them: namespace dapr-system, the CRDs, the
 * `daprsystem` Configuration, the trust bundle that sentry fills, the MutatingWebhookConfiguration
 * dapr-sidecar-injector (the API server calls the injector through its Service), and Services
 * dapr-sentry, dapr-api, dapr-placement-server whose EndpointSlices name the host addresses each
 * listens on (10.88.0.2-4, port 443/443/50005 as in the chart); the node's cluster DNS resolves
 * their names for the injected daprd. Two things stand in for what a pod would have:
 * - each process's identity: sentry signs certificates only for pods, so each runs as a
 *   placeholder pod in dapr-system (annotated `dapr.io/control-plane`, held by a scheduling gate,
 *   never run) with a service-account token bound to that pod, as the chart's projected token is;
 * - the injector looks for a Kubernetes token at /var/run/secrets/dapr.io/sentrytoken/token to
 *   decide that sidecars get one too: it runs in a mount namespace with its token there.
 * Dapr's scheduler is not run: a `dapr-scheduler-server` StatefulSet with 0 replicas tells the
 * injector so (daprd then logs "Scheduler disabled"), as `dapr init -k` with the scheduler off does.
 *
 * @example
 *   const dapr = await startDaprOnCluster(kube, node, reg.host); ... await dapr.stop();
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { ROOT } from "./cli.js";
import type { KubeApi } from "./kube.js";
import { BRIDGE_HOST, cacheDir, goModCache, type KubeNode } from "./kube-node.js";
import { freePort, requireBinary, startProcess, type Proc } from "./proc.js";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const DAPR_VERSION = "v1.16.5";
export const DAPR_NS = "dapr-system";
const TRUST_DOMAIN = "cluster.local";
const SENTRY_AUDIENCE = `spiffe://${TRUST_DOMAIN}/ns/${DAPR_NS}/dapr-sentry`;
const INJECTOR_PORT = 4000;

export interface DaprOnCluster {
  /** The sidecar image the injector puts into pods (in the test's registry). */
  sidecarImage: string;
  logs(): Record<string, string>;
  stop(): Promise<void>;
}

async function controlPlaneBinaries(): Promise<string> {
  try {
    const { stdout } = await run("bash", [path.join(ROOT, "scripts", "build-dapr-control-plane.sh")], { timeout: 40 * 60_000, maxBuffer: 1 << 22 });
    return stdout.trim().split("\n").pop()!;
  } catch (e) {
    throw new Error(`Dapr's control plane is not available: run \`bash scripts/provision.sh\` (it builds it with scripts/build-dapr-control-plane.sh; needs Go and the Go module proxy): ${(e as Error).message}`);
  }
}

/** An OCI layout with daprd's sidecar image (scratch, /daprd, user 65532), built once and cached. */
async function sidecarLayout(bins: string): Promise<string> {
  const out = path.join(cacheDir(), `daprd-image-${DAPR_VERSION}`);
  if (existsSync(path.join(out, "index.json"))) return out;
  requireBinary("umoci");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "wfn-daprd-img-"));
  const tag = DAPR_VERSION.slice(1);
  try {
    // /etc/passwd and /etc/group name the nonroot user as distroless does: the kubelet passes the
    // image's UID alone, and the group comes from /etc/passwd (daprd refuses 65532:0).
    writeFileSync(path.join(tmp, "passwd"), "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n");
    writeFileSync(path.join(tmp, "group"), "root:x:0:\nnonroot:x:65532:\n");
    await run("bash", ["-c", [
      `cd '${tmp}'`, `cp '${bins}/daprd' daprd`, "umoci init --layout oci", `umoci new --image oci:${tag}`,
      `umoci insert --image oci:${tag} daprd /daprd`, `umoci insert --image oci:${tag} passwd /etc/passwd`, `umoci insert --image oci:${tag} group /etc/group`,
      `umoci config --image oci:${tag} --config.user 65532:65532 --config.workingdir /`,
    ].join(" && ")], { timeout: 300_000, maxBuffer: 1 << 24 });
    rmSync(out, { recursive: true, force: true });
    await run("mv", [path.join(tmp, "oci"), out]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

/** The Dapr module's source in the Go module cache (the build script downloaded it): its Helm chart's CRDs. */
async function chartCrds(): Promise<string> {
  const dir = path.join(await goModCache(), "github.com", "dapr", `dapr@${DAPR_VERSION}`, "charts", "dapr", "crds");
  if (!existsSync(dir)) throw new Error(`${dir} is missing: run \`bash scripts/provision.sh\` (scripts/build-dapr-control-plane.sh downloads github.com/dapr/dapr ${DAPR_VERSION})`);
  return dir;
}

/** Starts Dapr's control plane for the node's cluster; resolves when the injector serves its webhook. */
export async function startDaprOnCluster(kube: KubeApi, node: KubeNode, registry: string): Promise<DaprOnCluster> {
  const bins = await controlPlaneBinaries();
  const tag = DAPR_VERSION.slice(1);
  const sidecarImage = `${registry}/daprio/daprd:${tag}`;
  await run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${await sidecarLayout(bins)}:${tag}`, `docker://${sidecarImage}`], { timeout: 300_000 });

  const must = async (what: string, p: Promise<{ status: number; body: any }>) => {
    const r = await p;
    if (r.status >= 300) throw new Error(`${what} failed (${r.status}): ${JSON.stringify(r.body).slice(0, 600)}`);
    return r.body;
  };
  // The CRDs of Dapr's chart (components.dapr.io is there already), established.
  const crdDir = await chartCrds();
  for (const f of readdirSync(crdDir).filter((n) => n.endsWith(".yaml"))) {
    for (const doc of parseAllDocuments(readFileSync(path.join(crdDir, f), "utf8"))) {
      const crd = doc.toJS() as Record<string, any> | null;
      if (crd?.kind !== "CustomResourceDefinition") continue;
      await must(`installing Dapr's CRD ${crd.metadata.name}`, kube.apply(crd));
      for (const end = Date.now() + 30_000; ;) {
        const got = await kube.request("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
        if ((got.body?.status?.conditions ?? []).some((c: any) => c.type === "Established" && c.status === "True")) break;
        if (Date.now() > end) throw new Error(`Dapr's CRD ${crd.metadata.name} was not established`);
        await sleep(100);
      }
    }
  }

  const sentryIp = await node.addHostAddress(2);
  const operatorIp = await node.addHostAddress(3);
  const placementIp = await node.addHostAddress(4);
  const objects: Record<string, any>[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: DAPR_NS } },
    ...["sentry", "operator", "placement", "injector"].map((c) => ({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: `dapr-${c}`, namespace: DAPR_NS } })),
    // Sentry fills these with the CA it makes on first start.
    { apiVersion: "v1", kind: "Secret", metadata: { name: "dapr-trust-bundle", namespace: DAPR_NS } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "dapr-trust-bundle", namespace: DAPR_NS } },
    { apiVersion: "dapr.io/v1alpha1", kind: "Configuration", metadata: { name: "daprsystem", namespace: DAPR_NS },
      spec: { mtls: { enabled: true, workloadCertTTL: "24h", allowedClockSkew: "15m", controlPlaneTrustDomain: TRUST_DOMAIN, sentryAddress: `${sentryIp}:443` } } },
    { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "dapr-scheduler-server", namespace: DAPR_NS },
      spec: { replicas: 0, serviceName: "dapr-scheduler-server", selector: { matchLabels: { app: "dapr-scheduler-server" } },
        template: { metadata: { labels: { app: "dapr-scheduler-server" } }, spec: { containers: [{ name: "dapr-scheduler-server", image: sidecarImage }] } } } },
    ...hostService("dapr-sidecar-injector", BRIDGE_HOST, 443, INJECTOR_PORT),
    ...hostService("dapr-sentry", sentryIp, 443, 443),
    ...hostService("dapr-api", operatorIp, 443, 443),
    ...hostService("dapr-placement-server", placementIp, 50005, 50005),
    // As the chart's webhook: pods on CREATE, through the injector's Service; Ignore, so a pod is
    // never refused because the injector is down (it then has no sidecar, which the test would see).
    { apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingWebhookConfiguration", metadata: { name: "dapr-sidecar-injector" },
      webhooks: [{ name: "sidecar-injector.dapr.io", reinvocationPolicy: "IfNeeded", clientConfig: { service: { namespace: DAPR_NS, name: "dapr-sidecar-injector", path: "/mutate" } },
        rules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], operations: ["CREATE"] }],
        failurePolicy: "Ignore", sideEffects: "None", admissionReviewVersions: ["v1", "v1beta1"] }] },
  ];
  for (const o of objects) await must(`applying ${o.kind} ${o.metadata.name}`, kube.apply(o));

  const dir = mkdtempSync("/tmp/wfn-dapr-cp-");
  const started: Record<string, Proc> = {};
  const stop = async () => {
    for (const p of Object.values(started).reverse()) await p.stop().catch(() => undefined);
    for (const c of ["sentry", "operator", "placement", "injector"]) await kube.request("DELETE", `/api/v1/namespaces/${DAPR_NS}/pods/dapr-${c}-host`).catch(() => undefined);
    await kube.request("DELETE", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/dapr-sidecar-injector").catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Identities: a placeholder pod per process and a token bound to it (audience: sentry).
    const tokens: Record<string, string> = {};
    for (const c of ["operator", "placement", "injector"]) {
      const pod = await must(`creating the placeholder pod of dapr-${c}`, kube.apply({
        apiVersion: "v1", kind: "Pod", metadata: { name: `dapr-${c}-host`, namespace: DAPR_NS, annotations: { "dapr.io/control-plane": c }, labels: { app: `dapr-${c}` } },
        spec: { serviceAccountName: `dapr-${c}`, schedulingGates: [{ name: "wasm-fn.dev/runs-on-the-host" }], containers: [{ name: c, image: sidecarImage }] },
      }));
      const tr = await must(`requesting a token for dapr-${c}`, kube.request("POST", `/api/v1/namespaces/${DAPR_NS}/serviceaccounts/dapr-${c}/token`, {
        apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest",
        spec: { audiences: [SENTRY_AUDIENCE], expirationSeconds: 86400, boundObjectRef: { kind: "Pod", apiVersion: "v1", name: pod.metadata.name, uid: pod.metadata.uid } },
      }));
      tokens[c] = path.join(dir, `${c}.token`);
      writeFileSync(tokens[c]!, tr.status.token);
    }
    const common = { NAMESPACE: DAPR_NS, DAPR_UNSAFE_SKIP_CONTAINER_UID_GID_CHECK: "true", KUBECONFIG: kube.kubeconfig };
    const healthz = async () => { const port = await freePort(); return { port, args: ["--healthz-port", String(port), "--enable-metrics=false", "--log-level", "info"] }; };
    const waitHealthy = async (name: string, port: number) => {
      for (const end = Date.now() + 60_000; ;) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
        if (ok) return;
        if (Date.now() > end) throw new Error(`dapr ${name} was not healthy in 60 s:\n${started[name]?.logs().slice(-4000)}`);
        await sleep(200);
      }
    };

    mkdirSync(path.join(dir, "issuer"));
    const sh = await healthz();
    started.sentry = await startProcess(path.join(bins, "sentry"), [
      "--mode", "kubernetes", "--kubeconfig", kube.kubeconfig, "--trust-domain", TRUST_DOMAIN, "--config", "daprsystem",
      "--listen-address", sentryIp, "--port", "443", "--issuer-credentials", path.join(dir, "issuer"), ...sh.args,
    ], { env: common, readyLine: /./, timeoutMs: 30_000 });
    await waitHealthy("sentry", sh.port);
    // The trust anchors sentry published, for the other processes (in a pod: the mounted ConfigMap).
    const ca = path.join(dir, "ca.crt");
    for (const end = Date.now() + 30_000; ;) {
      const cm = await kube.request("GET", `/api/v1/namespaces/${DAPR_NS}/configmaps/dapr-trust-bundle`);
      if (cm.body?.data?.["ca.crt"]) { writeFileSync(ca, cm.body.data["ca.crt"]); break; }
      if (Date.now() > end) throw new Error(`sentry did not publish its trust bundle in 30 s:\n${started.sentry.logs().slice(-4000)}`);
      await sleep(200);
    }

    const oh = await healthz();
    started.operator = await startProcess(path.join(bins, "operator"), [
      "--kubeconfig", kube.kubeconfig, "--listen-address", operatorIp, "--port", "443", "--disable-leader-election",
      "--trust-anchors-file", ca, "--config", "daprsystem", ...oh.args,
    ], { env: { ...common, ENABLE_WEBHOOKS: "false", DAPR_SENTRY_TOKEN_FILE: tokens.operator }, readyLine: /./, timeoutMs: 30_000 });

    const ph = await healthz();
    started.placement = await startProcess(path.join(bins, "placement"), [
      "--mode", "kubernetes", "--listen-address", placementIp, "--port", "50005", "--tls-enabled", "--trust-domain", TRUST_DOMAIN,
      "--trust-anchors-file", ca, "--sentry-address", `${sentryIp}:443`, "--initial-cluster", `dapr-placement-0=127.0.0.1:${await freePort()}`, ...ph.args,
    ], { env: { ...common, DAPR_SENTRY_TOKEN_FILE: tokens.placement }, readyLine: /./, timeoutMs: 30_000 });

    // The injector in its own mount namespace: a tmpfs /run holding its token where the chart's
    // projected volume puts it (it gives sidecars a token volume only when it has one itself).
    const ih = await healthz();
    const injectorEnv = {
      ...common, SIDECAR_IMAGE: sidecarImage, SIDECAR_IMAGE_PULL_POLICY: "IfNotPresent", KUBE_CLUSTER_DOMAIN: TRUST_DOMAIN, ACTORS_ENABLED: "true",
      DAPR_SENTRY_ADDRESS: `${sentryIp}:443`, DAPR_TRUST_ANCHORS_FILE: ca, DAPR_CONTROL_PLANE_TRUST_DOMAIN: TRUST_DOMAIN,
    };
    const mountToken = `mount --make-rprivate / && mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/dapr.io/sentrytoken && cp '${tokens.injector}' /run/secrets/dapr.io/sentrytoken/token`;
    started.injector = await startProcess("unshare", ["-m", "sh", "-c", `${mountToken} && exec '${path.join(bins, "injector")}' --kubeconfig '${kube.kubeconfig}' --port ${INJECTOR_PORT} ${ih.args.join(" ")}`],
      { env: injectorEnv, readyLine: /./, timeoutMs: 30_000 });
    await Promise.all([waitHealthy("operator", oh.port), waitHealthy("placement", ph.port), waitHealthy("injector", ih.port)]);
    // The injector patches its webhook's caBundle with the trust anchors once it serves.
    for (const end = Date.now() + 30_000; ;) {
      const w = await kube.request("GET", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/dapr-sidecar-injector");
      if (w.body?.webhooks?.[0]?.clientConfig?.caBundle) break;
      if (Date.now() > end) throw new Error(`the injector did not set its webhook's caBundle in 30 s:\n${started.injector.logs().slice(-4000)}`);
      await sleep(200);
    }
  } catch (e) {
    const logs = Object.entries(started).map(([n, p]) => `--- ${n}:\n${p.logs().slice(-3000)}`).join("\n");
    await stop();
    throw new Error(`${(e as Error).message}\n${logs}`);
  }
  return {
    sidecarImage,
    logs: () => Object.fromEntries(Object.entries(started).map(([n, p]) => [n, p.logs()])),
    stop,
  };
}

/** A selector-less Service whose one endpoint is a host address (what the cluster DNS answers for its name). */
export function hostService(name: string, ip: string, port: number, targetPort: number, namespace = DAPR_NS): Record<string, any>[] {
  const portName = port === 443 ? "https" : "tcp";
  return [
    { apiVersion: "v1", kind: "Service", metadata: { name, namespace }, spec: { ports: [{ name: portName, port, targetPort, protocol: "TCP" }] } },
    { apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice", metadata: { name: `${name}-host`, namespace, labels: { "kubernetes.io/service-name": name, "endpointslice.kubernetes.io/managed-by": "wasm-fn-test" } },
      addressType: "IPv4", ports: [{ name: portName, port: targetPort, protocol: "TCP" }], endpoints: [{ addresses: [ip], conditions: { ready: true } }] },
  ];
}
