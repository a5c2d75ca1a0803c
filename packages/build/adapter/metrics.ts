// Prometheus text for /metrics: invocations, errors by code, durations (the shim's metric names).
import { Buf } from "./mem";
import { fnName, fnNamespace } from "./config";

const BUCKETS: f64[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const counts = new StaticArray<i64>(15);
let total: i64 = 0;
let sum: f64 = 0;
const codes = new Array<string>();
const codeCounts = new Array<i64>();
const out = new Buf(2048);

export function record(status: i32, code: string, ns: u64): void {
  total++;
  const s = <f64>ns / 1e9;
  sum += s;
  let i = 0;
  while (i < BUCKETS.length && s > BUCKETS[i]) i++;
  counts[i]++;
  if (code.length == 0) return;
  for (let k = 0; k < codes.length; k++) if (codes[k] == code) { codeCounts[k]++; return; }
  if (codes.length < 64) { codes.push(code); codeCounts.push(1); }
}

function labels(b: Buf): void { b.str("{namespace=\"").str(fnNamespace).str("\",function=\"").str(fnName).str("\""); }

export function render(): Buf {
  const b = out;
  b.clear();
  b.str("# HELP wfn_invocations_total Invocations of a function (HTTP requests and events)\n# TYPE wfn_invocations_total counter\nwfn_invocations_total");
  labels(b); b.str("} ").int(total).byte(10);
  b.str("# HELP wfn_invocation_errors_total Invocations that failed in the host or the guest, by error code\n# TYPE wfn_invocation_errors_total counter\n");
  for (let k = 0; k < codes.length; k++) { b.str("wfn_invocation_errors_total"); labels(b); b.str(",code=\"").str(codes[k]).str("\"} ").int(codeCounts[k]).byte(10); }
  b.str("# HELP wfn_invocation_duration_seconds Time from taking the request to the function's answer\n# TYPE wfn_invocation_duration_seconds histogram\n");
  let cum: i64 = 0;
  for (let i = 0; i <= BUCKETS.length; i++) {
    cum += counts[i];
    b.str("wfn_invocation_duration_seconds_bucket"); labels(b);
    b.str(",le=\"").str(i < BUCKETS.length ? BUCKETS[i].toString() : "+Inf").str("\"} ").int(cum).byte(10);
  }
  b.str("wfn_invocation_duration_seconds_sum"); labels(b); b.str("} ").str(sum.toString()).byte(10);
  b.str("wfn_invocation_duration_seconds_count"); labels(b); b.str("} ").int(total).byte(10);
  return b;
}
