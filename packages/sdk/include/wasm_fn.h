/* wasm-fn for C (clang --target=wasm32-wasi): ABI v1 and the C SDK. The numbers restate
 * packages/abi/src/abi.ts; packages/abi/src/abi.test.ts fails when they drift. Reference:
 * docs/sdk-c.md (test/sdk-docs-c.test.ts fails when it and these headers disagree); ABI: docs/abi.md.
 *
 *   #include "wasm_fn.h"
 *   WFN_HANDLER int handle(void) {
 *     char *name = wfn_query_param("name", 0);
 *     wfn_respond_text(200, name ? name : "world");
 *     free(name);
 *     return WFN_OUTCOME_SUCCESS;
 *   }
 *
 * Header-only: `wasm-fn build` compiles the function's one .c file with -I to this folder, so
 * there is nothing to link. Every SDK function is `static inline`: what a handler does not call
 * costs nothing in its module. Include it from one .c file (it defines the module's exports).
 *
 * Memory: the caller frees. Everything the SDK returns through a pointer (a char *, a
 * wfn_state_item *, a wfn_pairs * ...) is ONE malloc'd block the caller owns: free() it. Pointers
 * inside a returned struct point into that same block, so one free() releases it all. Returned
 * strings are NUL-terminated (binary values too, after their length). The SDK keeps nothing
 * between requests but the last error message (wfn_error_message), replaced by the next call.
 * Lengths: an input length below 0 means "strlen of this NUL-terminated string".
 */
#ifndef WASM_FN_H
#define WASM_FN_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
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
/* What every capability call returns: WFN_OK, or the ABI error code (the host's message: wfn_error_message()). */
typedef enum wfn_err {
  WFN_OK = 0,
  WFN_ERR_UNKNOWN_OP = 1, WFN_ERR_INVALID_ARGUMENT = 2, WFN_ERR_NOT_CONFIGURED = 3, WFN_ERR_DENIED = 4,
  WFN_ERR_NOT_FOUND = 5, WFN_ERR_CONFLICT = 6, WFN_ERR_UNAVAILABLE = 7, WFN_ERR_TIMEOUT = 8,
  WFN_ERR_TOO_LARGE = 9, WFN_ERR_INTERNAL = 10
} wfn_err;

/* The exports every guest has. Define WFN_NO_DEFAULT_EXPORTS to write your own. */
#ifndef WFN_NO_DEFAULT_EXPORTS
WFN_EXPORT("wfn_abi_version") int32_t wfn_abi_version(void) { return (WFN_ABI_MAJOR << 16) | WFN_ABI_MINOR; }
WFN_EXPORT("wfn_alloc") void *wfn_alloc(int32_t size) { return malloc((size_t)size); }
WFN_EXPORT("wfn_free") void wfn_free(void *p) { free(p); }
#endif

/* Marks the handler: `WFN_HANDLER int handle(void)` returns an outcome (WFN_OUTCOME_*). */
#define WFN_HANDLER WFN_EXPORT("wfn_handle")

static inline int32_t wfn__len(const void *p, int32_t len) { return len >= 0 ? len : p ? (int32_t)strlen((const char *)p) : 0; }

/* A new NUL-terminated copy of n bytes (NULL when out of memory). */
static inline char *wfn__dup(const void *p, int32_t n) {
  char *s = (char *)malloc((size_t)n + 1);
  if (!s) return 0;
  if (n > 0) memcpy(s, p, (size_t)n);
  s[n] = 0;
  return s;
}

/* ---- the request ---- */

/* Reads a request field (WFN_FIELD_*) into a new NUL-terminated buffer, or NULL when absent; *len gets its length. */
static inline char *wfn_request_field(int32_t field, int32_t *len) {
  int32_t n = wfn_request_get(field, 0, 0);
  if (len) *len = 0;
  if (n < 0) return 0;
  char *buf = (char *)malloc((size_t)n + 1);
  if (!buf) return 0;
  if (n > 0) wfn_request_get(field, buf, n);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

/* The body (an event's data), never NULL: "" when there is none. */
static inline char *wfn_request_body(int32_t *len) {
  char *b = wfn_request_field(WFN_FIELD_BODY, len);
  return b ? b : wfn__dup("", 0);
}

/* 1 when this invocation is an event (pubsub or input binding), 0 for an HTTP request. */
static inline int wfn_request_is_event(void) {
  char kind[8];
  int32_t n = wfn_request_get(WFN_FIELD_KIND, kind, (int32_t)sizeof kind);
  return n == 5 && memcmp(kind, "event", 5) == 0;
}

/* A request header's value (names are case-insensitive), or NULL when absent. */
static inline char *wfn_header(const char *name) {
  int32_t nl = (int32_t)strlen(name);
  int32_t n = wfn_request_header(name, nl, 0, 0);
  if (n < 0) return 0;
  char *buf = (char *)malloc((size_t)n + 1);
  if (!buf) return 0;
  if (n > 0) wfn_request_header(name, nl, buf, n);
  buf[n] = 0;
  return buf;
}

static inline int wfn__hex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decodes s[0..len) (len < 0: NUL-terminated) in place ("+" is a space; a "%" not followed by two hex digits stays), NUL-terminates, returns the new length. */
static inline int32_t wfn_url_decode(char *s, int32_t len) {
  int32_t o = 0;
  len = wfn__len(s, len);
  for (int32_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '+') c = ' ';
    else if (c == '%' && i + 2 < len && wfn__hex(s[i + 1]) >= 0 && wfn__hex(s[i + 2]) >= 0) {
      c = (char)(wfn__hex(s[i + 1]) * 16 + wfn__hex(s[i + 2]));
      i += 2;
    }
    s[o++] = c;
  }
  s[o] = 0;
  return o;
}

/* Scans a query string for `name`: returns the want-th value (0-based, decoded) or NULL; *count gets how many there are. */
static inline char *wfn__query_scan(const char *q, int32_t qlen, const char *name, int32_t want, int32_t *count) {
  char *key = (char *)malloc((size_t)qlen + 1);
  char *found = 0;
  int32_t seen = 0, nl = (int32_t)strlen(name);
  if (!key) return 0;
  for (int32_t i = 0; i <= qlen; ) {
    int32_t end = i, eq;
    while (end < qlen && q[end] != '&') end++;
    for (eq = i; eq < end && q[eq] != '='; eq++) {}
    if (end > i) {
      memcpy(key, q + i, (size_t)(eq - i));
      if (wfn_url_decode(key, eq - i) == nl && memcmp(key, name, (size_t)nl) == 0) {
        if (seen == want) {
          int32_t vl = eq < end ? end - eq - 1 : 0;
          found = wfn__dup(vl > 0 ? q + eq + 1 : "", vl);
          if (found) wfn_url_decode(found, vl);
        }
        seen++;
      }
    }
    i = end + 1;
  }
  free(key);
  if (count) *count = seen;
  return found;
}

/* The n-th (0-based) value of query parameter `name`, percent-decoded; "" for `?name` with no "="; NULL when absent. */
static inline char *wfn_query_param(const char *name, int32_t n) {
  int32_t qlen = 0;
  char *q = wfn_request_field(WFN_FIELD_QUERY, &qlen);
  if (!q) return 0;
  char *v = n >= 0 ? wfn__query_scan(q, qlen, name, n, 0) : 0;
  free(q);
  return v;
}

/* How many times query parameter `name` occurs (?tag=a&tag=b -> 2). */
static inline int32_t wfn_query_count(const char *name) {
  int32_t qlen = 0, count = 0;
  char *q = wfn_request_field(WFN_FIELD_QUERY, &qlen);
  if (!q) return 0;
  wfn__query_scan(q, qlen, name, -1, &count);
  free(q);
  return count;
}

/* ---- the response ---- */

/* Adds a response header (a repeated name adds another value). */
static inline void wfn_set_header(const char *name, const char *value) {
  wfn_response_header(name, (int32_t)strlen(name), value, (int32_t)strlen(value));
}

/* Status, content-type and body in one call; len < 0 means strlen(body). */
static inline void wfn_respond(int32_t status, const char *content_type, const void *body, int32_t len) {
  len = wfn__len(body, len);
  wfn_response_status(status);
  wfn_set_header("content-type", content_type);
  if (len > 0) wfn_response_body(body, len);
}

static inline void wfn_respond_text(int32_t status, const char *text) {
  wfn_respond(status, "text/plain; charset=utf-8", text, -1);
}

/* Answers a JSON text (e.g. a wfn_json writer's w.buf) as application/json. */
static inline void wfn_respond_json(int32_t status, const char *json) {
  wfn_respond(status, "application/json", json, -1);
}

static inline void wfn_respond_html(int32_t status, const char *html) {
  wfn_respond(status, "text/html; charset=utf-8", html, -1);
}

/* A redirect to url with 301, 302, 303, 307 or 308 (another status gives 302), as the AssemblyScript SDK's Response.redirect. */
static inline void wfn_respond_redirect(const char *url, int32_t status) {
  int ok = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  wfn_response_status(ok ? status : 302);
  wfn_set_header("location", url);
}

/* ---- log ---- */

static inline void wfn_log_str(int32_t level, const char *msg) { wfn_log(level, msg, (int32_t)strlen(msg)); }

/* printf-style log line at a WFN_LOG_* level; it lands in the shim's JSON log with the request id. */
__attribute__((format(printf, 2, 3))) static inline void wfn_logf(int32_t level, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n < (int)sizeof small) { wfn_log(level, small, n); return; }
  char *big = (char *)malloc((size_t)n + 1);
  if (!big) { wfn_log(level, small, (int32_t)sizeof small - 1); return; }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  wfn_log(level, big, n);
  free(big);
}

/* ---- errors ---- */

/* "OK", "CONFLICT", ... for a wfn_err code; "ERROR" for a code this header does not know. */
static inline const char *wfn_err_name(int code) {
  static const char *const names[] = { "OK", "UNKNOWN_OP", "INVALID_ARGUMENT", "NOT_CONFIGURED", "DENIED", "NOT_FOUND",
                                       "CONFLICT", "UNAVAILABLE", "TIMEOUT", "TOO_LARGE", "INTERNAL" };
  return code >= 0 && code < (int)(sizeof names / sizeof names[0]) ? names[code] : "ERROR";
}

/* The ABI error name an HTTP error status stands for: @wasm-fn/abi's errorCodeForStatus table (test/c-sdk.test.ts keeps them equal). */
static inline const char *wfn_code_for_status(int32_t status) {
  switch (status) {
    case 400: case 422: return "INVALID_ARGUMENT";
    case 401: case 403: return "DENIED";
    case 404: return "NOT_FOUND";
    case 409: case 412: return "CONFLICT";
    case 413: case 414: case 431: return "TOO_LARGE";
    case 429: case 503: return "UNAVAILABLE";
    case 408: case 504: return "TIMEOUT";
    case 501: return "UNKNOWN_OP";
    default: return status >= 400 && status < 500 ? "INVALID_ARGUMENT" : "INTERNAL";
  }
}

static inline char **wfn__error_slot(void) {
  static char *message;
  return &message;
}

static inline int wfn__fail(int code, const char *msg, int32_t len) {
  char **slot = wfn__error_slot();
  free(*slot);
  *slot = code == WFN_OK ? 0 : wfn__dup(msg, wfn__len(msg, len));
  return code;
}

/* The host's message for the last failed capability call ("" when the last call succeeded). */
static inline const char *wfn_error_message(void) {
  char *m = *wfn__error_slot();
  return m ? m : "";
}

#include "wasm_fn_list.h"
#include "wasm_fn_json.h"
#include "wasm_fn_capabilities.h"
#endif
