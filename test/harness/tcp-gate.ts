/**
 * A loopback TCP relay in front of a real service that a test can close like a gate: while held,
 * it accepts connections and reads what they send but forwards nothing either way, so the
 * service looks hung to its client for exactly as long as the test says; release() delivers
 * what was held and relays on. Deterministic where SIGSTOP on the service is a race with the
 * client's connection pool and the scheduler.
 *
 * @example
 *   const gate = await startGate(daprd.httpPort);   // point the client at gate.port
 *   gate.hold(); ...the call times out...; gate.release();
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface Gate {
  port: number;
  /** From now on nothing passes, on new and on open connections, until release(). */
  hold(): void;
  /** Delivers what was held, then relays as before. */
  release(): void;
  /** Connections accepted while held (each one a call that is waiting). */
  readonly waiting: number;
  close(): Promise<void>;
}

export async function startGate(targetPort: number, targetHost = "127.0.0.1"): Promise<Gate> {
  let held = false;
  let waiting = 0;
  const pending: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const whenOpen = (fn: () => void) => (held ? pending.push(fn) : fn());

  // One direction of a relay: chunks pass at once when open, queue in order while held.
  const pipe = (from: Socket, to: Socket) => {
    from.on("data", (chunk) => whenOpen(() => { if (!to.destroyed) to.write(chunk); }));
    from.on("end", () => whenOpen(() => to.end()));
    from.on("error", () => to.destroy());
    from.on("close", () => to.destroy());
  };

  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    if (held) waiting++;
    const upstream = connect(targetPort, targetHost);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    hold() { held = true; },
    release() {
      held = false;
      waiting = 0;
      for (const fn of pending.splice(0)) fn();
    },
    get waiting() { return waiting; },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
