// The Kubernetes bench (P13): a vitest file because the cluster's harness is TypeScript. Run by
// `npm run bench` (test/bench/run.js), never by `npm test`.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/bench/kube-node.bench.ts"],
    testTimeout: 60 * 60_000,
    hookTimeout: 45 * 60_000,
    pool: "forks",
    maxWorkers: 1,
  },
});
