/* Host capabilities: state, pub/sub, output bindings, service invocation, secrets, configuration and
 * outbound HTTP. Each call is synchronous from the handler's view (the host suspends the instance
 * while it does the I/O) and returns WFN_OK or an ABI error code (wfn_err), with the host's
 * message in wfn_error_message(). What comes back through an out pointer is one malloc'd block:
 * free() it. Metadata and key lists in are NULL-terminated arrays:
 *   const char *meta[] = { "ttlInSeconds", "60", NULL };
 * Include wasm_fn.h, not this file. */
#ifndef WASM_FN_CAPABILITIES_H
#define WASM_FN_CAPABILITIES_H
#include "wasm_fn.h"

/* A state item: value (value_len bytes, NUL after) and its etag; key is the key asked for. */
typedef struct wfn_state_item { const char *key; const char *value; int32_t value_len; const char *etag; } wfn_state_item;
/* Bulk get's answer: one item per key asked, in order (an absent key has value_len 0 and etag ""). */
typedef struct wfn_state_items { int32_t count; wfn_state_item item[]; } wfn_state_items;
/* One operation of a state transaction; metadata may be NULL. */
typedef enum wfn_state_op_kind { WFN_STATE_UPSERT = 0, WFN_STATE_DELETE = 1 } wfn_state_op_kind;
typedef struct wfn_state_op {
  wfn_state_op_kind kind; const char *key; const void *value; int32_t value_len; const char *etag; const char *const *metadata;
} wfn_state_op;
/* Name/value pairs: a secret's values, a binding's response metadata. */
typedef struct wfn_pair { const char *key; const char *value; } wfn_pair;
typedef struct wfn_pairs { int32_t count; wfn_pair item[]; } wfn_pairs;
typedef struct wfn_binding_response { const char *data; int32_t data_len; wfn_pairs *metadata; } wfn_binding_response;
typedef struct wfn_invoke_response { int32_t status; const char *body; int32_t body_len; const char *content_type; } wfn_invoke_response;
typedef struct wfn_config_item { const char *key; const char *value; const char *version; } wfn_config_item;
/* The configuration items that exist, of those asked for. */
typedef struct wfn_config_items { int32_t count; wfn_config_item item[]; } wfn_config_items;
/* headers are "name: value\n" lines, names lower-cased. */
typedef struct wfn_fetch_response { int32_t status; const char *headers; const char *body; int32_t body_len; } wfn_fetch_response;

static inline void wfn__args2(wfn__list *l, const char *a, const char *b) {
  wfn__list_init(l);
  wfn__list_str(l, a);
  wfn__list_str(l, b);
}

/* A call whose answer carries nothing: just its code. */
static inline int wfn__call_void(int32_t op, wfn__list *args) {
  wfn__result r;
  int rc = wfn__call_list(op, args, &r);
  wfn__result_free(&r);
  return rc;
}

/* (store, key1, key2, ...): the arguments of bulk get and configuration get. */
static inline int wfn__call_keys(int32_t op, const char *store, const char *const *keys, wfn__result *r) {
  wfn__list a;
  wfn__list_init(&a);
  wfn__list_str(&a, store);
  for (int32_t i = 0; keys && keys[i]; i++) wfn__list_str(&a, keys[i]);
  return wfn__call_list(op, &a, r);
}

/* ---- state ---- */

/* Reads a key: *out is NULL when the key is absent. */
static inline int wfn_state_get(const char *store, const char *key, wfn_state_item **out) {
  wfn__list a;
  wfn__result r;
  wfn__block b;
  *out = 0;
  wfn__args2(&a, store, key);
  int rc = wfn__call_list(WFN_OP_STATE_GET, &a, &r);
  if (rc == WFN_OK && r.count >= 2) {
    wfn_state_item *it = (wfn_state_item *)wfn__block_new(&b, sizeof *it, r.strings + (int32_t)strlen(key) + 1);
    if (!it) rc = wfn__oom();
    else {
      it->key = wfn__block_str(&b, (wfn__span){ key, (int32_t)strlen(key) });
      it->value = wfn__block_str(&b, r.item[0]);
      it->value_len = r.item[0].n;
      it->etag = wfn__block_str(&b, r.item[1]);
      *out = it;
    }
  }
  wfn__result_free(&r);
  return rc;
}

/* Saves a key. etag NULL or "": last write wins; else the write succeeds only if nobody wrote since (WFN_ERR_CONFLICT). */
static inline int wfn_state_set(const char *store, const char *key, const void *value, int32_t len, const char *etag, const char *const *metadata) {
  wfn__list a;
  wfn__args2(&a, store, key);
  wfn__list_bytes(&a, value, len);
  wfn__list_str(&a, etag);
  wfn__list_map(&a, metadata);
  return wfn__call_void(WFN_OP_STATE_SAVE, &a);
}

/* Creates a key only if it does not exist yet (first-write without an etag): WFN_ERR_CONFLICT when it does. */
static inline int wfn_state_create(const char *store, const char *key, const void *value, int32_t len) {
  const char *const meta[] = { "concurrency", "first-write", 0 };
  return wfn_state_set(store, key, value, len, 0, meta);
}

/* Saves a key that expires after ttl_seconds. */
static inline int wfn_state_set_ttl(const char *store, const char *key, const void *value, int32_t len, int32_t ttl_seconds) {
  char ttl[16];
  snprintf(ttl, sizeof ttl, "%d", (int)ttl_seconds);
  const char *const meta[] = { "ttlInSeconds", ttl, 0 };
  return wfn_state_set(store, key, value, len, 0, meta);
}

/* Deletes a key; with an etag only if nobody wrote since (WFN_ERR_CONFLICT). */
static inline int wfn_state_delete(const char *store, const char *key, const char *etag) {
  wfn__list a;
  wfn__args2(&a, store, key);
  wfn__list_str(&a, etag);
  wfn__list_map(&a, 0);
  return wfn__call_void(WFN_OP_STATE_DELETE, &a);
}

/* Reads many keys (a NULL-terminated array) at once. */
static inline int wfn_state_get_bulk(const char *store, const char *const *keys, wfn_state_items **out) {
  wfn__result r;
  wfn__block b;
  int rc = wfn__call_keys(WFN_OP_STATE_BULK_GET, store, keys, &r);
  int32_t n = r.count / 3;
  wfn_state_items *s = rc == WFN_OK ? (wfn_state_items *)wfn__block_new(&b, sizeof *s + sizeof(wfn_state_item) * (size_t)n, r.strings) : 0;
  if (rc == WFN_OK && !s) rc = wfn__oom();
  for (int32_t i = 0; s && i < n; i++) {
    const wfn__span *t = r.item + 3 * i;
    s->item[i].key = wfn__block_str(&b, t[0]);
    s->item[i].value = wfn__block_str(&b, t[1]);
    s->item[i].value_len = t[1].n;
    s->item[i].etag = wfn__block_str(&b, t[2]);
  }
  if (s) s->count = n;
  *out = s;
  wfn__result_free(&r);
  return rc;
}

/* Applies upserts and deletes together. */
static inline int wfn_state_transact(const char *store, const wfn_state_op *ops, int32_t count) {
  wfn__list a, op;
  wfn__list_init(&a);
  wfn__list_str(&a, store);
  for (int32_t i = 0; i < count; i++) {
    wfn__list_init(&op);
    wfn__list_str(&op, ops[i].kind == WFN_STATE_DELETE ? "delete" : "upsert");
    wfn__list_str(&op, ops[i].key);
    wfn__list_bytes(&op, ops[i].kind == WFN_STATE_DELETE ? "" : ops[i].value, ops[i].kind == WFN_STATE_DELETE ? 0 : ops[i].value_len);
    wfn__list_str(&op, ops[i].etag);
    wfn__list_map(&op, ops[i].metadata);
    wfn__list_nest(&a, &op);
  }
  return wfn__call_void(WFN_OP_STATE_TRANSACT, &a);
}

/* ---- pub/sub, bindings, invocation ---- */

/* Publishes data to a topic (content_type NULL = application/json; metadata may be NULL, e.g. { "rawPayload", "true", NULL }). */
static inline int wfn_publish(const char *pubsub, const char *topic, const void *data, int32_t len, const char *content_type, const char *const *metadata) {
  wfn__list a;
  wfn__args2(&a, pubsub, topic);
  wfn__list_bytes(&a, data, len);
  wfn__list_str(&a, content_type ? content_type : "application/json");
  wfn__list_map(&a, metadata);
  return wfn__call_void(WFN_OP_PUBLISH, &a);
}

/* Decodes a nested name/value list into `p` (count pairs); returns the pairs' count, -1 when malformed. */
static inline int32_t wfn__pairs_fill(wfn__block *b, wfn_pairs *p, const wfn__result *m) {
  p->count = m->count / 2;
  for (int32_t i = 0; i < p->count; i++) {
    p->item[i].key = wfn__block_str(b, m->item[2 * i]);
    p->item[i].value = wfn__block_str(b, m->item[2 * i + 1]);
  }
  return p->count;
}

/* Invokes an output binding, e.g. ("sink", "post", body, -1, { "path", "/hook", NULL }, &res). out may be NULL. */
static inline int wfn_binding_invoke(const char *name, const char *operation, const void *data, int32_t len, const char *const *metadata, wfn_binding_response **out) {
  wfn__list a;
  wfn__result r, m = { 0, 0, 0, 0 };
  wfn__block b;
  if (out) *out = 0;
  wfn__args2(&a, name, operation);
  wfn__list_bytes(&a, data, len);
  wfn__list_map(&a, metadata);
  int rc = wfn__call_list(WFN_OP_BINDING_INVOKE, &a, &r);
  if (rc == WFN_OK && out) {
    wfn__span data_out = r.count > 0 ? r.item[0] : (wfn__span){ "", 0 };
    if (r.count > 1 && r.item[1].n > 0 && wfn__decode(r.item[1].p, r.item[1].n, &m) < 0) m.count = 0;
    int32_t pairs = m.count / 2;
    size_t head = sizeof(wfn_binding_response) + sizeof(wfn_pairs) + sizeof(wfn_pair) * (size_t)pairs;
    wfn_binding_response *res = (wfn_binding_response *)wfn__block_new(&b, head, data_out.n + 1 + m.strings);
    if (!res) rc = wfn__oom();
    else {
      res->metadata = (wfn_pairs *)(void *)(res + 1);
      wfn__pairs_fill(&b, res->metadata, &m);
      res->data = wfn__block_str(&b, data_out);
      res->data_len = data_out.n;
      *out = res;
    }
  }
  free(m.item);
  wfn__result_free(&r);
  return rc;
}

/* The value of `key` in pairs, or NULL. */
static inline const char *wfn_pairs_get(const wfn_pairs *p, const char *key) {
  for (int32_t i = 0; p && i < p->count; i++) if (strcmp(p->item[i].key, key) == 0) return p->item[i].value;
  return 0;
}

/* Calls a method of another app (or another function of this shim, by app id). verb NULL = POST, content_type NULL = application/json; out may be NULL. */
static inline int wfn_invoke(const char *app_id, const char *method, const char *verb, const void *data, int32_t len, const char *content_type, wfn_invoke_response **out) {
  wfn__list a;
  wfn__result r;
  wfn__block b;
  if (out) *out = 0;
  wfn__args2(&a, app_id, method);
  wfn__list_str(&a, verb ? verb : "POST");
  wfn__list_bytes(&a, data, len);
  wfn__list_str(&a, content_type ? content_type : "application/json");
  int rc = wfn__call_list(WFN_OP_INVOKE, &a, &r);
  if (rc == WFN_OK && r.count < 3) rc = wfn__fail(WFN_ERR_INTERNAL, "short invoke result", -1);
  if (rc == WFN_OK && out) {
    wfn_invoke_response *res = (wfn_invoke_response *)wfn__block_new(&b, sizeof *res, r.strings);
    if (!res) rc = wfn__oom();
    else {
      res->status = atoi(wfn__block_str(&b, r.item[0]));
      res->body = wfn__block_str(&b, r.item[1]);
      res->body_len = r.item[1].n;
      res->content_type = wfn__block_str(&b, r.item[2]);
      *out = res;
    }
  }
  wfn__result_free(&r);
  return rc;
}

/* ---- secrets, configuration, outbound HTTP ---- */

/* Reads a secret; a secret may hold several named values (wfn_pairs_get(s, "db-password")). */
static inline int wfn_secret_get(const char *store, const char *key, wfn_pairs **out) {
  wfn__list a;
  wfn__result r;
  wfn__block b;
  *out = 0;
  wfn__args2(&a, store, key);
  wfn__list_map(&a, 0);
  int rc = wfn__call_list(WFN_OP_SECRET_GET, &a, &r);
  if (rc == WFN_OK) {
    wfn_pairs *p = (wfn_pairs *)wfn__block_new(&b, sizeof(wfn_pairs) + sizeof(wfn_pair) * (size_t)(r.count / 2), r.strings);
    if (!p) rc = wfn__oom();
    else { wfn__pairs_fill(&b, p, &r); *out = p; }
  }
  wfn__result_free(&r);
  return rc;
}

/* Reads configuration items (keys: a NULL-terminated array); absent keys are left out. */
static inline int wfn_config_get(const char *store, const char *const *keys, wfn_config_items **out) {
  wfn__result r;
  wfn__block b;
  int rc = wfn__call_keys(WFN_OP_CONFIG_GET, store, keys, &r);
  int32_t n = r.count / 3;
  wfn_config_items *c = rc == WFN_OK ? (wfn_config_items *)wfn__block_new(&b, sizeof *c + sizeof(wfn_config_item) * (size_t)n, r.strings) : 0;
  if (rc == WFN_OK && !c) rc = wfn__oom();
  for (int32_t i = 0; c && i < n; i++) {
    const wfn__span *t = r.item + 3 * i;
    c->item[i].key = wfn__block_str(&b, t[0]);
    c->item[i].value = wfn__block_str(&b, t[1]);
    c->item[i].version = wfn__block_str(&b, t[2]);
  }
  if (c) c->count = n;
  *out = c;
  wfn__result_free(&r);
  return rc;
}

/* Outbound HTTP (method NULL = GET; headers: "name: value\n" lines or NULL). WFN_ERR_DENIED unless the function's permissions.hosts allows the host. */
static inline int wfn_http_fetch(const char *method, const char *url, const char *headers, const void *body, int32_t len, wfn_fetch_response **out) {
  wfn__list a;
  wfn__result r;
  wfn__block b;
  *out = 0;
  wfn__args2(&a, method ? method : "GET", url);
  wfn__list_str(&a, headers);
  wfn__list_bytes(&a, body, len);
  int rc = wfn__call_list(WFN_OP_HTTP_FETCH, &a, &r);
  if (rc == WFN_OK && r.count < 3) rc = wfn__fail(WFN_ERR_INTERNAL, "short fetch result", -1);
  if (rc == WFN_OK) {
    wfn_fetch_response *res = (wfn_fetch_response *)wfn__block_new(&b, sizeof *res, r.strings);
    if (!res) rc = wfn__oom();
    else {
      res->status = atoi(wfn__block_str(&b, r.item[0]));
      res->headers = wfn__block_str(&b, r.item[1]);
      res->body = wfn__block_str(&b, r.item[2]);
      res->body_len = r.item[2].n;
      *out = res;
    }
  }
  wfn__result_free(&r);
  return rc;
}
#endif
