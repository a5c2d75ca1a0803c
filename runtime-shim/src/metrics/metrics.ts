/**
 * Prometheus metrics per function, served on GET /metrics through prom-client's registry.
 *
 * The request path only bumps numbers in a per-function record (tens of ns); prom-client's own
 * labelled Histogram costs ~0.5 µs per observation (label validation and hashing), which is 2% of
 * a hello request, so the families are prom-client custom metrics that read the records at scrape time.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { collectDefaultMetrics, Registry } from "prom-client";
import type { WfnError } from "@wasm-fn/abi";
import type { FunctionObserver, ServedFunction } from "../function.js";
import type { ExtraRoute } from "../gateway/server.js";
import { logWriterDropped } from "../logger.js";

/** Upper bounds (seconds) of the duration histograms: 50 µs .. 30 s. */
export const DURATION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Error codes that mean the guest itself failed (its instance is discarded). */
const TRAP_KINDS: Record<string, string> = {
  WFN_TRAP: "trap", WFN_TIMEOUT: "timeout", WFN_MEMORY_LIMIT: "memory", WFN_GUEST_EXIT: "exit",
  WFN_RESPONSE_TOO_LARGE: "response_too_large", WFN_WORKER_LOST: "worker_lost",
};

class Buckets {
  readonly counts = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  observe(s: number): void {
    let i = 0;
    while (i < DURATION_BUCKETS.length && s > DURATION_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += s;
    this.count++;
  }
}

/** Everything counted for one function (kept across hot swaps: counters stay monotonic). */
class FnRecord {
  invocations = 0;
  readonly errors = new Map<string, number>();
  readonly traps = new Map<string, number>();
  readonly duration = new Buckets();
  readonly instantiate = new Buckets();
  coldStarts = 0;
  offloads = 0;
  swaps = 0;
  constructor(readonly labels: { namespace: string; function: string }, public fn: ServedFunction) {}
}

type Kind = "counter" | "gauge" | "histogram";
/** One sample line: prom-client's MetricValue shape (metricName for _bucket/_sum/_count). */
interface Sample { metricName?: string; labels: Record<string, string | number>; value: number }
type Family = { name: string; help: string; type: Kind; values(r: FnRecord): Sample[] };

/**
 * @example
 *   const metrics = new ShimMetrics();
 *   new ServedFunction(config, mod, host, log, origin, { observer: metrics });
 *   gateway.use(metrics.route);
 */
export class ShimMetrics implements FunctionObserver {
  readonly registry = new Registry();
  private readonly records = new Map<string, FnRecord>();
  private readonly byFn = new WeakMap<ServedFunction, FnRecord>();

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    for (const f of this.families()) {
      // A prom-client custom metric: anything with name/help/type and get() returning the samples.
      this.registry.registerMetric({
        name: f.name, help: f.help, type: f.type, aggregator: "sum",
        get: () => ({ name: f.name, help: f.help, type: f.type, aggregator: "sum", values: [...this.records.values()].flatMap((r) => f.values(r)) }),
      } as never);
    }
    // The process's log writer, not a function's: lines (any source) stdout did not take in time.
    const writer = { name: "wfn_log_writer_dropped_lines_total", help: "Log lines dropped because stdout was not read fast enough (the log buffer was full)", type: "counter", aggregator: "sum" };
    this.registry.registerMetric({ ...writer, get: () => ({ ...writer, values: [{ labels: {}, value: logWriterDropped().lines }] }) } as never);
  }

  /** GET /metrics in the Prometheus text format. */
  readonly route: ExtraRoute = (req: IncomingMessage, res: ServerResponse, ctx) => {
    if (ctx.path !== "/metrics") return false;
    return this.registry.metrics().then((text) => {
      res.writeHead(200, { "content-type": this.registry.contentType, "content-length": Buffer.byteLength(text) });
      res.end(req.method === "HEAD" ? undefined : text);
      return true;
    });
  };

  invoked(fn: ServedFunction, seconds: number, error: WfnError | null): void {
    const r = this.record(fn);
    r.invocations++;
    r.duration.observe(seconds);
    if (error) {
      r.errors.set(error.code, (r.errors.get(error.code) ?? 0) + 1);
      const kind = TRAP_KINDS[error.code];
      if (kind) r.traps.set(kind, (r.traps.get(kind) ?? 0) + 1);
    }
  }

  created(fn: ServedFunction, seconds: number, cold: boolean): void {
    const r = this.record(fn);
    r.instantiate.observe(seconds);
    if (cold) r.coldStarts++;
  }

  offloaded(fn: ServedFunction): void { this.record(fn).offloads++; }
  swapped(fn: ServedFunction): void { this.record(fn).swaps++; }

  private record(fn: ServedFunction): FnRecord {
    let r = this.byFn.get(fn);
    if (r) return r;
    const key = `${fn.namespace}/${fn.name}`;
    r = this.records.get(key);
    if (r) r.fn = fn;
    else this.records.set(key, (r = new FnRecord({ namespace: fn.namespace, function: fn.name }, fn)));
    this.byFn.set(fn, r);
    return r;
  }

  /** Registers a function before its first request, so its gauges show from the start. */
  track(fn: ServedFunction): void { this.record(fn); }

  private families(): Family[] {
    const one = (value: (r: FnRecord) => number) => (r: FnRecord) => [{ labels: r.labels, value: value(r) }];
    const byKey = (label: string, map: (r: FnRecord) => Map<string, number>) => (r: FnRecord) => [...map(r)].map(([k, v]) => ({ labels: { ...r.labels, [label]: k }, value: v }));
    const stats = (r: FnRecord) => r.fn.stats();
    return [
      { name: "wfn_invocations_total", help: "Invocations of a function (HTTP requests and events)", type: "counter", values: one((r) => r.invocations) },
      { name: "wfn_invocation_errors_total", help: "Invocations that failed in the host or the guest, by error code", type: "counter", values: byKey("code", (r) => r.errors) },
      { name: "wfn_traps_total", help: "Invocations whose instance was discarded: trap, timeout, memory, exit, response_too_large, worker_lost", type: "counter", values: byKey("kind", (r) => r.traps) },
      { name: "wfn_invocation_duration_seconds", help: "Time from taking the request to the function's answer, queueing included", type: "histogram", values: (r) => histogram("wfn_invocation_duration_seconds", r.labels, r.duration) },
      { name: "wfn_cold_starts_total", help: "Requests that waited for a new instance because none was warm", type: "counter", values: one((r) => r.coldStarts) },
      { name: "wfn_instantiate_seconds", help: "Time to create an instance (instantiate + initialiser)", type: "histogram", values: (r) => histogram("wfn_instantiate_seconds", r.labels, r.instantiate) },
      { name: "wfn_instances_live", help: "Instances alive (idle + busy), old versions draining included", type: "gauge", values: one((r) => stats(r).live) },
      { name: "wfn_instances_idle", help: "Warm instances waiting for a request", type: "gauge", values: one((r) => stats(r).idle) },
      { name: "wfn_queue_depth", help: "Requests waiting for an instance (all maxReplicas busy)", type: "gauge", values: one((r) => stats(r).queued) },
      { name: "wfn_offloads_total", help: "Times a function was moved to worker threads for good: a runaway (past its deadline), failed runs that held the main thread, or heavy runs that held it while other functions were served", type: "counter", values: one((r) => r.offloads) },
      { name: "wfn_on_worker_threads", help: "1 when the function's instances run on worker threads, 0 on the main thread", type: "gauge", values: one((r) => (stats(r).placement === "workers" ? 1 : 0)) },
      { name: "wfn_worker_process_raises_total", help: "Times a worker process of a suspected runaway, starved in SCHED_IDLE, was raised to the normal class (a job it had not picked up, or one that ran starved) while the shim was mostly idle", type: "counter", values: one((r) => stats(r).raised) },
      { name: "wfn_swaps_total", help: "Hot swaps of a function's code", type: "counter", values: one((r) => r.swaps) },
      { name: "wfn_guest_log_dropped_lines_total", help: "Guest log lines dropped by a log budget: request (limits.log.perRequest) or second (limits.log.perSecond)", type: "counter", values: (r) => logDrops(r, "lines") },
      { name: "wfn_guest_log_dropped_bytes_total", help: "Guest log bytes dropped by a log budget: request, second, or line (cut from lines over limits.log.maxLine)", type: "counter", values: (r) => logDrops(r, "bytes") },
    ];
  }
}

function logDrops(r: FnRecord, what: "lines" | "bytes"): Sample[] {
  const d = r.fn.logs?.dropped;
  if (!d) return [];
  const budgets = what === "lines" ? (["request", "second"] as const) : (["request", "second", "line"] as const);
  return budgets.map((b) => ({ labels: { ...r.labels, budget: b }, value: d[b][what] }));
}

function histogram(name: string, labels: Record<string, string>, b: Buckets): Sample[] {
  const out: Sample[] = [];
  let acc = 0;
  for (let i = 0; i < DURATION_BUCKETS.length; i++) {
    acc += b.counts[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: DURATION_BUCKETS[i]! }, value: acc });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: "+Inf" }, value: b.count });
  out.push({ metricName: `${name}_sum`, labels, value: b.sum });
  out.push({ metricName: `${name}_count`, labels, value: b.count });
  return out;
}
