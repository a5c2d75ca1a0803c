// Attack: a guest starts many outbound calls without waiting for them (it exports its own no-op
// asyncify functions, so the host believes it suspended) and then outlives its timeout: the
// client got 504, yet the 500 requests it started kept running against their target. Now every
// host call carries the request's AbortSignal (cancelled when the request ends) and an instance
// may have at most 8 calls in flight; the rest fail at once with UNAVAILABLE. A client that closes
// its connection ends its request's calls the same way.
import { mkdtempSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import binaryen from "binaryen";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeList } from "@wasm-fn/abi";
import { serve, type Served } from "../harness/cli.js";

const CALLS = 500;
const CAP = 8; // MAX_HOST_CALLS_IN_FLIGHT

/** A target that never answers, and counts what reaches it. */
function slowTarget(): Promise<{ server: Server; port: number; open: () => number; seen: () => number; maxOpen: () => number; lastClose: () => number }> {
  let open = 0, seen = 0, maxOpen = 0, lastClose = 0;
  const server = createServer((req) => {
    seen++;
    open++;
    maxOpen = Math.max(maxOpen, open);
    req.socket.once("close", () => { open--; lastClose = Date.now(); });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    server, port: (server.address() as AddressInfo).port, open: () => open, seen: () => seen, maxOpen: () => maxOpen, lastClose: () => lastClose,
  })));
}

/** A raw guest: CALLS http.fetch calls in a row, never waiting (fake asyncify), then it waits on the last one. */
function flooder(url: string): Uint8Array {
  const args = Buffer.from(encodeList(["GET", url, "", ""]));
  const data = [...args].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
  const mod = binaryen.parseText(`(module
    (import "wfn" "call" (func $call (param i32 i32 i32) (result i32)))
    (import "wfn" "response_status" (func $status (param i32)))
    (memory (export "memory") 2)
    (data (i32.const 65536) "${data}")
    (global $i (mut i32) (i32.const 0))
    (func (export "wfn_abi_version") (result i32) (i32.const 0x10000))
    (func (export "wfn_alloc") (param i32) (result i32) (i32.const 1024))
    (func (export "asyncify_start_unwind") (param i32))
    (func (export "asyncify_stop_unwind"))
    (func (export "asyncify_start_rewind") (param i32))
    (func (export "asyncify_stop_rewind"))
    (func (export "asyncify_get_state") (result i32) (i32.const 0))
    (func (export "wfn_handle") (result i32)
      (global.set $i (i32.const 0))
      (loop $more
        (drop (call $call (i32.const 700) (i32.const 65536) (i32.const ${args.length})))
        (global.set $i (i32.add (global.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (global.get $i) (i32.const ${CALLS}))))
      (call $status (i32.const 200))
      (i32.const 0)))`);
  mod.setFeatures(binaryen.Features.MutableGlobals | binaryen.Features.BulkMemory);
  const bytes = mod.emitBinary();
  mod.dispose();
  return bytes;
}

for (const offload of ["never", "always"] as const) {
  describe(`a guest that floods outbound calls and times out (--offload ${offload})`, () => {
    let shim: Served;
    let target: Awaited<ReturnType<typeof slowTarget>>;
    beforeAll(async () => {
      target = await slowTarget();
      const dir = mkdtempSync(path.join(os.tmpdir(), "wfn-stray-"));
      await writeFile(path.join(dir, "flood.wasm"), flooder(`http://127.0.0.1:${target.port}/slow`));
      const hosts = [`127.0.0.1:${target.port}`];
      await writeFile(path.join(dir, "flood.json"), JSON.stringify({ config: { name: "flood", limits: { timeout: "1s" }, permissions: { hosts } } }));
      // The same guest with a long timeout: only its client leaving can end its calls early.
      await writeFile(path.join(dir, "patient.wasm"), flooder(`http://127.0.0.1:${target.port}/slow`));
      await writeFile(path.join(dir, "patient.json"), JSON.stringify({ config: { name: "patient", limits: { timeout: "10s" }, permissions: { hosts } } }));
      shim = await serve([path.join(dir, "flood.wasm"), path.join(dir, "patient.wasm")], ["--no-access-log", "--offload", offload]);
    }, 60_000);
    afterAll(async () => {
      await shim?.stop();
      target?.server.closeAllConnections();
      target?.server.close();
    });

    it("gets 504; at most 8 calls reached the target, and they are closed soon after the 504", async () => {
      const r = await fetch(`${shim.url}/default/flood`, { signal: AbortSignal.timeout(20_000) });
      const answeredAt = Date.now();
      expect(r.status).toBe(504);
      expect(((await r.json()) as { error: { code: string; reason: string } }).error.reason).toBe("WFN_TIMEOUT");
      expect(target.seen()).toBeGreaterThan(0);
      expect(target.maxOpen()).toBeLessThanOrEqual(CAP);
      expect(target.seen()).toBeLessThanOrEqual(CAP);
      // Cancelled with the request: every connection to the target is closed within a second.
      const until = Date.now() + 3000;
      while (target.open() > 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
      expect(target.open()).toBe(0);
      expect(target.lastClose() - answeredAt).toBeLessThan(1000);
      // The shim serves the next request as usual (a new instance; the same cap).
      const again = await fetch(`${shim.url}/default/flood`, { signal: AbortSignal.timeout(20_000) });
      expect(again.status).toBe(504);
      expect(target.maxOpen()).toBeLessThanOrEqual(CAP);
    }, 60_000);

    it("a client that goes away takes its request's calls with it, long before the timeout", async () => {
      const client = new AbortController();
      const before = target.seen();
      const pending = fetch(`${shim.url}/default/patient`, { signal: client.signal }).catch(() => "aborted");
      const until = Date.now() + 5000;
      while (target.seen() === before && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
      expect(target.seen()).toBeGreaterThan(before);
      const leftAt = Date.now();
      client.abort();
      expect(await pending).toBe("aborted");
      while (target.open() > 0 && Date.now() - leftAt < 5000) await new Promise((res) => setTimeout(res, 20));
      expect(target.open()).toBe(0);
      expect(Date.now() - leftAt).toBeLessThan(1500); // the function's timeout is 10 s
      expect(target.maxOpen()).toBeLessThanOrEqual(CAP);
    }, 60_000);
  });
}
