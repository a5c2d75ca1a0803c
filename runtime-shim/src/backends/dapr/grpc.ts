import { CommunicationProtocolEnum, DaprClient, type GRPCClient } from "@dapr/dapr";
import type { BindingResult, Metadata, StateOperation, StateSave } from "../../capabilities/backend.js";
import { BackendError, BackendErrors } from "../../capabilities/backend.js";
import { callSignal } from "../../instance/host-call.js";
import { mapDaprError } from "./errors.js";

type Connect = Awaited<ReturnType<GRPCClient["getClient"]>>;

// Values of the Dapr protos' enums (dapr.proto.common.v1), restated so this module needs no deep import.
const FIRST_WRITE = 1;
const LAST_WRITE = 2;

/**
 * The calls that must keep a guest's bytes exact go through @dapr/dapr's DaprClient over gRPC.
 * It uses the SDK's generated gRPC client (DaprClient.daprClient.getClient) rather than the
 * convenience methods, which JSON-encode values and drop ETags.
 */
export class DaprGrpc {
  readonly client: DaprClient;
  private connect: Promise<Connect> | null = null;
  private readonly sidecar: string;

  constructor(host: string, port: number, private readonly timeoutMs: number, apiToken?: string) {
    this.sidecar = `${host}:${port}`;
    this.client = new DaprClient({
      daprHost: host, daprPort: String(port), communicationProtocol: CommunicationProtocolEnum.GRPC,
      ...(apiToken ? { daprApiToken: apiToken } : {}),
      logger: { level: 1 /* errors only: the SDK logs every connection at info */ },
    });
  }

  private async call<T>(what: string, fn: (c: Connect, o: { timeoutMs: number; signal?: AbortSignal }) => Promise<T>): Promise<T> {
    // The request's signal, read before the first await: the call is cancelled when its request ends.
    const signal = callSignal();
    // getClient(false) skips the SDK's "wait until the sidecar is up" loop (about 30 s): calls fail fast instead.
    this.connect ??= (this.client.daprClient as GRPCClient).getClient(false);
    try {
      return await fn(await this.connect, { timeoutMs: this.timeoutMs, ...(signal ? { signal } : {}) });
    } catch (e) {
      if (signal?.aborted) throw new BackendError(BackendErrors.UNAVAILABLE, `${what}: cancelled: ${(signal.reason as Error | undefined)?.message ?? "the request ended"}`, { cause: e });
      throw mapDaprError(e, what, this.sidecar, this.timeoutMs);
    }
  }

  async stateSave(store: string, item: StateSave): Promise<void> {
    await this.call(`state.save ${store}/${item.key}`, (c, o) => c.saveState({ storeName: store, states: [stateItem(item)] }, o));
  }

  async stateTransact(store: string, ops: StateOperation[]): Promise<void> {
    const operations = ops.map((op) => ({
      operationType: op.kind,
      request: op.kind === "upsert" ? stateItem(op) : stateItem({ key: op.key, value: new Uint8Array(0), etag: op.etag, metadata: op.metadata }),
    }));
    await this.call(`state.transact ${store}`, (c, o) => c.executeStateTransaction({ storeName: store, operations, metadata: {} }, o));
  }

  async invokeBinding(name: string, operation: string, data: Uint8Array, metadata: Metadata): Promise<BindingResult> {
    const r = await this.call(`bindings.invoke ${name} ${operation}`, (c, o) => c.invokeBinding({ name, operation, data, metadata }, o));
    return { data: r.data, metadata: { ...r.metadata } };
  }

  async close(): Promise<void> {
    await this.client.stop().catch(() => undefined);
  }
}

function stateItem(item: StateSave) {
  const { concurrency, ...metadata } = item.metadata;
  return {
    key: item.key, value: item.value, metadata,
    ...(item.etag ? { etag: { value: item.etag } } : {}),
    options: { concurrency: item.etag || concurrency === "first-write" ? FIRST_WRITE : LAST_WRITE, consistency: 0 },
  };
}
