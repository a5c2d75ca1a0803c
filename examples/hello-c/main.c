// hello-c: the same ABI as the AssemblyScript examples, from C (clang + wasi-libc).
// GET /default/hello-c?name=you -> "hello from C, you"
#include <stdio.h>
#include "wasm_fn.h"

WFN_HANDLER int handle(void) {
  int32_t qlen = 0;
  char *query = wfn_request_field(WFN_FIELD_QUERY, &qlen);
  const char *name = "world";
  if (query && strncmp(query, "name=", 5) == 0 && query[5]) name = query + 5;
  char body[256];
  int n = snprintf(body, sizeof body, "hello from C, %s\n", name);
  wfn_respond(200, "text/plain; charset=utf-8", body, n < (int)sizeof body ? n : (int)sizeof body - 1);
  free(query);
  return WFN_OUTCOME_SUCCESS;
}
