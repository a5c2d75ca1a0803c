/* A small JSON writer and reader, no dependency. The writer escapes what JSON requires (", \ and
 * every control character below 0x20) and passes UTF-8 through as it is (bytes that are not
 * UTF-8 become U+FFFD, so what it writes is always valid JSON).
 * The reader finds a key in an object text and reads a string, number or bool from it; it tells
 * an absent key (WFN_JSON_ABSENT, NULL) from a null one (WFN_JSON_NULL). It copies nothing until
 * asked for a string, so reading a nested value is finding it, then reading inside it.
 * Include wasm_fn.h, not this file. */
#ifndef WASM_FN_JSON_H
#define WASM_FN_JSON_H
#include "wasm_fn.h"

/* ---- writer ---- */

/* A JSON text being written: buf is NUL-terminated at every step; oom is set if memory ran out. */
typedef struct wfn_json { char *buf; int32_t len, cap; int comma, oom; } wfn_json;

static inline void wfn__json_put(wfn_json *w, const char *s, int32_t n) {
  if (w->oom) return;
  if (w->len + n + 1 > w->cap) {
    int32_t cap = w->cap * 2 > w->len + n + 1 ? w->cap * 2 : w->len + n + 64;
    char *b = (char *)realloc(w->buf, (size_t)cap);
    if (!b) { w->oom = 1; return; }
    w->buf = b;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, s, (size_t)n);
  w->len += n;
  w->buf[w->len] = 0;
}

/* A value or key after another one in the same container gets its comma; a key's value does not. */
static inline void wfn__json_sep(wfn_json *w) {
  if (w->comma) wfn__json_put(w, ",", 1);
  w->comma = 1;
}

static inline void wfn_json_init(wfn_json *w) {
  w->buf = 0; w->len = 0; w->cap = 0; w->comma = 0; w->oom = 0;
  wfn__json_put(w, "", 0);
}

static inline void wfn_json_free(wfn_json *w) { free(w->buf); w->buf = 0; w->len = w->cap = 0; }

static inline void wfn_json_object_begin(wfn_json *w) { wfn__json_sep(w); wfn__json_put(w, "{", 1); w->comma = 0; }
static inline void wfn_json_object_end(wfn_json *w) { wfn__json_put(w, "}", 1); w->comma = 1; }
static inline void wfn_json_array_begin(wfn_json *w) { wfn__json_sep(w); wfn__json_put(w, "[", 1); w->comma = 0; }
static inline void wfn_json_array_end(wfn_json *w) { wfn__json_put(w, "]", 1); w->comma = 1; }

/* The length of the valid UTF-8 sequence at s[i] (1 to 4), or minus the length of its longest valid start (at least 1). */
static inline int32_t wfn__utf8_seq(const unsigned char *s, int32_t i, int32_t len) {
  unsigned char c = s[i], lo = 0x80, hi = 0xbf;
  int32_t need;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) need = 1;
  else if (c >= 0xe0 && c <= 0xef) { need = 2; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }  /* no overlong forms, no surrogates */
  else if (c >= 0xf0 && c <= 0xf4) { need = 3; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }  /* nothing past U+10FFFF */
  else return -1;
  for (int32_t k = 1; k <= need; k++, lo = 0x80, hi = 0xbf) {
    if (i + k >= len || s[i + k] < lo || s[i + k] > hi) return -k;
  }
  return need + 1;
}

/* A quoted string: escapes what JSON requires; bytes that are not UTF-8 become U+FFFD (as a
 * WHATWG decoder reads them), so the text stays valid whatever the input (a query parameter can
 * decode to any bytes). */
static inline void wfn__json_quote(wfn_json *w, const char *s, int32_t len) {
  static const char hex[] = "0123456789abcdef";
  int32_t start = 0;
  wfn__json_put(w, "\"", 1);
  for (int32_t i = 0; i < len; ) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x80) {
      int32_t n = wfn__utf8_seq((const unsigned char *)s, i, len);
      if (n > 0) { i += n; continue; }
      wfn__json_put(w, s + start, i - start);
      wfn__json_put(w, "\xef\xbf\xbd", 3);
      i -= n;
      start = i;
      continue;
    }
    if (c != '"' && c != '\\' && c >= 0x20) { i++; continue; }
    wfn__json_put(w, s + start, i - start);
    start = ++i;
    char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
    if (c == '"' || c == '\\') { esc[1] = (char)c; wfn__json_put(w, esc, 2); }
    else if (c == '\n') wfn__json_put(w, "\\n", 2);
    else if (c == '\r') wfn__json_put(w, "\\r", 2);
    else if (c == '\t') wfn__json_put(w, "\\t", 2);
    else if (c == '\b') wfn__json_put(w, "\\b", 2);
    else if (c == '\f') wfn__json_put(w, "\\f", 2);
    else wfn__json_put(w, esc, 6);
  }
  wfn__json_put(w, s + start, len - start);
  wfn__json_put(w, "\"", 1);
}

/* An object key; the next call writes its value. */
static inline void wfn_json_key(wfn_json *w, const char *key) {
  wfn__json_sep(w);
  wfn__json_quote(w, key, (int32_t)strlen(key));
  wfn__json_put(w, ":", 1);
  w->comma = 0;
}

/* A string of len bytes (len < 0: NUL-terminated); NULL writes null. */
static inline void wfn_json_string(wfn_json *w, const char *s, int32_t len) {
  wfn__json_sep(w);
  if (!s) wfn__json_put(w, "null", 4);
  else wfn__json_quote(w, s, wfn__len(s, len));
}

static inline void wfn_json_int(wfn_json *w, int64_t v) {
  char b[24];
  wfn__json_sep(w);
  wfn__json_put(w, b, snprintf(b, sizeof b, "%lld", (long long)v));
}

/* A number in its shortest form that reads back the same; NaN and infinities write null (JSON has neither). */
static inline void wfn_json_number(wfn_json *w, double d) {
  char b[32];
  if (d != d || d - d != 0) { wfn__json_sep(w); wfn__json_put(w, "null", 4); return; }
  if (d < 9007199254740992.0 && d > -9007199254740992.0 && d == (double)(int64_t)d) { wfn_json_int(w, (int64_t)d); return; }
  int n = 0;
  for (int p = 1; p <= 17; p++) { /* the first precision that reads back is the shortest form */
    n = snprintf(b, sizeof b, "%.*g", p, d);
    if (strtod(b, 0) == d) break;
  }
  wfn__json_sep(w);
  wfn__json_put(w, b, n);
}

static inline void wfn_json_bool(wfn_json *w, int b) { wfn__json_sep(w); wfn__json_put(w, b ? "true" : "false", b ? 4 : 5); }
static inline void wfn_json_null(wfn_json *w) { wfn__json_sep(w); wfn__json_put(w, "null", 4); }

/* An already-encoded JSON value (len < 0: NUL-terminated), written as it is. */
static inline void wfn_json_raw(wfn_json *w, const char *json, int32_t len) { wfn__json_sep(w); wfn__json_put(w, json, wfn__len(json, len)); }

/*
 * Answers the error body every wasm-fn error has (docs/troubleshooting.md), as the AssemblyScript
 * SDK's Response.error: {"error":{"code":"NOT_FOUND","message":"no user 7","requestId":"..."}}.
 * code is one of the ABI's error names; NULL follows the status (wfn_code_for_status).
 */
static inline void wfn_respond_error_code(int32_t status, const char *code, const char *message) {
  char *id = wfn_request_field(WFN_FIELD_REQUEST_ID, 0);
  wfn_json w;
  wfn_json_init(&w);
  wfn_json_object_begin(&w);
  wfn_json_key(&w, "error");
  wfn_json_object_begin(&w);
  wfn_json_key(&w, "code"); wfn_json_string(&w, code ? code : wfn_code_for_status(status), -1);
  wfn_json_key(&w, "message"); wfn_json_string(&w, message, -1);
  wfn_json_key(&w, "requestId"); wfn_json_string(&w, id ? id : "", -1);
  wfn_json_object_end(&w);
  wfn_json_object_end(&w);
  if (w.oom) wfn_respond_text(status, message);
  else wfn_respond_json(status, w.buf);
  wfn_json_free(&w);
  free(id);
}

/* The error body with the code the status stands for: wfn_respond_error(404, "no user 7"). */
static inline void wfn_respond_error(int32_t status, const char *message) { wfn_respond_error_code(status, 0, message); }

/* ---- reader ---- */

/* The same numbers as the AssemblyScript SDK's JSON kinds, and ABSENT for a key that is not there. */
typedef enum wfn_json_kind {
  WFN_JSON_ABSENT = -1, WFN_JSON_NULL = 0, WFN_JSON_BOOL = 1, WFN_JSON_NUMBER = 2, WFN_JSON_STRING = 3,
  WFN_JSON_ARRAY = 4, WFN_JSON_OBJECT = 5
} wfn_json_kind;

typedef struct wfn__jp { const char *s; int32_t n, i; } wfn__jp;

static inline void wfn__jws(wfn__jp *p) {
  while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\n' || p->s[p->i] == '\r' || p->s[p->i] == '\t')) p->i++;
}

static inline int wfn__jlit(wfn__jp *p, const char *w, int32_t n) {
  if (p->n - p->i < n || memcmp(p->s + p->i, w, (size_t)n) != 0) return 0;
  p->i += n;
  return 1;
}

/* Skips a string at p->i (a '"'), checking its escapes; 0 when malformed. */
static inline int wfn__jstring(wfn__jp *p) {
  for (p->i++; p->i < p->n; p->i++) {
    unsigned char c = (unsigned char)p->s[p->i];
    if (c == '"') { p->i++; return 1; }
    if (c < 0x20) return 0;
    if (c != '\\') continue;
    if (++p->i >= p->n) return 0;
    c = (unsigned char)p->s[p->i];
    if (c == 'u') {
      if (p->n - p->i < 5) return 0;
      for (int k = 1; k <= 4; k++) if (wfn__hex(p->s[p->i + k]) < 0) return 0;
      p->i += 4;
    } else if (!strchr("\"\\/bfnrt", c) || c == 0) return 0;
  }
  return 0;
}

static inline int wfn__jdigits(wfn__jp *p) {
  int32_t start = p->i;
  while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') p->i++;
  return p->i > start;
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static inline int wfn__jnumber(wfn__jp *p) {
  if (p->i < p->n && p->s[p->i] == '-') p->i++;
  if (p->i < p->n && p->s[p->i] == '0') p->i++;
  else if (!wfn__jdigits(p)) return 0;
  if (p->i < p->n && p->s[p->i] == '.') { p->i++; if (!wfn__jdigits(p)) return 0; }
  if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
    p->i++;
    if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) p->i++;
    if (!wfn__jdigits(p)) return 0;
  }
  return 1;
}

/* Skips one value, checking its syntax; nesting deeper than 128 counts as malformed (the stack is small). */
static inline int wfn__jvalue(wfn__jp *p, int depth) {
  if (p->i >= p->n || depth > 128) return 0;
  char c = p->s[p->i];
  if (c == '"') return wfn__jstring(p);
  if (c == 't') return wfn__jlit(p, "true", 4);
  if (c == 'f') return wfn__jlit(p, "false", 5);
  if (c == 'n') return wfn__jlit(p, "null", 4);
  if (c != '{' && c != '[') return wfn__jnumber(p);
  char close = c == '{' ? '}' : ']';
  p->i++;
  wfn__jws(p);
  if (p->i < p->n && p->s[p->i] == close) { p->i++; return 1; }
  for (;;) {
    wfn__jws(p);
    if (c == '{') {
      if (p->i >= p->n || p->s[p->i] != '"' || !wfn__jstring(p)) return 0;
      wfn__jws(p);
      if (p->i >= p->n || p->s[p->i++] != ':') return 0;
      wfn__jws(p);
    }
    if (!wfn__jvalue(p, depth + 1)) return 0;
    wfn__jws(p);
    if (p->i >= p->n) return 0;
    char d = p->s[p->i++];
    if (d == close) return 1;
    if (d != ',') return 0;
  }
}

static inline char *wfn__utf8(char *o, uint32_t cp) {
  if (cp < 0x80) *o++ = (char)cp;
  else if (cp < 0x800) { *o++ = (char)(0xc0 | cp >> 6); *o++ = (char)(0x80 | (cp & 63)); }
  else if (cp < 0x10000) { *o++ = (char)(0xe0 | cp >> 12); *o++ = (char)(0x80 | (cp >> 6 & 63)); *o++ = (char)(0x80 | (cp & 63)); }
  else { *o++ = (char)(0xf0 | cp >> 18); *o++ = (char)(0x80 | (cp >> 12 & 63)); *o++ = (char)(0x80 | (cp >> 6 & 63)); *o++ = (char)(0x80 | (cp & 63)); }
  return o;
}

static inline uint32_t wfn__jhex4(const char *s) {
  return (uint32_t)(wfn__hex(s[0]) << 12 | wfn__hex(s[1]) << 8 | wfn__hex(s[2]) << 4 | wfn__hex(s[3]));
}

/* Decodes a checked string literal s[0..n) (quotes included) into a new NUL-terminated UTF-8 string; *len its length. */
static inline char *wfn__jdecode(const char *s, int32_t n, int32_t *len) {
  char *out = (char *)malloc((size_t)n + 1), *o = out; /* an escape never decodes longer than it is written */
  if (!out) return 0;
  for (int32_t i = 1; i < n - 1; i++) {
    if (s[i] != '\\') { *o++ = s[i]; continue; }
    char e = s[++i];
    if (e != 'u') { *o++ = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == 'b' ? '\b' : e == 'f' ? '\f' : e; continue; }
    uint32_t cp = wfn__jhex4(s + i + 1);
    i += 4;
    if (cp >= 0xd800 && cp < 0xdc00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
      uint32_t lo = wfn__jhex4(s + i + 3);
      if (lo >= 0xdc00 && lo < 0xe000) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); i += 6; }
    }
    if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd; /* a lone surrogate is not UTF-8 */
    o = wfn__utf8(o, cp);
  }
  *o = 0;
  if (len) *len = (int32_t)(o - out);
  return out;
}

/*
 * The text of `key`'s value in the JSON object json[0..len) (len < 0: NUL-terminated), with *vlen
 * its length; key NULL means the whole text. NULL when the key is absent or the text is not JSON.
 * The last of repeated keys wins (as in JavaScript).
 */
static inline const char *wfn_json_find(const char *json, int32_t len, const char *key, int32_t *vlen) {
  wfn__jp p = { json, wfn__len(json, len), 0 };
  const char *found = 0;
  int32_t flen = 0, klen = key ? (int32_t)strlen(key) : 0;
  if (vlen) *vlen = 0;
  if (!json) return 0;
  wfn__jws(&p);
  if (!key) {
    int32_t start = p.i;
    if (!wfn__jvalue(&p, 0)) return 0;
    found = json + start;
    flen = p.i - start;
  } else {
    if (p.i >= p.n || json[p.i] != '{') return 0;
    p.i++;
    wfn__jws(&p);
    if (p.i < p.n && json[p.i] == '}') p.i++;
    else for (;;) {
      wfn__jws(&p);
      int32_t ks = p.i;
      if (p.i >= p.n || json[p.i] != '"' || !wfn__jstring(&p)) return 0;
      int32_t ke = p.i, dl = 0;
      /* Most keys have no escape: compare them in place; decode the others. */
      int same = 0;
      if (!memchr(json + ks, '\\', (size_t)(ke - ks))) same = ke - ks - 2 == klen && memcmp(json + ks + 1, key, (size_t)klen) == 0;
      else { char *d = wfn__jdecode(json + ks, ke - ks, &dl); same = d && dl == klen && memcmp(d, key, (size_t)klen) == 0; free(d); }
      wfn__jws(&p);
      if (p.i >= p.n || json[p.i++] != ':') return 0;
      wfn__jws(&p);
      int32_t vs = p.i;
      if (!wfn__jvalue(&p, 1)) return 0;
      if (same) { found = json + vs; flen = p.i - vs; }
      wfn__jws(&p);
      if (p.i >= p.n) return 0;
      char d = json[p.i++];
      if (d == '}') break;
      if (d != ',') return 0;
    }
  }
  wfn__jws(&p);
  if (p.i != p.n) return 0;
  if (found && vlen) *vlen = flen;
  return found;
}

/* What `key` holds (key NULL: the whole text): WFN_JSON_ABSENT when it is not there (or the text is not JSON). */
static inline wfn_json_kind wfn_json_get_kind(const char *json, int32_t len, const char *key) {
  const char *v = wfn_json_find(json, len, key, 0);
  if (!v) return WFN_JSON_ABSENT;
  switch (*v) {
    case 'n': return WFN_JSON_NULL;
    case 't': case 'f': return WFN_JSON_BOOL;
    case '"': return WFN_JSON_STRING;
    case '[': return WFN_JSON_ARRAY;
    case '{': return WFN_JSON_OBJECT;
    default: return WFN_JSON_NUMBER;
  }
}

/* A string value, decoded (escapes, \u surrogate pairs) into a new UTF-8 string; NULL when absent or not a string. */
static inline char *wfn_json_get_string(const char *json, int32_t len, const char *key) {
  int32_t vl = 0;
  const char *v = wfn_json_find(json, len, key, &vl);
  return v && *v == '"' ? wfn__jdecode(v, vl, 0) : 0;
}

/* 1 and *out set when the value is a number; 0 when absent or not a number. */
static inline int wfn_json_get_number(const char *json, int32_t len, const char *key, double *out) {
  int32_t vl = 0;
  const char *v = wfn_json_find(json, len, key, &vl);
  if (!v || !(*v == '-' || (*v >= '0' && *v <= '9'))) return 0;
  char *t = wfn__dup(v, vl); /* strtod must not read past the value */
  if (!t) return 0;
  *out = strtod(t, 0);
  free(t);
  return 1;
}

/* 1 and *out set (0 or 1) when the value is true or false; 0 otherwise. */
static inline int wfn_json_get_bool(const char *json, int32_t len, const char *key, int *out) {
  const char *v = wfn_json_find(json, len, key, 0);
  if (!v || (*v != 't' && *v != 'f')) return 0;
  *out = *v == 't';
  return 1;
}

/* The text of the index-th (0-based) element of the JSON array json[0..len), with *vlen its length; NULL when out of range. */
static inline const char *wfn_json_at(const char *json, int32_t len, int32_t index, int32_t *vlen) {
  int32_t all = 0;
  const char *arr = wfn_json_find(json, len, 0, &all);
  wfn__jp p = { arr, all, 1 };
  if (vlen) *vlen = 0;
  if (!arr || *arr != '[') return 0;
  for (int32_t k = 0; ; k++) {
    wfn__jws(&p);
    if (p.i >= p.n || arr[p.i] == ']') return 0;
    int32_t start = p.i;
    wfn__jvalue(&p, 1);
    if (k == index) { if (vlen) *vlen = p.i - start; return arr + start; }
    wfn__jws(&p);
    p.i++; /* the comma: the text was checked by wfn_json_find */
  }
}
#endif
