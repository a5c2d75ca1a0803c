// With `--runaways processes`, a function moved off the main thread as a suspected runaway runs in a child process (its own
// memory map, allocator and V8 heap), not a worker thread of the shim: the process is the shim's
// child at nice 10 in the SCHED_IDLE class, it serves the function's requests, a crash of it costs one answer, and it
// does not outlive the shim. A starved child is raised to the normal class (nice 10) only while the shim itself is mostly idle.
import { readFileSync, readdirSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import { availableParallelism, getPriority } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serve, type Served } from "./harness/cli.js";
import { buildFixture, FAULTS_SOURCE, HELLO_SOURCE } from "./runtime-fixtures.js";

let shim: Served;
/** The median time of a trivial request to a moved function with every core busy: 50-80 ms raised, 0.7-1.3 s without. */
const STARVED_MEDIAN_MS = 400;
/** Iterations of the faults fixture's /work loop: ~75 ms of CPU on a quiet machine here (in SCHED_IDLE beside two spinners per core: ~50 s). */
const WORK_N = 40_000_000;

/** Processes whose parent is `pid` and whose command line runs the worker entry. */
function workerChildren(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${d}/status`, "utf8"))?.[1]);
      if (ppid === pid && readFileSync(`/proc/${d}/cmdline`, "utf8").includes("worker/entry.js")) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/** Linux's scheduling policy of every thread of a process (field 41 of /proc/PID/task/TID/stat): 0 normal, 5 SCHED_IDLE (set by chrt). */
const policies = (pid: number) => readdirSync(`/proc/${pid}/task`).map((t) => Number(readFileSync(`/proc/${pid}/task/${t}/stat`, "utf8").split(") ")[1]!.split(" ")[38]));
/** wfn_worker_process_raises_total of the faults function, from the shim's metrics. */
async function raises(): Promise<number> {
  const text = await (await fetch(`${shim.url}/metrics`)).text();
  return Number(/^wfn_worker_process_raises_total\{[^}]*function="faults"[^}]*\} (\d+)/m.exec(text)?.[1] ?? NaN);
}
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const waitFor = async (f: () => boolean, ms: number) => { const end = Date.now() + ms; while (!f() && Date.now() < end) await new Promise((r) => setTimeout(r, 50)); return f(); };

// A long timeout: a child starts in ~100-300 ms, but on a machine kept busy (SCHED_IDLE) it may wait
// for CPU; what is tested here is where the function runs, not how fast.
beforeAll(async () => {
  const [hello, faults] = await Promise.all([buildFixture("hello", HELLO_SOURCE), buildFixture("faults", FAULTS_SOURCE, "limits:\n  timeout: 20s\n")]);
  shim = await serve([hello.dir, faults.dir], ["--no-access-log", "--runaways", "processes"]);
}, 120_000);
afterAll(async () => { await shim?.stop(); });

describe("a suspected runaway", () => {
  it("is replayed in a child process of the shim, below every normal task; past its deadline the child serves the function for good", async () => {
    const shimPid = shim.proc.pid!;
    // One spare is started with the shim (a fork costs ~100-300 ms), at normal priority while Node loads.
    expect(await waitFor(() => workerChildren(shimPid).length === 1, 10_000)).toBe(true);
    const [spare] = workerChildren(shimPid);
    expect(policies(spare!).every((x) => x === 0)).toBe(true);
    // An endless loop passes the 50 ms slice before any host call: replayed in the spare child as a
    // suspect. (A long run that answers within its deadline would bring the function back to the
    // main thread, heavy: test/runtime-isolation.test.ts; only past its deadline is it a runaway.)
    const looping = fetch(`${shim.url}/default/faults/loop`, { signal: AbortSignal.timeout(40_000) });
    await shim.logged(/faults ran past its main-thread slice; replaying it on workers/);
    const kids = workerChildren(shimPid);
    expect(kids.length).toBeGreaterThanOrEqual(1);
    // The child lowers itself once it has loaded the module (the loop is already running then).
    expect(await waitFor(() => kids.some((k) => { try { return getPriority(k) === 10; } catch { return false; } }), 5_000)).toBe(true);
    // The spare was given the function, and a new spare is started.
    expect(kids).toContain(spare);
    expect(await waitFor(() => workerChildren(shimPid).length === 2, 10_000)).toBe(true);
    expect(await waitFor(() => kids.some((k) => { try { const p = policies(k); return p.length > 0 && p.every((x) => x === 5); } catch { return false; } }), 5_000)).toBe(true);
    // Stopped at its 20 s deadline: a runaway, so the function stays in the child.
    expect((await looping).status).toBe(504);
    await shim.logged(/faults moved to worker threads: an invocation ran past its 20000 ms deadline/);
    // The child keeps the instance's state between requests (isolation: reuse).
    const a = Number(await (await fetch(`${shim.url}/default/faults/count`)).text());
    const b = Number(await (await fetch(`${shim.url}/default/faults/count`)).text());
    expect(b).toBe(a + 1);
    expect(await (await fetch(`${shim.url}/default/hello`)).text()).toBe("hello, world\n");
  }, 60_000);

  it("a child starved in SCHED_IDLE is raised to pick up its job, and goes back to SCHED_IDLE", async () => {
    // (A child raised while starved, by the load of the test before, stays raised for a second.)
    const idleChild = () => workerChildren(shim.proc.pid!).find((k) => { try { return policies(k).every((x) => x === 5); } catch { return false; } });
    expect(await waitFor(() => idleChild() !== undefined, 5_000)).toBe(true);
    const child = idleChild();
    const raisedBefore = await raises();
    // Every core busy with normal work (two spinners per core): a SCHED_IDLE process gets almost no CPU, even to read its next job.
    const spinners: ChildProcess[] = [];
    for (let i = 0; i < 2 * availableParallelism(); i++) spinners.push(spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const r = await fetch(`${shim.url}/default/faults/count`, { signal: AbortSignal.timeout(20_000) });
        expect(r.status).toBe(200);
        times.push(performance.now() - t0);
      }
      const raised = await raises();
      console.log(`starved child: count answered in ${times.map((t) => t.toFixed(0)).join(", ")} ms; raised ${raised - raisedBefore} times`);
      expect(raised).toBeGreaterThan(raisedBefore);
      times.sort((a, b) => a - b);
      expect(times[2]).toBeLessThan(STARVED_MEDIAN_MS);
    } finally {
      for (const s of spinners) s.kill("SIGKILL");
    }
    expect(await waitFor(() => policies(child!).every((x) => x === 5), 5_000)).toBe(true);
  }, 120_000);

  it("a moved function that does real work still finishes when every core is busy (its starved child is raised)", async () => {
    // ~75 ms of CPU on a quiet machine.
    const t0 = performance.now();
    expect((await fetch(`${shim.url}/default/faults/work?n=${WORK_N}`)).status).toBe(200);
    const quietMs = performance.now() - t0;
    // A child raised while starved stays raised for a second after its last job (another load on this
    // machine may have raised it just now): start from SCHED_IDLE.
    expect(await waitFor(() => workerChildren(shim.proc.pid!).some((k) => policies(k).every((x) => x === 5)), 5_000)).toBe(true);
    const raisedBefore = await raises();
    const spinners: ChildProcess[] = [];
    for (let i = 0; i < 2 * availableParallelism(); i++) spinners.push(spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const t1 = performance.now();
      const r = await fetch(`${shim.url}/default/faults/work?n=${WORK_N}`, { signal: AbortSignal.timeout(30_000) });
      const busyMs = performance.now() - t1;
      console.log(`starved work: ${quietMs.toFixed(0)} ms quiet, ${busyMs.toFixed(0)} ms with every core busy, status ${r.status}`);
      // In SCHED_IDLE beside normal spinners it would get ~0.15% of a CPU: far past its 20 s timeout (504).
      expect(r.status).toBe(200);
      expect(await raises()).toBeGreaterThan(raisedBefore);
    } finally {
      for (const s of spinners) s.kill("SIGKILL");
    }
  }, 120_000);

  it("a killed child costs the requests it held, and the next ones are served by a new one", async () => {
    const shimPid = shim.proc.pid!;
    const before = workerChildren(shimPid);
    const looping = fetch(`${shim.url}/default/faults/loop`, { signal: AbortSignal.timeout(20_000) });
    await new Promise((r) => setTimeout(r, 300));
    // The one that runs the function (a spare may be waiting beside it, not yet given a function).
    for (const k of before) process.kill(k, "SIGKILL");
    const r = await looping;
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { code: string; reason: string } }).error.reason).toBe("WFN_WORKER_LOST");
    const next = await fetch(`${shim.url}/default/faults/count`, { signal: AbortSignal.timeout(20_000) });
    expect(next.status).toBe(200);
  }, 60_000);

  it("does not outlive the shim", async () => {
    const kids = workerChildren(shim.proc.pid!);
    expect(kids.length).toBeGreaterThanOrEqual(1);
    shim.proc.kill("SIGKILL");
    expect(await waitFor(() => kids.every((k) => !alive(k)), 10_000)).toBe(true);
  }, 30_000);
});
