/**
 * The reference for P1-P3 and P5: a bare node:http server answering the same bytes as the shim's
 * hello (status, the same headers with a fresh request id, the same body), with the idiomatic
 * synchronous handler. With --batch it releases its answers once per event-loop turn, as the shim
 * does (runtime-shim/src/pool/turn.ts): an informational second reference, so the effect of that
 * batching is not mistaken for the cost of the rest. Usage: node test/bench/bare.js <port> [--batch]
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";

const body = Buffer.from("hello, world\n");
function answer(res) {
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("x-request-id", randomUUID());
  res.setHeader("content-length", body.length);
  res.writeHead(200);
  res.end(body);
}

let queue = [];
function flush() {
  const q = queue;
  queue = [];
  for (const res of q) answer(res);
}

const batch = process.argv.includes("--batch");
const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 60_000 }, batch
  ? (req, res) => { if (queue.length === 0) setImmediate(flush); queue.push(res); }
  : (req, res) => answer(res));
server.listen(Number(process.argv[2] ?? 8081), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
