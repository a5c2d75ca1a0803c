/**
 * R7: SIGTERM under load. Requests in flight finish (here: uploads half sent when the signal
 * arrives), no new connection is taken, nothing answered fails, and the process exits 0.
 */
import http from "node:http";
import { connect } from "node:net";
import { beforeAll, expect, it } from "vitest";
import { serve } from "./harness/cli.js";
import { buildFixture, FAULTS_SOURCE, HELLO_SOURCE, type Fixture } from "./runtime-fixtures.js";

let faults: Fixture;
let hello: Fixture;
beforeAll(async () => {
  faults = await buildFixture("faults", FAULTS_SOURCE);
  hello = await buildFixture("hello", HELLO_SOURCE);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A POST whose body is sent in two halves; `finish()` sends the second half. */
function slowUpload(url: string): { answer: Promise<{ status: number; body: string }>; finish(): void } {
  const body = Buffer.alloc(400, 120);
  const req = http.request(url, { method: "POST", agent: false, headers: { "content-length": body.length } });
  const answer = new Promise<{ status: number; body: string }>((resolve) => {
    req.on("response", (res) => { let b = ""; res.on("data", (c) => (b += c)); res.on("end", () => resolve({ status: res.statusCode ?? 0, body: b })); });
    req.on("error", (e) => resolve({ status: 0, body: e.message }));
  });
  req.write(body.subarray(0, 200));
  return { answer, finish: () => req.end(body.subarray(200)) };
}

function tcpRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => { s.destroy(); resolve(false); });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}

it("R7: SIGTERM under load: in-flight requests finish, no new connections are taken, exit 0", async () => {
  const shim = await serve([faults.dir, hello.dir], ["--no-access-log"]);
  const port = Number(new URL(shim.url).port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  const statuses: number[] = [];
  const errors: string[] = [];
  let running = true;
  const loops = Promise.all(Array.from({ length: 8 }, async () => {
    while (running) {
      await new Promise<void>((resolve) => {
        http.get(`${shim.url}/default/hello`, { agent }, (res) => { res.resume(); res.on("end", () => { statuses.push(res.statusCode ?? 0); resolve(); }); })
          .on("error", (e: NodeJS.ErrnoException) => { errors.push(e.code ?? e.message); resolve(); });
      });
      if (errors.length > 0) await sleep(5); // the server is going away: do not spin
    }
  }));
  await sleep(500);
  const uploads = [0, 1, 2].map(() => slowUpload(`${shim.url}/default/faults/ok`));
  await sleep(200); // the uploads' headers are in: they are in flight
  const answeredBefore = statuses.length;
  const exited = shim.stop("SIGTERM");
  await sleep(300);
  // Draining: the listener is closed, so a new connection is refused...
  expect(await tcpRefused(port)).toBe(true);
  // ...while the in-flight uploads are still being waited for.
  expect(shim.proc.exitCode).toBeNull();
  for (const u of uploads) u.finish();
  const results = await Promise.all(uploads.map((u) => u.answer));
  expect(results).toEqual([{ status: 200, body: "ok" }, { status: 200, body: "ok" }, { status: 200, body: "ok" }]);
  const code = await Promise.race([exited, sleep(15_000).then(() => "still running")]);
  running = false;
  await loops;
  agent.destroy();
  expect(code).toBe(0);
  expect(answeredBefore).toBeGreaterThan(100);
  // Every answer the load got was a success; the only failures are connections the closing server refused or closed.
  expect(statuses.filter((s) => s !== 200)).toEqual([]);
  expect(errors.filter((e) => !["ECONNREFUSED", "ECONNRESET", "EPIPE", "socket hang up"].includes(e))).toEqual([]);
  expect(shim.output()).toMatch(/draining/);
}, 60_000);
