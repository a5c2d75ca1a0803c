/* The byte-string list every capability call takes and returns (packages/abi/src/codec.ts):
 * u32 count, then per item u32 length + bytes, little-endian (wasm32 is little-endian, so a
 * memcpy of a uint32_t is the encoding). Internal to the SDK: names start with wfn__.
 * Include wasm_fn.h, not this file. */
#ifndef WASM_FN_LIST_H
#define WASM_FN_LIST_H
#include "wasm_fn.h"

typedef struct wfn__list { char *buf; int32_t len, cap, count, oom; } wfn__list;

static inline void wfn__list_reserve(wfn__list *l, int32_t more) {
  if (l->oom || l->len + more <= l->cap) return;
  int32_t cap = l->cap * 2 > l->len + more ? l->cap * 2 : l->len + more + 64;
  char *b = (char *)realloc(l->buf, (size_t)cap);
  if (!b) { l->oom = 1; return; }
  l->buf = b;
  l->cap = cap;
}

static inline void wfn__list_init(wfn__list *l) {
  l->buf = 0; l->len = 4; l->cap = 0; l->count = 0; l->oom = 0;
  wfn__list_reserve(l, 124);
}

static inline void wfn__list_bytes(wfn__list *l, const void *p, int32_t n) {
  n = wfn__len(p, n);
  wfn__list_reserve(l, 4 + n);
  if (l->oom) return;
  uint32_t u = (uint32_t)n;
  memcpy(l->buf + l->len, &u, 4);
  if (n > 0) memcpy(l->buf + l->len + 4, p, (size_t)n);
  l->len += 4 + n;
  l->count++;
}

static inline void wfn__list_str(wfn__list *l, const char *s) { wfn__list_bytes(l, s ? s : "", -1); }

/* Writes the count; the list is then l->buf[0..l->len). */
static inline void wfn__list_finish(wfn__list *l) {
  if (l->oom) return;
  uint32_t u = (uint32_t)l->count;
  memcpy(l->buf, &u, 4);
}

/* Adds `inner` (finished here, then freed) as one item: a nested record. */
static inline void wfn__list_nest(wfn__list *l, wfn__list *inner) {
  wfn__list_finish(inner);
  if (inner->oom) l->oom = 1;
  else wfn__list_bytes(l, inner->buf, inner->len);
  free(inner->buf);
}

/* A metadata map, given as a NULL-terminated array of key, value strings, as one nested item. */
static inline void wfn__list_map(wfn__list *l, const char *const *kv) {
  wfn__list m;
  wfn__list_init(&m);
  for (int32_t i = 0; kv && kv[i]; i += 2) {
    wfn__list_str(&m, kv[i]);
    wfn__list_str(&m, kv[i + 1]);
    if (!kv[i + 1]) break;
  }
  wfn__list_nest(l, &m);
}

typedef struct wfn__span { const char *p; int32_t n; } wfn__span;

/* A decoded list: spans into `raw`; `strings` is what copying every item NUL-terminated takes. */
typedef struct wfn__result { char *raw; wfn__span *item; int32_t count, strings; } wfn__result;

/* Decodes b[0..len) into r->item (malloc'd); -1 when the bytes are not a well-formed list. */
static inline int32_t wfn__decode(const char *b, int32_t len, wfn__result *r) {
  uint32_t count, n;
  r->item = 0; r->count = 0; r->strings = 0;
  if (len < 4) return -1;
  memcpy(&count, b, 4);
  if (count > (uint32_t)len) return -1;
  r->item = (wfn__span *)malloc(sizeof(wfn__span) * (count ? count : 1));
  if (!r->item) return -1;
  int32_t at = 4;
  for (uint32_t i = 0; i < count; i++) {
    if (at + 4 > len) return -1;
    memcpy(&n, b + at, 4);
    at += 4;
    if (n > (uint32_t)(len - at)) return -1;
    r->item[i].p = b + at;
    r->item[i].n = (int32_t)n;
    r->strings += (int32_t)n + 1;
    at += (int32_t)n;
  }
  r->count = (int32_t)count;
  return at == len ? r->count : -1;
}

static inline void wfn__result_free(wfn__result *r) {
  free(r->raw);
  free(r->item);
  r->raw = 0;
  r->item = 0;
}

/* The one path to the host: finishes and frees `args`, calls `op`, decodes the result list into r (free it with wfn__result_free). */
static inline int wfn__call_list(int32_t op, wfn__list *args, wfn__result *r) {
  r->raw = 0; r->item = 0; r->count = 0; r->strings = 0;
  wfn__list_finish(args);
  if (args->oom) { free(args->buf); return wfn__fail(WFN_ERR_INTERNAL, "out of memory encoding the call's arguments", -1); }
  int32_t n = wfn_call(op, args->buf, args->len);
  free(args->buf);
  int32_t len = n < 0 ? wfn_result_take(0, 0) : n;
  char *buf = (char *)malloc((size_t)(len > 0 ? len : 0) + 1);
  if (!buf) return wfn__fail(n < 0 ? -n : WFN_ERR_INTERNAL, "out of memory taking the host's answer", -1);
  wfn_result_take(buf, len);
  buf[len > 0 ? len : 0] = 0;
  if (n < 0) {
    int code = wfn__fail(-n, buf, len);
    free(buf);
    return code;
  }
  r->raw = buf;
  if (wfn__decode(buf, len, r) < 0) {
    wfn__result_free(r);
    return wfn__fail(WFN_ERR_INTERNAL, "the host answered a malformed list", -1);
  }
  return wfn__fail(WFN_OK, 0, 0);
}

/* One malloc'd block: a head (the returned struct and its arrays) and the strings after it. */
typedef struct wfn__block { char *base, *at; } wfn__block;

static inline void *wfn__block_new(wfn__block *b, size_t head, int32_t strings) {
  b->base = (char *)calloc(1, head + (size_t)strings + 1);
  b->at = b->base ? b->base + head : 0;
  return b->base;
}

static inline const char *wfn__block_str(wfn__block *b, wfn__span s) {
  char *out = b->at;
  if (s.n > 0) memcpy(out, s.p, (size_t)s.n);
  out[s.n] = 0;
  b->at += s.n + 1;
  return out;
}

static inline int wfn__oom(void) { return wfn__fail(WFN_ERR_INTERNAL, "out of memory", -1); }
#endif
