// counter-c: examples/counter written with the C SDK (packages/sdk/include/wasm_fn.h, docs/sdk-c.md).
// Everything the SDK returns is malloc'd and ours: each path below frees what it got.
#include <inttypes.h>
#include "wasm_fn.h"

#define STORE "statestore"
#define MAX_ATTEMPTS 1000

// The one error body, with the capability's own code (e.g. NOT_CONFIGURED) and the host's sentence.
static int fail(int32_t status, int rc) {
  wfn_respond_error_code(status, wfn_err_name(rc), wfn_error_message());
  return WFN_OUTCOME_SUCCESS;
}

// Optimistic concurrency: read value + ETag, write with the ETag; on CONFLICT someone else won, so read again.
static int increment(const char *key) {
  for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    wfn_state_item *cur = NULL;
    int rc = wfn_state_get(STORE, key, &cur);
    if (rc != WFN_OK) return fail(503, rc);
    int64_t next = cur ? strtoll(cur->value, NULL, 10) + 1 : 1;
    char body[24];
    snprintf(body, sizeof body, "%" PRId64, next);
    rc = cur ? wfn_state_set(STORE, key, body, -1, cur->etag, NULL) : wfn_state_create(STORE, key, body, -1);
    free(cur);
    if (rc == WFN_OK) { wfn_respond_text(200, body); return WFN_OUTCOME_SUCCESS; }
    if (rc != WFN_ERR_CONFLICT) return fail(503, rc);
    if (attempt % 100 == 0) wfn_logf(WFN_LOG_WARN, "counter-c: %d conflicts on %s", attempt, key);
  }
  wfn_respond_error(409, "gave up after 1000 conflicting writes");
  return WFN_OUTCOME_SUCCESS;
}

WFN_HANDLER int handle(void) {
  char *key = wfn_query_param("key", 0);
  char *method = wfn_request_field(WFN_FIELD_METHOD, NULL);
  const char *k = key && key[0] ? key : "counter";
  int out;
  if (method && strcmp(method, "GET") == 0) {
    wfn_state_item *cur = NULL;
    int rc = wfn_state_get(STORE, k, &cur);
    if (rc != WFN_OK) out = fail(503, rc);
    else { wfn_respond_text(200, cur ? cur->value : "0"); out = WFN_OUTCOME_SUCCESS; }
    free(cur);
  } else {
    out = increment(k);
  }
  free(key);
  free(method);
  return out;
}
