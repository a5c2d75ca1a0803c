/**
 * The one narrow contract every backend (`dapr`, `embedded`) implements. Capabilities speak only
 * to this; only the Dapr backend talks to the sidecar. Methods may answer synchronously (the
 * embedded backend does, which spares the guest an asyncify round trip) or with a promise.
 *
 * Errors: a backend throws `BackendError` with one of `BackendErrors`; the capability layer maps
 * it to an ABI error code in one place (`./errors.ts`).
 */

export type MaybePromise<T> = T | Promise<T>;
export type Metadata = Record<string, string>;

export interface StateEntry {
  value: Uint8Array;
  /** Opaque version; pass it back to save/delete for first-write-wins concurrency. */
  etag: string;
}

export interface StateSave {
  key: string;
  value: Uint8Array;
  /** "" = last write wins; otherwise the write fails with CONFLICT unless the stored etag matches. */
  etag: string;
  metadata: Metadata;
}

export type StateOperation =
  | ({ kind: "upsert" } & StateSave)
  | { kind: "delete"; key: string; etag: string; metadata: Metadata };

export interface BindingResult {
  data: Uint8Array;
  metadata: Metadata;
}

export interface InvokeRequest {
  appId: string;
  method: string;
  verb: string;
  data: Uint8Array;
  contentType: string;
}

export interface InvokeResult {
  status: number;
  data: Uint8Array;
  contentType: string;
}

export interface ConfigItem {
  key: string;
  value: string;
  version: string;
}

/** A CloudEvent as a subscriber sees it (what Dapr posts to a topic route). */
export interface DeliveredEvent {
  id: string;
  source: string;
  type: string;
  specversion: string;
  datacontenttype: string;
  topic: string;
  pubsubname: string;
  time?: string;
  subject?: string;
  data: Uint8Array;
}

/** The answer a subscriber gives a delivery. */
export type DeliveryStatus = "SUCCESS" | "RETRY" | "DROP";
export type Subscriber = (event: DeliveredEvent) => Promise<DeliveryStatus>;

/**
 * In-process event delivery. Only the embedded backend has it: with Dapr, deliveries arrive over
 * HTTP at the gateway's Dapr-app routes instead.
 */
export interface LocalBus {
  subscribe(pubsub: string, topic: string, subscriber: Subscriber, options?: SubscribeOptions): () => void;
}

export interface SubscribeOptions {
  /** Names the subscription across restarts: pending events of this id are delivered to it again. Default `pubsub/topic`. */
  id?: string;
  /** A DROP answer moves the event to this topic of the same pubsub (as daprd does with a subscription's deadLetterTopic). */
  deadLetterTopic?: string;
}

export interface Backend {
  readonly kind: "dapr" | "embedded";
  stateGet(store: string, key: string): MaybePromise<StateEntry | null>;
  stateSave(store: string, item: StateSave): MaybePromise<void>;
  stateDelete(store: string, key: string, etag: string, metadata: Metadata): MaybePromise<void>;
  /** Absent keys come back as null, in the order asked. */
  stateBulkGet(store: string, keys: string[]): MaybePromise<(StateEntry | null)[]>;
  stateTransact(store: string, ops: StateOperation[]): MaybePromise<void>;
  publish(pubsub: string, topic: string, data: Uint8Array, contentType: string, metadata: Metadata): MaybePromise<void>;
  invokeBinding(name: string, operation: string, data: Uint8Array, metadata: Metadata): MaybePromise<BindingResult>;
  /** Service invocation to another Dapr app (same-shim calls never reach the backend). */
  invoke(req: InvokeRequest): MaybePromise<InvokeResult>;
  secretGet(store: string, key: string, metadata: Metadata): MaybePromise<Metadata>;
  configGet(store: string, keys: string[]): MaybePromise<ConfigItem[]>;
  /** Present on the embedded backend only. */
  readonly bus?: LocalBus;
  close(): Promise<void>;
}

/** Stable error codes backends raise. */
export const BackendErrors = {
  /** ETag mismatch or a first write that lost. */
  CONFLICT: "WFN_BACKEND_CONFLICT",
  NOT_FOUND: "WFN_BACKEND_NOT_FOUND",
  /** The named component (store, pubsub, binding) does not exist. */
  NOT_CONFIGURED: "WFN_BACKEND_NOT_CONFIGURED",
  INVALID: "WFN_BACKEND_INVALID",
  /** daprd, Redis, a binding's target... could not be reached. */
  UNAVAILABLE: "WFN_BACKEND_UNAVAILABLE",
  TIMEOUT: "WFN_BACKEND_TIMEOUT",
  DENIED: "WFN_BACKEND_DENIED",
  INTERNAL: "WFN_BACKEND_INTERNAL",
} as const;
export type BackendErrorCode = (typeof BackendErrors)[keyof typeof BackendErrors];

/**
 * An error a backend raises; the message is for a person (it says what failed and what to do).
 *
 * @example throw new BackendError(BackendErrors.CONFLICT, "etag mismatch for key 'counter' in statestore")
 */
export class BackendError extends Error {
  constructor(readonly code: BackendErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BackendError";
  }
}
