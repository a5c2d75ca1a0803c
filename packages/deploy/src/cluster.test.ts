import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Cluster, lastWords } from "./cluster.js";

describe("an API server that accepts connections and never answers", () => {
  it("each request gives up after the request timeout, is tried again, then fails in words", async () => {
    const held: net.Socket[] = [];
    const silent = net.createServer((s) => { held.push(s); });
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as net.AddressInfo).port;
    const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-silent-"));
    const kubeconfig = path.join(dir, "config");
    writeFileSync(kubeconfig, JSON.stringify({ apiVersion: "v1", kind: "Config", "current-context": "x", clusters: [{ name: "x", cluster: { server: `https://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } }], users: [{ name: "u", user: { token: "t" } }], contexts: [{ name: "x", context: { cluster: "x", user: "u" } }] }));
    try {
      const c = new Cluster({ kubeconfig, requestTimeoutMs: 300 });
      const t0 = Date.now();
      const err = await c.status("default", "hello").then(() => null, (e: unknown) => e as { code: string; message: string });
      const took = Date.now() - t0;
      expect(err?.code).toBe("WFN_KUBE_UNREACHABLE");
      expect(err?.message).toMatch(new RegExp(`API server at https://127\\.0\\.0\\.1:${port} \\(context x\\) did not answer in 0\\.3 s to read Deployment default/hello; .*--request-timeout`));
      // Four attempts of 0.3 s and three pauses (0.2, 0.4, 0.6 s): about 2.4 s, never the socket's forever.
      expect(took).toBeGreaterThanOrEqual(4 * 300);
      expect(took).toBeLessThan(10_000);
      expect(held.length).toBe(4);
    } finally {
      for (const s of held) s.destroy();
      silent.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});

describe("lastWords (a container's termination message, in words)", () => {
  it("takes the msg of the function's last error line from its JSON log", () => {
    const m = [
      '{"time":"2026-12-06T00:15:05.169Z","level":"info","msg":"starting","fn":"default/crasher"}',
      '{"time":"2026-12-06T00:15:05.169Z","level":"error","msg":"abort: crasher: refusing to start in assembly/index.ts(3:13)","source":"guest"}',
      '{"time":"2026-12-06T00:15:05.170Z","level":"error","msg":"the function exited (proc_exit(255)): abort: crasher: refusing to start","fn":"default/crasher"}',
      "[libcrun:wasmedge]: could not get wasmedge result from VM",
      "",
    ].join("\n");
    expect(lastWords(m)).toBe("the function exited (proc_exit(255)): abort: crasher: refusing to start");
  });
  it("without a function's error line, keeps the last line as it is, and cuts it at 500 characters", () => {
    expect(lastWords("[error] execution failed: unreachable\n    In instruction: unreachable")).toBe("In instruction: unreachable");
    expect(lastWords('{"level":"info","msg":"only info"}')).toBe('{"level":"info","msg":"only info"}');
    expect(lastWords("x".repeat(900))).toBe(`${"x".repeat(500)}…`);
  });
});
