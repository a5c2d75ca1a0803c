import { existsSync } from "node:fs";
import path from "node:path";
import { WfnError, isWfnError } from "@wasm-fn/abi";
import type { FunctionConfig } from "@wasm-fn/build";
import type { KubeObject, Target } from "@wasm-fn/deploy";
import { clusterOf, durationMs } from "./kube.js";
import { print, progress } from "../output.js";

/** What to deploy: the config and the image by digest. */
interface Resolved {
  config: FunctionConfig;
  image: string;
  digest: string;
}

/**
 * `wasm-fn deploy [dir|ref]`: the function's Kubernetes objects, applied server-side (field manager
 * wasm-fn), then waits for the rollout; `--dry-run` prints them and touches nothing (docs/kubernetes.md).
 */
export async function run(args: unknown[], opts: Record<string, unknown>, global: Record<string, unknown>): Promise<number> {
  const json = Boolean(global.json);
  const out = String(opts.output ?? (json ? "json" : "yaml"));
  if (out !== "yaml" && out !== "json") throw new WfnError("WFN_USAGE", `-o/--output must be yaml or json, got '${out}'`);
  const deploy = await import("@wasm-fn/deploy");
  if (opts.emit !== undefined) {
    if (opts.emit !== "runtimeclass") throw new WfnError("WFN_USAGE", `--emit takes runtimeclass (the RuntimeClass a cluster admin installs), got '${String(opts.emit)}'`);
    process.stdout.write(await render([deploy.runtimeClass(String(opts.runtimeClass ?? deploy.DEFAULT_RUNTIME_CLASS))], out));
    return 0;
  }
  const target = String(opts.target ?? "kubernetes");
  if (target !== "kubernetes" && target !== "openfunction") throw new WfnError("WFN_USAGE", `--target must be kubernetes or openfunction, got '${target}'`);
  const dryRun = Boolean(opts.dryRun);
  const step = (s: string) => progress(json, s);
  const what = await resolve(String(args[0] ?? "."), opts, dryRun, step);
  const namespace = String(opts.namespace ?? what.config.namespace);
  const components = opts.resourcesPath ? await deploy.readComponentObjects(String(opts.resourcesPath)) : [];
  const gateway = opts.gateway ? gatewayOf(String(opts.gateway), String(opts.domain ?? "local")) : undefined;
  const { objects, notes } = deploy.manifests(target as Target, {
    config: what.config, image: what.image, namespace, components,
    ...(opts.runtimeClass ? { runtimeClass: String(opts.runtimeClass) } : {}),
    ...(opts.daprConfig ? { daprConfig: String(opts.daprConfig) } : {}),
    ...(gateway ? { gateway } : {}),
  });
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  if (dryRun) {
    process.stdout.write(await render(objects, out));
    return 0;
  }
  const cluster = await clusterOf(opts);
  if (target === "kubernetes") {
    const rc = String(opts.runtimeClass ?? deploy.DEFAULT_RUNTIME_CLASS);
    if ((await cluster.hasRuntimeClass(rc)) === false) {
      throw new WfnError(deploy.KubeErrors.NO_RUNTIMECLASS, `the cluster at ${cluster.server} has no RuntimeClass '${rc}', so no node would run the function's Wasm: a cluster admin installs it with \`wasm-fn deploy --emit runtimeclass | kubectl apply -f -\` (handler crun, on nodes whose containerd runs crun built with WasmEdge), or pass --runtime-class NAME`);
    }
  }
  step(`applying ${objects.length} objects to ${cluster.server} (context ${cluster.context}, namespace ${namespace})`);
  await cluster.apply(objects, { onApplied: (o) => step(`applied ${o.kind} ${o.metadata.name}`) });
  const name = what.config.name;
  let ready: number | null = null;
  const wait = target === "kubernetes" && opts.wait !== false;
  if (wait) {
    const timeoutMs = await durationMs(String(opts.timeout ?? "120s"), "--timeout");
    const d = await cluster.waitRollout(namespace, name, timeoutMs, (line) => step(`rollout of ${name}: ${line}`));
    ready = d.status?.readyReplicas ?? 0;
  }
  const url = `http://${name}.${namespace}.svc.cluster.local/${what.config.namespace}/${name}`;
  const result = { target, namespace, name, image: what.image, applied: objects.map((o) => `${o.kind}/${o.metadata.name}`), ready, url, ...(gateway ? { host: `${name}.${what.config.namespace}.${gateway.domain}` } : {}) };
  print(json, result, () => [
    `deployed ${namespace}/${name} (${what.image})${ready !== null ? `: ${ready} ready` : ""}`,
    target === "openfunction" ? `OpenFunction makes the workload; see it with \`kubectl get function ${name} -n ${namespace}\`` : `in the cluster: ${url}`,
    ...(gateway ? [`through the gateway: Host ${result.host}`] : []),
  ].join("\n"));
  return 0;
}

/** A function directory (built, pushed to --image, deployed by digest) or an image (reference, layout or archive) whose annotation carries its config. */
async function resolve(src: string, opts: Record<string, unknown>, dryRun: boolean, step: (s: string) => void): Promise<Resolved> {
  const oci = await import("@wasm-fn/oci");
  const { normalizeConfig, CONFIG_FILE } = await import("@wasm-fn/build");
  const insecure = Boolean(opts.insecure);
  if (!oci.isImageReference(src) && existsSync(path.join(src, CONFIG_FILE))) {
    if (!opts.image) throw new WfnError("WFN_USAGE", `deploying the function in ${src} needs --image REGISTRY/REPOSITORY[:TAG]: wasm-fn builds it, pushes it there and deploys it by digest (nodes pull it from that registry)`);
    const ref = String(opts.image);
    const parsed = oci.parseReference(ref);
    if (parsed.digest) throw new WfnError("WFN_USAGE", `--image ${ref} names a digest; give a repository and tag to push to (the digest is what the push produces)`);
    const { buildAndPackage } = await import("./build.js");
    step(`building ${src}`);
    const { result, image } = await buildAndPackage(path.resolve(src), {}, step);
    const config = normalizeConfig(result.metadata.config, `${src}/${CONFIG_FILE}`);
    let digest = image!.manifestDigest;
    if (!dryRun) {
      step(`pushing to ${ref}`);
      digest = (await oci.pushLayout(image!.layout, ref, { insecure })).digest;
    }
    return { config, digest, image: oci.formatReference({ registry: parsed.registry, repository: parsed.repository, digest }) };
  }
  if (!oci.isImageReference(src)) {
    if (existsSync(src)) throw new WfnError("WFN_USAGE", `${src} is neither a function directory (no ${CONFIG_FILE}) nor an image reference; deploy a function directory with --image, or an image pushed to a registry (REGISTRY/REPOSITORY:TAG)`);
    throw new WfnError("WFN_USAGE", `${src} is not a folder or an image reference with its registry (e.g. localhost:5000/hello:0.1.0)`);
  }
  step(`resolving ${src}`);
  let info: Awaited<ReturnType<typeof oci.inspectImage>>;
  try {
    info = await oci.inspectImage(src, { insecure });
  } catch (e) {
    if (isWfnError(e) && e.code === oci.OciErrorCode.REGISTRY_NOT_FOUND) throw new WfnError(e.code, `the image ${src} is not in its registry (${e.message}); push it first (\`wasm-fn push ${src} DIR\`) or check the name and tag`);
    throw e;
  }
  const meta = info.annotations[oci.Annotation.wasmFnFunction];
  if (!meta) throw new WfnError("WFN_USAGE", `the image ${src} was not built by wasm-fn build (no ${oci.Annotation.wasmFnFunction} annotation), so its routes, limits and grants are unknown; deploy its function directory with --image instead`);
  let config: FunctionConfig;
  try {
    config = normalizeConfig((JSON.parse(meta) as { config: unknown }).config, `${src} (${oci.Annotation.wasmFnFunction})`);
  } catch (e) {
    throw new WfnError("WFN_OCI_IMAGE_INVALID", `the image ${src} carries a function config wasm-fn cannot read: ${(e as Error).message}`);
  }
  const parsed = oci.parseReference(src);
  return { config, digest: info.digest, image: oci.formatReference({ registry: parsed.registry, repository: parsed.repository, digest: info.digest }) };
}

function gatewayOf(s: string, domain: string): { name: string; namespace?: string; domain: string } {
  const [a, b] = s.split("/");
  if (!a || s.split("/").length > 2) throw new WfnError("WFN_USAGE", `--gateway takes NAME or NAMESPACE/NAME of a Gateway API Gateway, got '${s}'`);
  return b ? { namespace: a, name: b, domain } : { name: a, domain };
}

/** Objects as a YAML stream (documents separated by ---) or a JSON List. */
export async function render(objects: KubeObject[], format: string): Promise<string> {
  if (format === "json") return JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }, null, 2) + "\n";
  const { stringify } = await import("yaml");
  return objects.map((o) => stringify(o, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n");
}
