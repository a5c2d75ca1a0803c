import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = path.join(ROOT, "packages", "cli", "dist", "bin.js");

export interface CliResult { code: number | null; stdout: string; stderr: string }

/** Runs the real `wasm-fn` CLI (compiled) to completion. */
export function cli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => { p.kill("SIGKILL"); reject(new Error(`wasm-fn ${args.join(" ")} timed out\n${stderr}`)); }, opts.timeoutMs ?? 120_000);
    p.on("error", reject);
    p.on("close", (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
    p.stdin.end(opts.input ?? "");
  });
}

export interface Served {
  url: string;
  functions: { name: string; namespace: string; url: string; host: string }[];
  proc: ChildProcess;
  /** Everything the process printed so far (JSON logs on stdout, banner on stderr). */
  output(): string;
  /**
   * Waits until the output contains `pattern` (the shim's log lines leave in batches, up to ~10 ms
   * after they are logged); rejects with the output after `timeoutMs`.
   */
  logged(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `wasm-fn run <targets> --port 0 --json` and waits for the address line. */
export function serve(targets: string[], extra: string[] = [], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Served> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, "--json", "run", ...targets, "--port", "0", ...extra], { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let done = false;
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    const timer = setTimeout(() => { if (!done) { proc.kill("SIGKILL"); reject(new Error(`wasm-fn run did not start in time:\n${out}`)); } }, opts.timeoutMs ?? 60_000);
    proc.stderr.on("data", (d) => (out += d));
    proc.stdout.on("data", (d: Buffer) => {
      out += d;
      if (done) return;
      for (const line of out.split("\n")) {
        if (!line.startsWith('{"url"')) continue;
        done = true;
        clearTimeout(timer);
        const info = JSON.parse(line) as { url: string; functions: Served["functions"] };
        resolve({
          ...info,
          proc,
          output: () => out,
          async logged(pattern, timeoutMs = 5000) {
            const has = () => (typeof pattern === "string" ? out.includes(pattern) : pattern.test(out));
            const deadline = Date.now() + timeoutMs;
            while (!has()) {
              if (Date.now() > deadline) throw new Error(`not in the shim's output after ${timeoutMs} ms: ${pattern}\n${out.slice(-4000)}`);
              await new Promise((r) => setTimeout(r, 10));
            }
          },
          async stop(signal = "SIGTERM") {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
            return exited;
          },
        });
        return;
      }
    });
    proc.on("exit", (code) => { if (!done) { clearTimeout(timer); reject(new Error(`wasm-fn run exited with ${code} before listening:\n${out}`)); } });
  });
}
