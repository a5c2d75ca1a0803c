// hello-c: the same ABI as the AssemblyScript examples, from C (clang + wasi-libc) with the C SDK
// (packages/sdk/include/wasm_fn.h, reference: docs/sdk-c.md).
// GET /default/hello-c?name=you -> "hello from C, you"
#include "wasm_fn.h"

WFN_HANDLER int handle(void) {
  char *name = wfn_query_param("name", 0);  // percent-decoded; NULL when absent; ours to free
  char body[256];
  int n = snprintf(body, sizeof body, "hello from C, %s\n", name && name[0] ? name : "world");
  wfn_respond(200, "text/plain; charset=utf-8", body, n < (int)sizeof body ? n : (int)sizeof body - 1);
  free(name);
  return WFN_OUTCOME_SUCCESS;
}
