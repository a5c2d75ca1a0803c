/* wasm-fn ABI v1 for C (clang --target=wasm32-wasi). The numbers restate packages/abi/src/abi.ts;
 * packages/abi/src/abi.test.ts fails when they drift. See docs/abi.md.
 *
 *   #include "wasm_fn.h"
 *   WFN_HANDLER int handle(void) {
 *     wfn_respond_text(200, "hello from C\n");
 *     return WFN_OUTCOME_SUCCESS;
 *   }
 */
#ifndef WASM_FN_H
#define WASM_FN_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WFN_ABI_MAJOR 1
#define WFN_ABI_MINOR 0

#define WFN_IMPORT(n) __attribute__((import_module("wfn"), import_name(n)))
#define WFN_EXPORT(n) __attribute__((export_name(n)))

WFN_IMPORT("request_get") int32_t wfn_request_get(int32_t field, void *buf, int32_t cap);
WFN_IMPORT("request_header") int32_t wfn_request_header(const char *name, int32_t name_len, void *buf, int32_t cap);
WFN_IMPORT("response_status") void wfn_response_status(int32_t status);
WFN_IMPORT("response_header") void wfn_response_header(const char *name, int32_t name_len, const char *value, int32_t value_len);
WFN_IMPORT("response_body") void wfn_response_body(const void *ptr, int32_t len);
WFN_IMPORT("log") void wfn_log(int32_t level, const char *ptr, int32_t len);
WFN_IMPORT("call") int32_t wfn_call(int32_t op, const void *in, int32_t in_len);
WFN_IMPORT("result_take") int32_t wfn_result_take(void *buf, int32_t cap);

enum {
  WFN_FIELD_METHOD = 0, WFN_FIELD_PATH = 1, WFN_FIELD_QUERY = 2, WFN_FIELD_BODY = 3, WFN_FIELD_HEADERS = 4,
  WFN_FIELD_REQUEST_ID = 5, WFN_FIELD_KIND = 6, WFN_FIELD_FUNCTION = 7,
  WFN_FIELD_EVENT_ID = 10, WFN_FIELD_EVENT_SOURCE = 11, WFN_FIELD_EVENT_TYPE = 12, WFN_FIELD_EVENT_SPECVERSION = 13,
  WFN_FIELD_EVENT_DATACONTENTTYPE = 14, WFN_FIELD_EVENT_SUBJECT = 15, WFN_FIELD_EVENT_TIME = 16,
  WFN_FIELD_EVENT_TOPIC = 17, WFN_FIELD_EVENT_PUBSUBNAME = 18, WFN_FIELD_EVENT_INPUT = 19
};
enum { WFN_OUTCOME_SUCCESS = 0, WFN_OUTCOME_RETRY = 1, WFN_OUTCOME_DROP = 2 };
enum { WFN_LOG_DEBUG = 0, WFN_LOG_INFO = 1, WFN_LOG_WARN = 2, WFN_LOG_ERROR = 3 };
enum {
  WFN_OP_STATE_GET = 100, WFN_OP_STATE_SAVE = 101, WFN_OP_STATE_DELETE = 102, WFN_OP_STATE_BULK_GET = 103,
  WFN_OP_STATE_TRANSACT = 104, WFN_OP_PUBLISH = 200, WFN_OP_BINDING_INVOKE = 300, WFN_OP_INVOKE = 400,
  WFN_OP_SECRET_GET = 500, WFN_OP_CONFIG_GET = 600, WFN_OP_HTTP_FETCH = 700
};
enum {
  WFN_ERR_UNKNOWN_OP = 1, WFN_ERR_INVALID_ARGUMENT = 2, WFN_ERR_NOT_CONFIGURED = 3, WFN_ERR_DENIED = 4,
  WFN_ERR_NOT_FOUND = 5, WFN_ERR_CONFLICT = 6, WFN_ERR_UNAVAILABLE = 7, WFN_ERR_TIMEOUT = 8,
  WFN_ERR_TOO_LARGE = 9, WFN_ERR_INTERNAL = 10
};

/* The exports every guest has. Define WFN_NO_DEFAULT_EXPORTS to write your own. */
#ifndef WFN_NO_DEFAULT_EXPORTS
WFN_EXPORT("wfn_abi_version") int32_t wfn_abi_version(void) { return (WFN_ABI_MAJOR << 16) | WFN_ABI_MINOR; }
WFN_EXPORT("wfn_alloc") void *wfn_alloc(int32_t size) { return malloc((size_t)size); }
WFN_EXPORT("wfn_free") void wfn_free(void *p) { free(p); }
#endif

/* Marks the handler: `WFN_HANDLER int handle(void)` returns an outcome. */
#define WFN_HANDLER WFN_EXPORT("wfn_handle")

/* Reads a request field into a new malloc'd, NUL-terminated buffer (NULL if absent); *len gets its length. */
static inline char *wfn_request_field(int32_t field, int32_t *len) {
  int32_t n = wfn_request_get(field, 0, 0);
  if (n < 0) return 0;
  char *buf = (char *)malloc((size_t)n + 1);
  if (n > 0) wfn_request_get(field, buf, n);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

static inline void wfn_log_str(int32_t level, const char *msg) { wfn_log(level, msg, (int32_t)strlen(msg)); }

static inline void wfn_respond(int32_t status, const char *content_type, const void *body, int32_t len) {
  wfn_response_status(status);
  wfn_response_header("content-type", 12, content_type, (int32_t)strlen(content_type));
  if (len > 0) wfn_response_body(body, len);
}

static inline void wfn_respond_text(int32_t status, const char *text) {
  wfn_respond(status, "text/plain; charset=utf-8", text, (int32_t)strlen(text));
}
#endif
