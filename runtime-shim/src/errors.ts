// Stable error codes of the runtime shim. The gateway maps them to HTTP statuses (WfnError.status).
export const ShimErrors = {
  TRAP: "WFN_TRAP",
  TIMEOUT: "WFN_TIMEOUT",
  MEMORY_LIMIT: "WFN_MEMORY_LIMIT",
  EXIT: "WFN_GUEST_EXIT",
  POOL_EXHAUSTED: "WFN_POOL_EXHAUSTED",
  POOL_CLOSED: "WFN_POOL_CLOSED",
  /** Internal: an invocation outgrew its main-thread slice and is replayed on a worker thread. */
  OFFLOAD: "WFN_OFFLOAD",
  WORKER_LOST: "WFN_WORKER_LOST",
  BODY_TOO_LARGE: "WFN_BODY_TOO_LARGE",
  RESPONSE_TOO_LARGE: "WFN_RESPONSE_TOO_LARGE",
  /** The guest's answer is not one the gateway passes on (e.g. a 1xx status). */
  BAD_RESPONSE: "WFN_BAD_RESPONSE",
  BAD_REQUEST: "WFN_BAD_REQUEST",
  NOT_FOUND: "WFN_ROUTE_NOT_FOUND",
  LOAD: "WFN_LOAD",
  ADDRESS_IN_USE: "WFN_ADDRESS_IN_USE",
} as const;
