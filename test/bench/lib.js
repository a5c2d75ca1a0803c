/**
 * Helpers for `npm run bench`: processes on loopback, a closed-loop HTTP client, wrk, statistics.
 * Plain JS ESM (no compile step). Everything binds to 127.0.0.1.
 */
import { spawn, execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = path.join(ROOT, "packages", "cli", "dist", "bin.js");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @param {number[]} xs */
export function median(xs) {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** @param {number[]} xs @param {number} p 0..100 */
export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/** RSS of a process in bytes. @param {number} pid */
export function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** RSS of a process and all its descendants (the shim runs suspected runaways in child processes). @param {number} pid */
export function rssTreeOf(pid) {
  let sum = rssOf(pid);
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let kids = "";
    try { kids = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8"); } catch { continue; }
    for (const c of kids.split(" ").filter(Boolean)) {
      try { sum += rssTreeOf(Number(c)) || 0; } catch { /* exited */ }
    }
  }
  return sum;
}

/** User+system CPU seconds a process used so far. @param {number} pid */
export function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * Spawns a node script (or the CLI) and resolves once `ready` (a URL) answers 200.
 * @param {string[]} args node arguments
 * @param {{ ready: string, timeoutMs?: number, env?: NodeJS.ProcessEnv, cwd?: string }} opts
 */
export function startNode(args, opts) {
  return startCommand(process.execPath, args, opts);
}

/** Like startNode, for any command (e.g. `wasmedge`). */
export async function startCommand(cmd, args, opts) {
  const t0 = performance.now();
  const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  // Keeps the last ~20,000 characters, trimmed now and then (not per chunk: a server that logs a
  // line per request would otherwise make this reader copy 20 kB per line, on the same cores).
  const keep = (d) => { log += d; if (log.length > 40000) log = log.slice(-20000); };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const deadline = Date.now() + (opts.timeoutMs ?? 30000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited (${child.exitCode}):\n${log}`);
    if (opts.readyFile ? existsSync(opts.readyFile) : await answers200(opts.ready)) break;
    if (Date.now() > deadline) { child.kill("SIGKILL"); throw new Error(`${args.join(" ")} did not answer ${opts.ready} in time:\n${log}`); }
    await sleep(2);
  }
  return {
    pid: /** @type {number} */ (child.pid),
    startMs: performance.now() - t0,
    log: () => log.slice(-20000),
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 10000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** @param {string} url */
function answers200(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode === 200)); });
    req.on("error", () => resolve(false));
    req.setTimeout(1000, () => { req.destroy(); resolve(false); });
  });
}

/** One GET on a keep-alive agent: [status, ms, body]. @param {string} url @param {http.Agent} agent */
export function get(url, agent) {
  return new Promise((resolve) => {
    const t = performance.now();
    const req = http.get(url, { agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve([res.statusCode ?? 0, performance.now() - t, Buffer.concat(chunks).toString()]));
    });
    req.on("error", (e) => resolve([0, performance.now() - t, e.message]));
  });
}

/**
 * A closed loop: `connections` clients each send the next request when the last answered,
 * for `ms`. Returns latencies (ms) and statuses.
 * @param {string} url @param {{ connections: number, ms: number }} o
 */
export async function closedLoop(url, o) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections });
  const lat = [];
  const statuses = new Map();
  const end = performance.now() + o.ms;
  await Promise.all(Array.from({ length: o.connections }, async () => {
    while (performance.now() < end) {
      const [status, ms] = await get(url, agent);
      lat.push(ms);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  }));
  agent.destroy();
  return { lat, statuses };
}

export function hasWrk() {
  try { execFileSync("wrk", ["--version"], { stdio: "ignore" }); return true; } catch (e) { return /** @type {any} */ (e).status === 1; }
}

/**
 * Runs wrk and parses req/s, latency percentiles (ms), errors and non-2xx.
 * @param {string} url @param {{ connections: number, seconds: number, threads?: number, script?: string, args?: string[] }} o
 */
export function wrk(url, o) {
  return new Promise((resolve, reject) => {
    const args = ["-t", String(o.threads ?? 1), "-c", String(o.connections), "-d", `${o.seconds}s`, "--latency"];
    if (o.script) args.push("-s", o.script);
    args.push(url);
    if (o.args) args.push("--", ...o.args);
    const p = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("error", reject);
    p.on("close", () => {
      const num = (re) => { const m = re.exec(out); return m ? Number(m[1]) : NaN; };
      const ms = (re) => {
        const m = re.exec(out);
        if (!m) return NaN;
        const v = Number(m[1]);
        return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : m[2] === "m" ? v * 60000 : v;
      };
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        rps: num(/Requests\/sec:\s+([\d.]+)/),
        requests: num(/(\d+) requests in/),
        p50: ms(/\s50%\s+([\d.]+)(us|ms|s|m)\b/),
        p99: ms(/\s99%\s+([\d.]+)(us|ms|s|m)\b/),
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/) || 0,
        socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
        raw: out,
      });
    });
  });
}

/** "2 cores (Intel Xeon ...), Node v20, Linux ..." */
export function machineLine() {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "unknown CPU";
  const cores = readFileSync("/proc/cpuinfo", "utf8").split("\n").filter((l) => l.startsWith("processor")).length;
  const mem = Number(/MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) / 1024 / 1024;
  let wrkVersion = "";
  try { wrkVersion = execFileSync("wrk", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0]; } catch (e) { wrkVersion = String(/** @type {any} */ (e).stdout ?? "").split("\n")[0]; }
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  return `${cores} cores (${cpu}), ${mem.toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform} ${execFileSync("uname", ["-r"], { encoding: "utf8" }).trim()}, ${wrkVersion || "wrk"}; load average at start ${load}`;
}
