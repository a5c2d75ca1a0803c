/**
 * The reference for P1-P3 and P5: a bare node:http server answering the same bytes as the shim's
 * hello (status, the same headers with a fresh request id, the same body), with the idiomatic
 * synchronous handler. Usage: node test/bench/bare.js <port>
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";

const body = Buffer.from("hello, world\n");
const server = createServer({ keepAliveTimeout: 5000, requestTimeout: 60_000 }, (req, res) => {
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.setHeader("x-request-id", randomUUID());
  res.setHeader("content-length", body.length);
  res.writeHead(200);
  res.end(body);
});
server.listen(Number(process.argv[2] ?? 8081), "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
