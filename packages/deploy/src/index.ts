/**
 * @wasm-fn/deploy: the Kubernetes objects that run a function (a Deployment for WasmEdge nodes, or
 * an OpenFunction Function) and the cluster client that applies them, waits, reports and deletes.
 */
export { manifests, runtimeClass, usesDapr, DEFAULT_RUNTIME_CLASS, FUNCTION_LABEL, FUNCTION_PORT, MANAGED_BY, WASM_VARIANT, type KubeObject, type ManifestInput, type Manifests, type Target } from "./manifests.js";
export { Cluster, KubeErrors, type ClusterOptions, type FunctionStatus, type PodState } from "./cluster.js";
export { readComponentObjects } from "./components.js";
